// `metatpt status`: the collections and runs in a database, or one run in detail.
import { existsSync } from 'node:fs';
import { databasePath } from '../../backend/paths.js';
import { openStore, type Run, type Store } from '../../backend/store/index.js';
import { evaluateRun } from '../../backend/services/evaluation.js';
import { stage2Need, stage2Status } from '../../backend/services/stage2.js';
import { parseId } from '../args.js';
import { defineCommand } from '../command.js';
import { evaluationTable } from './evaluate.js';
import { tableRow, type Column, type CommandIo } from '../format.js';

interface StatusOptions {
  db?: string;
  run?: string;
  json?: boolean;
}

const runColumns: Column[] = [
  { width: 4, align: 'right' },
  { width: 10 },
  { width: 9 },
  { width: 10 },
  { width: 17, align: 'right' },
  { width: 0 },
];

const progressText = (run: Run) =>
  `${run.done}/${run.total}${run.failed > 0 ? ` (${run.failed} failed)` : ''}`;

function overview(store: Store, io: CommandIo, json: boolean): void {
  const collections = store.collections
    .list()
    .map((c) => ({ ...c, images: store.images.countByStatus(c.id), labels: store.labels.countsIn(c.id) }));
  const runs = store.runs.list();
  if (json) {
    // Self-TPT's adaptation of each class set to its classes: 'ready' or 'stale' as stored (a job
    // queued or running in an open workbench is not visible from here).
    const selfTptStage2 = store.classSets.list().flatMap((classSet) =>
      store.models.list().flatMap((model) => {
        const need = stage2Need(store, classSet.id, model.id);
        return need ? [stage2Status(need)] : [];
      }),
    );
    io.stdout(`${JSON.stringify({ collections, runs, selfTptStage2 })}\n`);
    return;
  }
  io.stdout(collections.length === 0 ? 'no collections\n' : 'collections:\n');
  for (const c of collections) {
    const { ok, error, missing } = c.images;
    const { reviewed, imported } = c.labels;
    io.stdout(
      `  ${c.id}  ${c.name}  ${c.root}  (${ok} images, ${error} errors, ${missing} missing; ` +
        `${reviewed} reviewed, ${imported} imported labels)\n`,
    );
  }
  if (runs.length === 0) return;
  io.stdout('runs:\n');
  io.stdout(`  ${tableRow(['id', 'collection', 'method', 'status', 'done', 'device'], runColumns)}\n`);
  for (const run of runs) {
    const cells = [
      String(run.id),
      String(run.collectionId),
      run.method,
      run.status,
      progressText(run),
      run.device ?? '',
    ];
    io.stdout(`  ${tableRow(cells, runColumns)}\n`);
  }
}

function runDetail(store: Store, io: CommandIo, runId: number, json: boolean): void {
  const run = store.runs.require(runId);
  const failedItems = store.runs.items(runId, { state: 'failed', limit: 20 });
  const evaluation = evaluateRun(store, runId);
  if (json) {
    io.stdout(`${JSON.stringify({ run, failedItems, evaluation })}\n`);
    return;
  }
  io.stdout(
    `run ${run.id}: ${run.method} on collection ${run.collectionId}, class set ${run.classSetId}, model ${run.modelId}\n` +
      `  status ${run.status}, ${progressText(run)}, device ${run.device ?? 'not yet known'}\n` +
      (run.error ? `  error: ${run.error}\n` : '') +
      failedItems.map((item) => `  failed: ${item.relPath}: ${item.error}\n`).join('') +
      (run.failed > failedItems.length ? `  ... and ${run.failed - failedItems.length} more failed\n` : ''),
  );
  if (evaluation.comparison) io.stdout(`${evaluationTable([evaluation])}\n`);
}

async function status(values: StatusOptions, _args: string[], io: CommandIo): Promise<number> {
  const dbPath = databasePath(values.db);
  // Reading status must not create an empty database where the user mistyped the path.
  if (!existsSync(dbPath)) throw new Error(`${dbPath}: no such database`);
  const store = openStore(dbPath);
  try {
    if (values.run === undefined) overview(store, io, values.json === true);
    else runDetail(store, io, parseId(values.run, 'run'), values.json === true);
    return 0;
  } finally {
    store.close();
  }
}

export const statusCommand = defineCommand<StatusOptions>({
  name: 'status',
  summary: 'show the collections and runs in a database, or one run',
  define: (command) =>
    command
      .option('--db <file>', "the workbench database (default: the desktop app's)")
      .option(
        '--run <id>',
        'one run: its counts, device, error, failed images, and its evaluation against the labels of its images (see metatpt evaluate)',
      )
      .option('--json', 'print JSON'),
  run: status,
});
