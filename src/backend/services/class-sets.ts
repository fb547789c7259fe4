// Class sets: the classes an expert describes in words, with the prompt template and context init.
import { opendir } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONTEXT_INIT, DEFAULT_TEMPLATE } from '../../shared/domain/adaptation.js';
import { classNameProblems, normaliseClassName } from '../../shared/domain/class-names.js';
import { readTextFile, sniffDelimiter } from '../text-file.js';
import type { ClassDefinition, ClassSet, NewClassSet, Store } from '../store/index.js';
import { InvalidRequestError } from '../store/errors.js';
import { describeFsError } from '../regular-file.js';

/** A classes file longer than this is not a list of class names (10,000 classes of 400 characters). */
export const MAX_CLASS_FILE_BYTES = 4 * 1024 * 1024;

export interface ClassSetInput {
  name: string;
  classes: ClassDefinition[];
  template?: string;
  contextInit?: string;
}

function validated(input: Partial<ClassSetInput>): Partial<NewClassSet> {
  const out: Partial<NewClassSet> = {};
  if (input.name !== undefined) {
    if (!input.name.trim()) throw new InvalidRequestError('a class set needs a name');
    out.name = input.name.trim();
  }
  if (input.template !== undefined) {
    if (!input.template.includes('{}')) {
      throw new InvalidRequestError(
        `the template must contain {} where the class name goes, not "${input.template}"`,
      );
    }
    out.template = input.template;
  }
  if (input.contextInit !== undefined) {
    if (!input.contextInit.trim()) throw new InvalidRequestError('the context init text cannot be empty');
    out.contextInit = input.contextInit.trim();
  }
  if (input.classes !== undefined) {
    out.classes = input.classes.map((c, i) => {
      const name = c.name.trim();
      if (!name) throw new InvalidRequestError(`class ${i + 1} has an empty name`);
      return { name, prompt: c.prompt?.trim() || null };
    });
  }
  return out;
}

/** A class read from a file, with the line it came from (for error messages). */
export interface ClassFileEntry extends ClassDefinition {
  line: number;
}

/** What a classes file held, and what the reader decided that the user should know. */
export interface ClassList {
  entries: ClassFileEntry[];
  warnings: string[];
}

const NAME_COLUMNS = ['name', 'class', 'class_name', 'label', 'category'];

/** A CSV/TSV with a header: a name column (name/class/label/…) and an optional prompt column. */
function parseClassTable(text: string, fileName: string): ClassFileEntry[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parseCsv(text, {
      columns: (header: string[]) => header.map((column) => column.trim().toLowerCase()),
      delimiter: sniffDelimiter(text),
      skip_empty_lines: true,
      info: true,
    }) as typeof records;
  } catch (error) {
    throw new InvalidRequestError(`${fileName}: not a valid CSV: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const columns = records.length > 0 ? Object.keys(records[0].record) : [];
  const nameColumn = NAME_COLUMNS.find((column) => columns.includes(column));
  if (records.length > 0 && !nameColumn) {
    throw new InvalidRequestError(
      `${fileName}: the CSV has no "name" column (one of ${NAME_COLUMNS.join(', ')}); found ${columns.join(', ')}`,
    );
  }
  return records.map(({ record, info }) => ({
    name: record[nameColumn!],
    prompt: record.prompt?.trim() || null,
    line: info.lines,
  }));
}

/** Ultralytics data.yaml: `names:` as a list or an {index: name} mapping (or a bare list of names). */
function parseClassYaml(text: string, fileName: string): ClassFileEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new InvalidRequestError(`${fileName}: not valid YAML: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const names = Array.isArray(doc) ? doc : (doc as { names?: unknown } | null)?.names;
  const lineOf = (name: string) => Math.max(1, text.split(/\r?\n/).findIndex((l) => l.includes(name)) + 1);
  const entry = (name: unknown) => ({ name: String(name), prompt: null, line: lineOf(String(name)) });
  if (Array.isArray(names)) return names.map(entry);
  if (names && typeof names === 'object') {
    const pairs = Object.entries(names).map(([index, name]) => [Number(index), name] as const);
    if (pairs.some(([index]) => !Number.isInteger(index)))
      throw new InvalidRequestError(`${fileName}: "names:" must map class indices (0, 1, …) to names`);
    return pairs.sort((a, b) => a[0] - b[0]).map(([, name]) => entry(name));
  }
  throw new InvalidRequestError(
    `${fileName}: a YAML classes file needs a "names:" list or mapping (as in Ultralytics data.yaml)`,
  );
}

const INDEXED_LINE = /^(\d+)(?:\s*[:,;\t]\s*|\s+)(\S.*)$/;

/**
 * Class names from a file: YAML (.yaml/.yml, or text starting with "names:"), a CSV/TSV (by
 * extension; delimiter sniffed) with a name column, or one class per line with blank lines and `#`
 * comments skipped. Lines that all read "<index> <name>" (YOLO/Darknet style) give the names; a single
 * line with commas is split into classes, with a warning. Names are normalised (NFC, trimmed); empty
 * and duplicate names (ignoring case and Unicode form) are refused naming the file and line.
 */
export function parseClassList(text: string, fileName: string): ClassList {
  const body = text.replace(/^\uFEFF/, '');
  const extension = extname(fileName).toLowerCase();
  const warnings: string[] = [];
  let entries: ClassFileEntry[];
  if (extension === '.yaml' || extension === '.yml' || /^\s*names\s*:/m.test(body.split('\n', 1)[0])) {
    entries = parseClassYaml(body, fileName);
  } else if (extension === '.csv' || extension === '.tsv') {
    entries = parseClassTable(body, fileName);
  } else {
    entries = body
      .split(/\r?\n/)
      .map((raw, i) => ({ name: raw.trim(), prompt: null, line: i + 1 }))
      .filter(({ name }) => name !== '' && !name.startsWith('#'));
    const indexed = entries.map((e) => INDEXED_LINE.exec(e.name));
    if (entries.length > 0 && indexed.every((m) => m !== null)) {
      entries = entries
        .map((e, i) => ({ ...e, name: indexed[i]![2], index: Number(indexed[i]![1]) }))
        .sort((a, b) => a.index - b.index)
        .map(({ index: _index, ...e }) => e);
    } else if (entries.length === 1 && entries[0].name.includes(',')) {
      const { line } = entries[0];
      entries = entries[0].name.split(',').map((name) => ({ name, prompt: null, line }));
      warnings.push(
        `${fileName}:${line}: one line with commas, read as ${entries.length} classes ` +
          `(${entries.map((e) => `"${e.name.trim()}"`).join(', ')}); write one class per line`,
      );
    }
  }
  entries = entries.map((e) => ({ ...e, name: normaliseClassName(e.name) }));
  const [problem] = classNameProblems(entries.map((e) => e.name));
  if (problem) {
    const first =
      problem.firstIndex === undefined ? '' : ` (first at ${fileName}:${entries[problem.firstIndex].line})`;
    throw new InvalidRequestError(`${fileName}:${entries[problem.index].line}: ${problem.message}${first}`);
  }
  return { entries, warnings };
}

/** Reads and parses a classes file (encoding checked, see readTextFile); a file without classes is an error. */
export async function readClassFile(path: string): Promise<ClassList> {
  const list = parseClassList(await readTextFile(path, 'classes file', MAX_CLASS_FILE_BYTES), path);
  if (list.entries.length === 0) throw new InvalidRequestError(`${path}: no classes in the file`);
  return list;
}

export function createClassSetsService({ store }: { store: Store }) {
  return {
    create(input: ClassSetInput): ClassSet {
      const spec = validated({
        template: DEFAULT_TEMPLATE,
        contextInit: DEFAULT_CONTEXT_INIT,
        ...input,
      }) as NewClassSet;
      if (store.classSets.getByName(spec.name))
        throw new InvalidRequestError(`a class set named "${spec.name}" exists already`);
      return store.classSets.create(spec);
    },

    /** Renames, re-templates or changes classes; see the store for how class positions are kept. */
    update(classSetId: number, patch: Partial<ClassSetInput>): ClassSet {
      const spec = validated(patch);
      const sameName = spec.name === undefined ? undefined : store.classSets.getByName(spec.name);
      if (sameName && sameName.id !== classSetId)
        throw new InvalidRequestError(`a class set named "${spec.name}" exists already`);
      return store.classSets.update(classSetId, spec);
    },

    list(): ClassSet[] {
      return store.classSets.list();
    },

    get(classSetId: number): ClassSet {
      return store.classSets.require(classSetId);
    },

    remove(classSetId: number): void {
      if (store.runs.list().some((run) => run.classSetId === classSetId)) {
        throw new InvalidRequestError(`class set ${classSetId} is used by runs; remove those first`);
      }
      store.classSets.remove(classSetId);
    },

    /** Reads class names (and prompts) from a classes file (see parseClassList). */
    readClassFile(path: string): Promise<{ classes: ClassDefinition[]; warnings: string[] }> {
      return readClassFile(path).then(({ entries, warnings }) => ({
        classes: entries.map(({ name, prompt }) => ({ name, prompt })),
        warnings,
      }));
    },

    /** Class names from a class-folder layout (root/<class>/...): the sub-folder names, sorted. */
    async readClassFolders(root: string): Promise<ClassDefinition[]> {
      const names: string[] = [];
      let folder;
      try {
        folder = await opendir(root);
      } catch (error) {
        throw new InvalidRequestError(`${root}: cannot read the class folders: ${describeFsError(error)}`);
      }
      for await (const entry of folder) {
        if (entry.isDirectory() && !entry.name.startsWith('.')) names.push(entry.name);
      }
      if (names.length === 0) throw new InvalidRequestError(`${root}: no class folders in it`);
      return names.sort((a, b) => a.localeCompare(b)).map((name) => ({ name, prompt: null }));
    },
  };
}

export type ClassSetsService = ReturnType<typeof createClassSetsService>;
