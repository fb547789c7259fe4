// Class sets: the classes an expert describes in words, with the prompt template and context init.
import { opendir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { DEFAULT_CONTEXT_INIT, DEFAULT_TEMPLATE } from '../../shared/domain/adaptation.js';
import type { ClassDefinition, ClassSet, NewClassSet, Store } from '../store/index.js';

export interface ClassSetInput {
  name: string;
  classes: ClassDefinition[];
  template?: string;
  contextInit?: string;
}

function validated(input: Partial<ClassSetInput>): Partial<NewClassSet> {
  const out: Partial<NewClassSet> = {};
  if (input.name !== undefined) {
    if (!input.name.trim()) throw new Error('a class set needs a name');
    out.name = input.name.trim();
  }
  if (input.template !== undefined) {
    if (!input.template.includes('{}')) {
      throw new Error(`the template must contain {} where the class name goes, not "${input.template}"`);
    }
    out.template = input.template;
  }
  if (input.contextInit !== undefined) {
    if (!input.contextInit.trim()) throw new Error('the context init text cannot be empty');
    out.contextInit = input.contextInit.trim();
  }
  if (input.classes !== undefined) {
    out.classes = input.classes.map((c, i) => {
      const name = c.name.trim();
      if (!name) throw new Error(`class ${i + 1} has an empty name`);
      return { name, prompt: c.prompt?.trim() || null };
    });
  }
  return out;
}

/** A class read from a file, with the line it came from (for error messages). */
export interface ClassFileEntry extends ClassDefinition {
  line: number;
}

/**
 * Class names from a file: a CSV (by extension) with a `name` (or `class`, `label`) column and an
 * optional `prompt` column; otherwise one class per line, blank lines and `#` comments skipped.
 */
export function parseClassList(text: string, fileName: string): ClassFileEntry[] {
  if (extname(fileName).toLowerCase() === '.csv') {
    let records: { record: Record<string, string>; info: { lines: number } }[];
    try {
      records = parseCsv(text, {
        columns: (header: string[]) => header.map((column) => column.trim().toLowerCase()),
        bom: true,
        skip_empty_lines: true,
        info: true,
      }) as typeof records;
    } catch (error) {
      throw new Error(`${fileName}: not a valid CSV: ${(error as Error).message}`, { cause: error });
    }
    const nameColumn = ['name', 'class', 'label'].find(
      (column) => records.length > 0 && column in records[0].record,
    );
    if (records.length > 0 && !nameColumn) throw new Error(`${fileName}: the CSV has no "name" column`);
    return records.map(({ record, info }) => ({
      name: record[nameColumn!].trim(),
      prompt: record.prompt?.trim() || null,
      line: info.lines,
    }));
  }
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((raw, i) => ({ name: raw.trim(), prompt: null, line: i + 1 }))
    .filter(({ name }) => name !== '' && !name.startsWith('#'));
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
        throw new Error(`a class set named "${spec.name}" exists already`);
      return store.classSets.create(spec);
    },

    /** Renames, re-templates or changes classes; see the store for how class positions are kept. */
    update(classSetId: number, patch: Partial<ClassSetInput>): ClassSet {
      return store.classSets.update(classSetId, validated(patch));
    },

    list(): ClassSet[] {
      return store.classSets.list();
    },

    get(classSetId: number): ClassSet {
      return store.classSets.require(classSetId);
    },

    remove(classSetId: number): void {
      if (store.runs.list().some((run) => run.classSetId === classSetId)) {
        throw new Error(`class set ${classSetId} is used by runs; remove those first`);
      }
      store.classSets.remove(classSetId);
    },

    /** Reads class names (and prompts) from a text or CSV file. */
    async readClassFile(path: string): Promise<ClassDefinition[]> {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        throw new Error(`${path}: cannot read the class file: ${(error as Error).message}`, { cause: error });
      }
      const classes = parseClassList(text, path);
      if (classes.length === 0) throw new Error(`${path}: no classes in the file`);
      return classes;
    },

    /** Class names from a class-folder layout (root/<class>/...): the sub-folder names, sorted. */
    async readClassFolders(root: string): Promise<ClassDefinition[]> {
      const names: string[] = [];
      for await (const entry of await opendir(root)) {
        if (entry.isDirectory() && !entry.name.startsWith('.')) names.push(entry.name);
      }
      if (names.length === 0) throw new Error(`${root}: no class folders in it`);
      return names.sort((a, b) => a.localeCompare(b)).map((name) => ({ name, prompt: null }));
    },
  };
}

export type ClassSetsService = ReturnType<typeof createClassSetsService>;
