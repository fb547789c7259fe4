import type { Db } from './database.js';
import type { ModelRecord } from '../../shared/domain/models.js';

interface ModelRow {
  id: number;
  name: string;
  dir: string;
  config_json: string;
  created_at: number;
}

const toModel = (r: ModelRow): ModelRecord => ({
  id: r.id,
  name: r.name,
  dir: r.dir,
  config: JSON.parse(r.config_json) as Record<string, unknown>,
  createdAt: r.created_at,
});

export function modelsRepository(db: Db) {
  const byId = db.prepare<[number], ModelRow>('SELECT * FROM models WHERE id = ?');
  const byDir = db.prepare<[string], ModelRow>('SELECT * FROM models WHERE dir = ?');
  const all = db.prepare<[], ModelRow>('SELECT * FROM models ORDER BY name, id');
  const upsert = db.prepare(
    `INSERT INTO models (name, dir, config_json, created_at) VALUES (@name, @dir, @config, @now)
     ON CONFLICT (dir) DO UPDATE SET name = excluded.name, config_json = excluded.config_json`,
  );
  const remove = db.prepare<[number]>('DELETE FROM models WHERE id = ?');

  return {
    /** Registers the model in dir, or refreshes its name and config if dir is known. */
    upsert(spec: { name: string; dir: string; config: Record<string, unknown> }): ModelRecord {
      upsert.run({ name: spec.name, dir: spec.dir, config: JSON.stringify(spec.config), now: Date.now() });
      return toModel(byDir.get(spec.dir)!);
    },
    get(id: number): ModelRecord | undefined {
      const row = byId.get(id);
      return row && toModel(row);
    },
    getByDir(dir: string): ModelRecord | undefined {
      const row = byDir.get(dir);
      return row && toModel(row);
    },
    list(): ModelRecord[] {
      return all.all().map(toModel);
    },
    remove(id: number): boolean {
      return remove.run(id).changes > 0;
    },
  };
}

export type ModelsRepository = ReturnType<typeof modelsRepository>;
