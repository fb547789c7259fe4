// `metatpt predictions`: a run's results, one image per line (JSON lines or a table), in image order.
import { existsSync } from 'node:fs';
import { toAbsolute } from '../../backend/library/files.js';
import { databasePath } from '../../backend/paths.js';
import { openStore, type RunItem, type Store } from '../../backend/store/index.js';
import { parseId } from '../args.js';
import { defineCommand } from '../command.js';
import { tableRow, type Column, type CommandIo } from '../format.js';

interface PredictionsOptions {
  db?: string;
  run?: string;
  json?: boolean;
}

const PAGE = 1000;

/** The table's columns; the path goes last, where its length does not push the others. */
const tableColumns = (classNames: string[]): Column[] => [
  { width: Math.max(5, ...classNames.map((name) => name.length)) },
  { width: 10, align: 'right' },
  { width: 8, align: 'right' },
  { width: 7 },
  { width: 0 },
];

/** Every processed item of a run, page by page, so a large run is never held in memory at once. */
function* processedItems(store: Store, runId: number): Generator<RunItem> {
  for (let offset = 0; ; offset += PAGE) {
    const page = store.runs.items(runId, { offset, limit: PAGE });
    for (const item of page) if (item.state !== 'pending') yield item;
    if (page.length < PAGE) return;
  }
}

async function predictions(values: PredictionsOptions, _args: string[], io: CommandIo): Promise<number> {
  const runId = parseId(values.run, 'run');
  const file = databasePath(values.db);
  if (!existsSync(file)) throw new Error(`${file}: no such database`);
  const store = openStore(file);
  try {
    const run = store.runs.require(runId);
    const root = store.collections.require(run.collectionId).root;
    const classNames = store.classSets.require(run.classSetId).classes.map((c) => c.name);
    const columns = tableColumns(classNames);
    if (!values.json) {
      io.stdout(`${tableRow(['label', 'confidence', 'entropy', 'adapted', 'path'], columns)}\n`);
    }
    for (const item of processedItems(store, runId)) {
      const path = toAbsolute(root, item.relPath);
      const prediction = item.state === 'done' ? store.results.prediction(runId, item.imageId) : undefined;
      if (values.json) {
        const record = prediction
          ? {
              path,
              imageId: item.imageId,
              label: classNames[prediction.label],
              probs: Object.fromEntries(classNames.map((name, i) => [name, prediction.probs[i]])),
              entropy: prediction.entropy,
              adapted: prediction.adapted,
              zeroShotLabel: classNames[prediction.zeroShotLabel],
              zeroShotEntropy: prediction.zeroShotEntropy,
            }
          : { path, imageId: item.imageId, error: item.error ?? 'no result stored' };
        io.stdout(`${JSON.stringify(record)}\n`);
      } else if (prediction) {
        const cells = [
          classNames[prediction.label],
          prediction.confidence.toFixed(3),
          prediction.entropy.toFixed(3),
          prediction.adapted ? 'yes' : 'no',
          item.relPath,
        ];
        io.stdout(`${tableRow(cells, columns)}\n`);
      } else {
        io.stdout(
          `${tableRow(['(failed)', '', '', '', `${item.relPath}: ${item.error ?? 'no result stored'}`], columns)}\n`,
        );
      }
    }
    return 0;
  } finally {
    store.close();
  }
}

export const predictionsCommand = defineCommand<PredictionsOptions>({
  name: 'predictions',
  summary: "print a run's results, one image per line",
  define: (command) =>
    command
      .option('--db <file>', "the workbench database (default: the desktop app's)")
      .option('--run <id>', 'the run whose results to print')
      .option(
        '--json',
        'one object per image and line: {"path","label","probs","entropy","adapted",...}; images ' +
          'that failed are {"path","error"}; images not processed yet are left out',
      ),
  run: predictions,
});
