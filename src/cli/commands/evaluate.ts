// `metatpt evaluate`: runs against labels, each compared with its zero-shot predictions (accuracy with
// its 95 % interval, images fixed and broken with McNemar's exact p, calibration error, time per image).
import { existsSync } from 'node:fs';
import { databasePath } from '../../backend/paths.js';
import { evaluateRun } from '../../backend/services/evaluation.js';
import { openStore } from '../../backend/store/index.js';
import { ECE_BINS, formatPValue, LABEL_KINDS, type Interval } from '../../shared/domain/evaluation.js';
import { oneOf, parseId } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { tableRow, type Column, type CommandIo } from '../format.js';
import type { RunEvaluation } from '../../shared/domain/runs.js';

interface EvaluateOptions {
  db?: string;
  run: string[];
  against: string;
  json?: boolean;
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const interval = ({ low, high }: Interval) => `${(100 * low).toFixed(1)}–${(100 * high).toFixed(1)}`;
// As the Runs view shows them: one decimal below 10 ms.
const ms = (x: number | null | undefined) =>
  x === null || x === undefined ? '–' : x.toFixed(x < 10 ? 1 : 0);

const header = [
  'run',
  'method',
  'labelled',
  'accuracy',
  '95% CI',
  'zero-shot',
  '95% CI',
  'fixed',
  'broken',
  'p',
  'ECE',
  'zs ECE',
  'ms/img',
  'zs ms/img',
];
const columns: Column[] = [
  { width: 4, align: 'right' },
  { width: 8 },
  { width: 8, align: 'right' },
  { width: 8, align: 'right' },
  { width: 9 },
  { width: 9, align: 'right' },
  { width: 9 },
  { width: 5, align: 'right' },
  { width: 6, align: 'right' },
  { width: 7, align: 'right' },
  { width: 6, align: 'right' },
  { width: 6, align: 'right' },
  { width: 6, align: 'right' },
  { width: 9, align: 'right' },
];

/** One table row; a run without labelled images shows its counts and dashes. */
function row(e: RunEvaluation): string {
  const c = e.comparison;
  const cells = [
    String(e.runId),
    e.method,
    `${e.labelled}/${e.results}`,
    ...(c
      ? [
          percent(c.run.accuracy),
          interval(c.run.accuracyCi),
          percent(c.baseline.accuracy),
          interval(c.baseline.accuracyCi),
          String(c.fixed),
          String(c.broken),
          formatPValue(c.mcnemarP),
          c.run.ece.toFixed(3),
          c.baseline.ece.toFixed(3),
        ]
      : Array<string>(9).fill('–')),
    ms(e.time?.msPerImage),
    ms(e.time?.zeroShotMsPerImage),
  ];
  return tableRow(cells, columns);
}

/** The evaluations as an aligned table with a line saying what was compared. */
export function evaluationTable(evaluations: readonly RunEvaluation[]): string {
  const against = evaluations[0]?.against ?? 'all';
  return [
    `against ${against} labels; zero-shot = the predictions each result stores ` +
      `(same model, classes and image); p: exact McNemar, fixed vs broken; ECE over ${ECE_BINS} bins`,
    tableRow(header, columns),
    ...evaluations.map(row),
  ].join('\n');
}

async function evaluate(options: EvaluateOptions, _args: string[], io: CommandIo): Promise<number> {
  if (options.run.length === 0) throw new UsageError('--run is required');
  const runIds = options.run.map((value) => parseId(value, 'run'));
  const against = oneOf(options.against, LABEL_KINDS, 'against');
  const dbPath = databasePath(options.db);
  // Reading must not create an empty database where the user mistyped the path.
  if (!existsSync(dbPath)) throw new Error(`${dbPath}: no such database`);
  const store = openStore(dbPath);
  try {
    const evaluations = runIds.map((runId) => evaluateRun(store, runId, against));
    io.stdout(`${options.json ? JSON.stringify(evaluations) : evaluationTable(evaluations)}\n`);
    for (const e of evaluations.filter((e) => e.trainedOn > 0))
      io.stderr(
        `metatpt: run ${e.runId}: ${e.trainedOn} labelled images left out, its learned prompt was trained on their labels\n`,
      );
    const unlabelled = evaluations.filter((e) => e.labelled === 0).map((e) => e.runId);
    if (unlabelled.length > 0)
      io.stderr(
        `metatpt: no ${against === 'all' ? '' : `${against} `}labels on the images of run ${unlabelled.join(', ')}\n`,
      );
    return 0;
  } finally {
    store.close();
  }
}

export const evaluateCommand = defineCommand<EvaluateOptions>({
  name: 'evaluate',
  summary: 'score runs against labels, each compared with its zero-shot predictions',
  define: (command) =>
    command
      .description(
        'Scores each run against the labels of its images and compares it with its zero-shot predictions ' +
          'on the same images (those every result stores): accuracy with its 95 % Wilson interval, images ' +
          'fixed and broken with the two-sided exact McNemar p-value, expected calibration error over ' +
          `${ECE_BINS} bins, and the median compute time per image (decoding not included).`,
      )
      .option('--db <file>', "the workbench database (default: the desktop app's)")
      .option(
        '--run <id>',
        'a run to evaluate; repeat for several (one row each)',
        (value: string, previous: string[]) => [...previous, value],
        [] as string[],
      )
      .option(
        '--against <kind>',
        'all (your label where there is one, else the imported one) | reviewed (your decisions) | ' +
          'imported (labels read from a file by metatpt import)',
        'all',
      )
      .option('--json', 'print a JSON array, one object per run'),
  run: evaluate,
});
