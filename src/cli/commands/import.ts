// `metatpt import`: brings labels made elsewhere (a class-folder tree, a CSV, one of our exports)
// into a collection, as the expert's labels with source "imported".
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../commands.js';
import { importLabelsIntoStore } from '../../backend/export/from-store.js';
import { importFromExport, importLabels } from '../../backend/export/index.js';
import { hashFile } from '../../backend/library/inspect.js';
import { openStore, type Store } from '../../backend/store/index.js';
import { UsageError, oneOf, parseId, requireOption, withUsage } from '../args.js';

const IMPORT_FORMATS = ['imagefolder', 'csv', 'export'] as const;

const USAGE = `usage: metatpt import --db FILE --collection ID --format FORMAT [options] PATH

  --format F          imagefolder (PATH/<class>/… or PATH/<split>/<class>/…) | csv (a path and a label
                      column) | export (a folder written by metatpt export)
  --class-set ID|NAME the class set the labels belong to (needed when the store has several)
  --overwrite         replace labels images already have (the import can be undone either way)
  --json              print the result as JSON`;

function resolveClassSet(store: Store, wanted: string | undefined): number {
  if (wanted !== undefined) {
    const byId = /^\d+$/.test(wanted) ? store.classSets.get(Number(wanted)) : undefined;
    const found = byId ?? store.classSets.getByName(wanted);
    if (!found) throw new UsageError(`no class set "${wanted}"`);
    return found.id;
  }
  const all = store.classSets.list();
  if (all.length === 1) return all[0].id;
  const names = all.map((c) => `${c.id} (${c.name})`).join(', ') || 'none';
  throw new UsageError(`--class-set is required: the store has class sets ${names}`);
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      db: { type: 'string' },
      collection: { type: 'string' },
      format: { type: 'string' },
      'class-set': { type: 'string' },
      overwrite: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError('give exactly one PATH to import');
  const source = path.resolve(positionals[0]);
  const format = oneOf(requireOption(values.format, 'format'), IMPORT_FORMATS, 'format');
  const collectionId = parseId(values.collection, 'collection');

  const store = openStore(requireOption(values.db, 'db'));
  try {
    const classSetId = resolveClassSet(store, values['class-set']);
    const imported =
      format === 'export' ? await importFromExport(source) : await importLabels(source, format, { hashFile });
    const summary = importLabelsIntoStore(
      store,
      { collectionId, classSetId, overwrite: values.overwrite },
      imported.labels,
    );
    const warnings = [...imported.warnings, ...summary.warnings];
    if (values.json) {
      process.stdout.write(JSON.stringify({ read: imported.labels.length, ...summary, warnings }) + '\n');
    } else {
      process.stdout.write(
        `read ${imported.labels.length} labels from ${source}; applied ${summary.applied}, ` +
          `already labeled ${summary.alreadyLabeled}, unknown class ${summary.unknownClass}, ` +
          `unmatched ${summary.unmatched}\n` +
          warnings.map((w) => `  warning: ${w}\n`).join(''),
      );
    }
    return 0;
  } finally {
    store.close();
  }
}

export const importCommand: Command = {
  name: 'import',
  summary: 'import labels from class folders, a CSV, or an earlier export into a collection',
  run: (args) => withUsage(USAGE, () => run(args)),
};
