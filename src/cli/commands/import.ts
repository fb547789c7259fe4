// `metatpt import`: brings labels made elsewhere (a class-folder tree, a CSV, one of our exports)
// into a collection as its imported labels, kept apart from the expert's decisions.
import path from 'node:path';
import { importLabelsIntoStore } from '../../backend/export/from-store.js';
import { importFromExport, importLabels } from '../../backend/export/index.js';
import { hashFile } from '../../backend/library/inspect.js';
import { openStore, type Store } from '../../backend/store/index.js';
import { oneOf, parseId, requireOption } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import type { CommandIo } from '../format.js';
import { IMPORT_FORMATS } from '../../shared/domain/export.js';

interface ImportOptions {
  db?: string;
  collection?: string;
  format?: string;
  classSet?: string;
  json?: boolean;
}

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

async function run(values: ImportOptions, [pathArg]: string[], io: CommandIo): Promise<number> {
  const source = path.resolve(pathArg);
  const format = oneOf(requireOption(values.format, 'format'), IMPORT_FORMATS, 'format');
  const collectionId = parseId(values.collection, 'collection');

  const store = openStore(requireOption(values.db, 'db'));
  try {
    const classSetId = resolveClassSet(store, values.classSet);
    const collectionRoot = store.collections.require(collectionId).root;
    const imported =
      format === 'export' || format === 'labelstudio'
        ? await importFromExport(source)
        : await importLabels(source, format, { hashFile, collectionRoot });
    const summary = importLabelsIntoStore(store, { collectionId, classSetId }, imported.labels);
    const warnings = [...imported.warnings, ...summary.warnings];
    if (values.json) {
      io.stdout(JSON.stringify({ read: imported.labels.length, ...summary, warnings }) + '\n');
    } else {
      io.stdout(
        `read ${imported.labels.length} labels from ${source}; imported ${summary.applied} ` +
          `(replacing ${summary.replaced} imported earlier with another class), unchanged ${summary.unchanged}, ` +
          `unknown class ${summary.unknownClass}, unmatched ${summary.unmatched}\n` +
          warnings.map((w) => `  warning: ${w}\n`).join(''),
      );
    }
    const nothingNew =
      summary.applied === 0 && (imported.labels.length === 0 || summary.unchanged < imported.labels.length);
    if (nothingNew) io.stderr(`metatpt: no label of ${source} was applied\n`);
    return nothingNew ? 1 : 0;
  } finally {
    store.close();
  }
}

export const importCommand = defineCommand<ImportOptions>({
  name: 'import',
  summary:
    'import ground-truth labels (class folders, a CSV, an earlier export) into a collection: they are ' +
    "kept apart from your review decisions, and a re-import replaces only the images' imported labels",
  define: (command) =>
    command
      .usage('--db FILE --collection ID --format FORMAT [options] PATH')
      .argument('<PATH>', 'the folder or file to import')
      .option('--db <file>', 'the workbench database')
      .option('--collection <id>', 'the collection whose images get the labels')
      .option(
        '--format <f>',
        'imagefolder (PATH/<class>/… or PATH/<split>/<class>/…) | csv (a path and a label column; , ; or tab; ' +
          'UTF-8 or UTF-16) | export (a folder written by metatpt export) | labelstudio (a Label Studio ' +
          'JSON, JSON_MIN or CSV export file). Labels match classes ignoring case and Unicode form; files ' +
          'match by path, content, then name. A relative CSV path is looked for beside the CSV, then in the ' +
          "collection's folder. Every label or file that matched nothing is named; the exit code is 1 when " +
          'nothing was imported (unless every label was there already)',
      )
      .option(
        '--class-set <id|name>',
        'the class set the labels belong to (needed when the store has several)',
      )
      .option('--json', 'print the result as JSON'),
  run,
});
