// `metatpt status`: the collections and runs in a database, or one run in detail.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from '../commands.js';
import { databasePath } from '../../backend/paths.js';
import { openStore, type Run, type Store } from '../../backend/store/index.js';
import { parseId, runWithUsage } from '../args.js';
import { tableRow, withProcessIo, type Column, type CommandIo } from '../format.js';

const USAGE = `usage: metatpt status [--db FILE] [--run ID] [--json]

  --db FILE   the workbench database (default: the desktop app's)
  --run ID    one run: its counts, device, error and failed images
  --json      print JSON`;

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
    .map((c) => ({ ...c, images: store.images.countByStatus(c.id) }));
  const runs = store.runs.list();
  if (json) {
    io.stdout(`${JSON.stringify({ collections, runs })}\n`);
    return;
  }
  io.stdout(collections.length === 0 ? 'no collections\n' : 'collections:\n');
  for (const c of collections) {
    const { ok, error, missing } = c.images;
    io.stdout(`  ${c.id}  ${c.name}  ${c.root}  (${ok} images, ${error} errors, ${missing} missing)\n`);
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
  if (json) {
    io.stdout(`${JSON.stringify({ run, failedItems })}\n`);
    return;
  }
  io.stdout(
    `run ${run.id}: ${run.method} on collection ${run.collectionId}, class set ${run.classSetId}, model ${run.modelId}\n` +
      `  status ${run.status}, ${progressText(run)}, device ${run.device ?? 'not yet known'}\n` +
      (run.error ? `  error: ${run.error}\n` : '') +
      failedItems.map((item) => `  failed: ${item.relPath}: ${item.error}\n`).join('') +
      (run.failed > failedItems.length ? `  ... and ${run.failed - failedItems.length} more failed\n` : ''),
  );
}

async function status(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { db: { type: 'string' }, run: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const dbPath = databasePath(values.db);
  // Reading status must not create an empty database where the user mistyped the path.
  if (!existsSync(dbPath)) throw new Error(`${dbPath}: no such database`);
  const store = openStore(dbPath);
  try {
    if (values.run === undefined) overview(store, io, values.json);
    else runDetail(store, io, parseId(values.run, 'run'), values.json);
    return 0;
  } finally {
    store.close();
  }
}

export function runStatus(args: string[], io: CommandIo): Promise<number> {
  return runWithUsage(io.stderr, USAGE, () => status(args, io));
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the collections and runs in a database, or one run',
  run: (args) => withProcessIo((io) => runStatus(args, io)),
};
