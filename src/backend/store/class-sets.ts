import { classNameProblems, normaliseClassName } from '../../shared/domain/class-names.js';
import type { Db } from './database.js';
import type { ClassDefinition, ClassInfo, ClassSet } from '../../shared/domain/class-sets.js';
import { InvalidRequestError } from './errors.js';

export interface NewClassSet {
  name: string;
  template: string;
  contextInit: string;
  classes: ClassDefinition[];
}

interface ClassSetRow {
  id: number;
  name: string;
  template: string;
  context_init: string;
  prompt_version: number;
  created_at: number;
  updated_at: number;
}

export function classSetsRepository(db: Db) {
  const byId = db.prepare<[number], ClassSetRow>('SELECT * FROM class_sets WHERE id = ?');
  const byName = db.prepare<[string], ClassSetRow>('SELECT * FROM class_sets WHERE name = ?');
  const all = db.prepare<[], ClassSetRow>('SELECT * FROM class_sets ORDER BY name');
  const classesOf = db.prepare<[number], ClassInfo>(
    'SELECT ordinal, name, prompt FROM classes WHERE class_set_id = ? ORDER BY ordinal',
  );
  const insertSet = db.prepare(
    `INSERT INTO class_sets (name, template, context_init, created_at, updated_at)
     VALUES (@name, @template, @contextInit, @now, @now)`,
  );
  const updateSet = db.prepare(
    `UPDATE class_sets SET name = @name, template = @template, context_init = @contextInit,
       prompt_version = prompt_version + @promptChanged, updated_at = @now WHERE id = @id`,
  );
  // Renames go through a placeholder so that swapping two names does not hit UNIQUE(name).
  const parkNames = db.prepare<[number]>(
    'UPDATE classes SET name = char(0) || ordinal WHERE class_set_id = ?',
  );
  const upsertClass = db.prepare(
    `INSERT INTO classes (class_set_id, ordinal, name, prompt) VALUES (@id, @ordinal, @name, @prompt)
     ON CONFLICT (class_set_id, ordinal) DO UPDATE SET name = excluded.name, prompt = excluded.prompt`,
  );
  const dropTail = db.prepare<[number, number]>(
    'DELETE FROM classes WHERE class_set_id = ? AND ordinal >= ?',
  );
  const labelsBeyond = db.prepare<{ id: number; from: number }, { n: number }>(
    `SELECT (SELECT COUNT(*) FROM labels WHERE class_set_id = @id AND class_ordinal >= @from)
       + (SELECT COUNT(*) FROM imported_labels WHERE class_set_id = @id AND class_ordinal >= @from) AS n`,
  );
  const remove = db.prepare<[number]>('DELETE FROM class_sets WHERE id = ?');

  const load = (row: ClassSetRow): ClassSet => ({
    id: row.id,
    name: row.name,
    template: row.template,
    contextInit: row.context_init,
    classes: classesOf.all(row.id),
    promptVersion: row.prompt_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });

  /** Names are stored normalised and unique ignoring case and Unicode form (src/shared/domain/class-names.ts). */
  function writeClasses(id: number, given: ClassDefinition[]): void {
    const classes = given.map((c) => ({ ...c, name: normaliseClassName(c.name) }));
    const [problem] = classNameProblems(classes.map((c) => c.name));
    if (problem)
      throw new InvalidRequestError(`class ${problem.index + 1} of the class set: ${problem.message}`);
    const orphaned = labelsBeyond.get({ id, from: classes.length })!.n;
    if (orphaned > 0) {
      throw new InvalidRequestError(
        `cannot drop classes from position ${classes.length}: ${orphaned} labels use them`,
      );
    }
    dropTail.run(id, classes.length);
    parkNames.run(id);
    classes.forEach((c, ordinal) => upsertClass.run({ id, ordinal, name: c.name, prompt: c.prompt ?? null }));
  }

  return {
    create(spec: NewClassSet): ClassSet {
      if (spec.classes.length === 0) throw new InvalidRequestError(`class set "${spec.name}" has no classes`);
      return db.transaction(() => {
        const id = Number(insertSet.run({ ...spec, now: Date.now() }).lastInsertRowid);
        writeClasses(id, spec.classes);
        return load(byId.get(id)!);
      })();
    },
    get(id: number): ClassSet | undefined {
      const row = byId.get(id);
      return row && load(row);
    },
    require(id: number): ClassSet {
      const row = byId.get(id);
      if (!row) throw new Error(`class set ${id} does not exist`);
      return load(row);
    },
    getByName(name: string): ClassSet | undefined {
      const row = byName.get(name);
      return row && load(row);
    },
    list(): ClassSet[] {
      return all.all().map(load);
    },
    /**
     * Changes fields; a new class list keeps ordinals by position (labels refer to ordinals), so
     * classes can be renamed or appended, and dropped from the end only while no label uses them.
     */
    update(id: number, patch: Partial<NewClassSet>): ClassSet {
      return db.transaction(() => {
        const current = byId.get(id);
        if (!current) throw new Error(`class set ${id} does not exist`);
        const before = promptText(load(current));
        if (patch.classes) {
          if (patch.classes.length === 0)
            throw new InvalidRequestError(`class set ${id} would have no classes`);
          writeClasses(id, patch.classes);
        }
        const template = patch.template ?? current.template;
        const after = promptText({ template, classes: classesOf.all(id) });
        updateSet.run({
          id,
          name: patch.name ?? current.name,
          template,
          contextInit: patch.contextInit ?? current.context_init,
          promptChanged: before === after ? 0 : 1,
          now: Date.now(),
        });
        return load(byId.get(id)!);
      })();
    },
    remove(id: number): boolean {
      return remove.run(id).changes > 0;
    },
  };
}

/** What the text encoder sees of a class set: a change means its zero-shot scores are out of date. */
function promptText(set: Pick<ClassSet, 'template' | 'classes'>): string {
  return JSON.stringify([set.template, set.classes.map((c) => [c.name, c.prompt ?? null])]);
}

export type ClassSetsRepository = ReturnType<typeof classSetsRepository>;
