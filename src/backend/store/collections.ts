import type { Db } from './database.js';
import type { Collection, ScanSummary } from '../../shared/domain/library.js';

interface CollectionRow {
  id: number;
  root: string;
  name: string;
  created_at: number;
  last_scan_at: number | null;
  follow_links: number;
  last_scan_json: string | null;
}

const toCollection = (r: CollectionRow): Collection => ({
  id: r.id,
  root: r.root,
  name: r.name,
  createdAt: r.created_at,
  lastScanAt: r.last_scan_at,
  followLinks: r.follow_links === 1,
  lastScan: r.last_scan_json === null ? null : storedScan(r.last_scan_json),
});

/**
 * A stored scan summary. One stored before summaries named paths names none, and its
 * errors (then this scan's failures only) stand for the unreadable images.
 */
function storedScan(json: string): ScanSummary {
  const stored = JSON.parse(json) as Partial<ScanSummary> &
    Omit<ScanSummary, 'unreadable' | 'addedPaths' | 'changedPaths' | 'movedPaths' | 'removedPaths'>;
  return {
    addedPaths: [],
    changedPaths: [],
    movedPaths: [],
    removedPaths: [],
    ...stored,
    unreadable: stored.unreadable ?? stored.errors,
  };
}

export function collectionsRepository(db: Db) {
  const byId = db.prepare<[number], CollectionRow>('SELECT * FROM collections WHERE id = ?');
  const byRoot = db.prepare<[string], CollectionRow>('SELECT * FROM collections WHERE root = ?');
  const all = db.prepare<[], CollectionRow>('SELECT * FROM collections ORDER BY name, id');
  const insert = db.prepare<{ root: string; name: string; now: number }>(
    'INSERT INTO collections (root, name, created_at) VALUES (@root, @name, @now)',
  );
  const followLinks = db.prepare<[number, number]>('UPDATE collections SET follow_links = ? WHERE id = ?');
  const scanned = db.prepare<[number, string, number]>(
    'UPDATE collections SET last_scan_at = ?, last_scan_json = ? WHERE id = ?',
  );
  const rename = db.prepare<[string, number]>('UPDATE collections SET name = ? WHERE id = ?');
  const remove = db.prepare<[number]>('DELETE FROM collections WHERE id = ?');

  return {
    create(root: string, name: string): Collection {
      const id = Number(insert.run({ root, name, now: Date.now() }).lastInsertRowid);
      return toCollection(byId.get(id)!);
    },
    get(id: number): Collection | undefined {
      const row = byId.get(id);
      return row && toCollection(row);
    },
    /** Like get, but a missing collection is an error naming the id. */
    require(id: number): Collection {
      const row = byId.get(id);
      if (!row) throw new Error(`collection ${id} does not exist`);
      return toCollection(row);
    },
    getByRoot(root: string): Collection | undefined {
      const row = byRoot.get(root);
      return row && toCollection(row);
    },
    list(): Collection[] {
      return all.all().map(toCollection);
    },
    /** Records a finished scan: its time stamp and what it found (shown again after a restart). */
    markScanned(id: number, at: number, scan: ScanSummary): void {
      scanned.run(at, JSON.stringify(scan), id);
    },
    rename(id: number, name: string): void {
      rename.run(name, id);
    },
    setFollowLinks(id: number, follow: boolean): void {
      followLinks.run(follow ? 1 : 0, id);
    },
    /** Deletes the collection and, by cascade, its images, runs, results and labels. */
    remove(id: number): boolean {
      return remove.run(id).changes > 0;
    },
  };
}

export type CollectionsRepository = ReturnType<typeof collectionsRepository>;
