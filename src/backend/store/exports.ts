import type { Db } from './database.js';

export interface ExportRecord {
  id: number;
  collectionId: number;
  runId: number | null;
  format: string;
  outDir: string;
  manifest: Record<string, unknown>;
  createdAt: number;
}

interface ExportRow {
  id: number;
  collection_id: number;
  run_id: number | null;
  format: string;
  out_dir: string;
  manifest_json: string;
  created_at: number;
}

const toExport = (r: ExportRow): ExportRecord => ({
  id: r.id,
  collectionId: r.collection_id,
  runId: r.run_id,
  format: r.format,
  outDir: r.out_dir,
  manifest: JSON.parse(r.manifest_json) as Record<string, unknown>,
  createdAt: r.created_at,
});

export function exportsRepository(db: Db) {
  const insert = db.prepare(
    `INSERT INTO exports (collection_id, run_id, format, out_dir, manifest_json, created_at)
     VALUES (@collectionId, @runId, @format, @outDir, @manifest, @now)`,
  );
  const byId = db.prepare<[number], ExportRow>('SELECT * FROM exports WHERE id = ?');
  const ofCollection = db.prepare<[number], ExportRow>(
    'SELECT * FROM exports WHERE collection_id = ? ORDER BY id DESC',
  );

  return {
    record(spec: Omit<ExportRecord, 'id' | 'createdAt'>): ExportRecord {
      const id = Number(
        insert.run({ ...spec, manifest: JSON.stringify(spec.manifest), now: Date.now() }).lastInsertRowid,
      );
      return toExport(byId.get(id)!);
    },
    get(id: number): ExportRecord | undefined {
      const row = byId.get(id);
      return row && toExport(row);
    },
    list(collectionId: number): ExportRecord[] {
      return ofCollection.all(collectionId).map(toExport);
    },
  };
}

export type ExportsRepository = ReturnType<typeof exportsRepository>;
