import type { Db } from './database.js';
import type { ImageRecord, ImageStatus } from '../../shared/domain/library.js';

/** What a scan learns about one file. */
export type ScannedFile = Pick<
  ImageRecord,
  'relPath' | 'size' | 'mtimeMs' | 'contentHash' | 'width' | 'height' | 'error'
>;

interface ImageRow {
  id: number;
  collection_id: number;
  rel_path: string;
  size: number;
  mtime_ms: number;
  content_hash: string | null;
  width: number | null;
  height: number | null;
  status: ImageStatus;
  error: string | null;
  first_seen: number;
  last_seen: number;
}

export const toImageRecord = (r: ImageRow): ImageRecord => ({
  id: r.id,
  collectionId: r.collection_id,
  relPath: r.rel_path,
  size: r.size,
  mtimeMs: r.mtime_ms,
  contentHash: r.content_hash,
  width: r.width,
  height: r.height,
  status: r.status,
  error: r.error,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
});

const fileParams = (collectionId: number, file: ScannedFile, seenAt: number) => ({
  collectionId,
  relPath: file.relPath,
  size: file.size,
  mtimeMs: file.mtimeMs,
  contentHash: file.contentHash,
  width: file.width,
  height: file.height,
  status: file.error ? 'error' : 'ok',
  error: file.error,
  seenAt,
});

/** SQLite's LIMIT for "the first `limit`": a negative LIMIT means no limit. */
const sqlLimit = (limit: number): number => (Number.isFinite(limit) ? limit : -1);

export function imagesRepository(db: Db) {
  const byId = db.prepare<[number], ImageRow>('SELECT * FROM images WHERE id = ?');
  const byPath = db.prepare<[number, string], ImageRow>(
    'SELECT * FROM images WHERE collection_id = ? AND rel_path = ?',
  );
  const insert = db.prepare(
    `INSERT INTO images (collection_id, rel_path, size, mtime_ms, content_hash, width, height, status,
       error, first_seen, last_seen)
     VALUES (@collectionId, @relPath, @size, @mtimeMs, @contentHash, @width, @height, @status, @error,
       @seenAt, @seenAt)`,
  );
  const update = db.prepare(
    `UPDATE images SET rel_path = @relPath, size = @size, mtime_ms = @mtimeMs,
       content_hash = @contentHash, width = @width, height = @height, status = @status,
       error = @error, last_seen = @seenAt
     WHERE id = @id`,
  );
  const touch = db.prepare<[number, number]>(
    "UPDATE images SET last_seen = ?, status = CASE status WHEN 'missing' THEN 'ok' ELSE status END WHERE id = ?",
  );
  const setError = db.prepare<[string, number]>("UPDATE images SET status = 'error', error = ? WHERE id = ?");
  const setSize = db.prepare<[number, number, number]>(
    'UPDATE images SET width = ?, height = ? WHERE id = ?',
  );
  // Files that vanished by this scan, paired with files present in it that appeared after the vanished
  // one was last seen and carry nothing of their own yet (no labels, results or queued work).
  const moveCandidates = db.prepare<
    { collectionId: number; scan: number },
    { oldId: number; oldPath: string; newId: number }
  >(
    `SELECT old.id AS oldId, old.rel_path AS oldPath, new.id AS newId
     FROM images old
     JOIN images new ON new.collection_id = old.collection_id AND new.content_hash = old.content_hash
     WHERE old.collection_id = @collectionId AND old.last_seen < @scan
       AND new.last_seen >= @scan AND new.first_seen > old.last_seen
       AND NOT EXISTS (SELECT 1 FROM labels WHERE image_id = new.id)
       AND NOT EXISTS (SELECT 1 FROM imported_labels WHERE image_id = new.id)
       AND NOT EXISTS (SELECT 1 FROM predictions WHERE image_id = new.id)
       AND NOT EXISTS (SELECT 1 FROM run_items WHERE image_id = new.id)
     ORDER BY old.id, new.id`,
  );
  const deleteImage = db.prepare<[number]>('DELETE FROM images WHERE id = ?');
  const vanished = db.prepare<[number, number, number], { rel_path: string }>(
    "SELECT rel_path FROM images WHERE collection_id = ? AND last_seen < ? AND status != 'missing' ORDER BY rel_path LIMIT ?",
  );
  const firstSeenAt = db.prepare<[number, number, number], { rel_path: string }>(
    'SELECT rel_path FROM images WHERE collection_id = ? AND first_seen = ? ORDER BY rel_path LIMIT ?',
  );
  const markMissing = db.prepare<[number, number]>(
    "UPDATE images SET status = 'missing' WHERE collection_id = ? AND last_seen < ? AND status != 'missing'",
  );
  const page = db.prepare<[number, number, number], ImageRow>(
    "SELECT * FROM images WHERE collection_id = ? AND id > ? AND status = 'ok' ORDER BY id LIMIT ?",
  );
  const statusCounts = db.prepare<[number], { status: ImageStatus; n: number }>(
    'SELECT status, COUNT(*) AS n FROM images WHERE collection_id = ? GROUP BY status',
  );

  const unreadable = db.prepare<[number, number], { rel_path: string; error: string | null }>(
    "SELECT rel_path, error FROM images WHERE collection_id = ? AND status = 'error' ORDER BY rel_path LIMIT ?",
  );

  return {
    get(id: number): ImageRecord | undefined {
      const row = byId.get(id);
      return row && toImageRecord(row);
    },
    require(id: number): ImageRecord {
      const row = byId.get(id);
      if (!row) throw new Error(`image ${id} does not exist`);
      return toImageRecord(row);
    },
    findByPath(collectionId: number, relPath: string): ImageRecord | undefined {
      const row = byPath.get(collectionId, relPath);
      return row && toImageRecord(row);
    },
    insert(collectionId: number, file: ScannedFile, seenAt: number): number {
      return Number(insert.run(fileParams(collectionId, file, seenAt)).lastInsertRowid);
    },
    /** Records new contents for a known image (its id, and so its labels and results, stay). */
    updateFile(id: number, collectionId: number, file: ScannedFile, seenAt: number): void {
      update.run({ ...fileParams(collectionId, file, seenAt), id });
    },
    /** Marks an unchanged file as seen by the scan that started at seenAt. */
    touch(id: number, seenAt: number): void {
      touch.run(seenAt, id);
    },
    setError(id: number, message: string): void {
      setError.run(message, id);
    },
    setDimensions(id: number, width: number, height: number): void {
      setSize.run(width, height, id);
    },
    /**
     * Closes a complete scan stamped scanStartedAt: a file that vanished while a file with the same
     * content hash appeared was moved, so the old row (with its labels and results) takes the new
     * path and the new row goes; the other vanished files are marked missing (kept, not deleted, so an
     * unplugged drive loses no labels). Returns how many of each, and the first `listLimit` of each
     * (moves in the order of the old rows, removed files by path).
     */
    finishScan(
      collectionId: number,
      scanStartedAt: number,
      listLimit: number,
    ): {
      moved: number;
      removed: number;
      movedPaths: { from: string; to: string }[];
      removedPaths: string[];
    } {
      return db.transaction(() => {
        const usedNew = new Set<number>();
        const movedOld = new Set<number>();
        const movedPaths: { from: string; to: string }[] = [];
        for (const { oldId, oldPath, newId } of moveCandidates.all({ collectionId, scan: scanStartedAt })) {
          if (movedOld.has(oldId) || usedNew.has(newId)) continue;
          const moved = byId.get(newId)!;
          deleteImage.run(newId);
          update.run({
            id: oldId,
            collectionId,
            relPath: moved.rel_path,
            size: moved.size,
            mtimeMs: moved.mtime_ms,
            contentHash: moved.content_hash,
            width: moved.width,
            height: moved.height,
            status: moved.status,
            error: moved.error,
            seenAt: moved.last_seen,
          });
          usedNew.add(newId);
          movedOld.add(oldId);
          if (movedPaths.length < listLimit) movedPaths.push({ from: oldPath, to: moved.rel_path });
        }
        const removedPaths = vanished
          .all(collectionId, scanStartedAt, sqlLimit(listLimit))
          .map((r) => r.rel_path);
        const removed = markMissing.run(collectionId, scanStartedAt).changes;
        return { moved: movedOld.size, removed, movedPaths, removedPaths };
      })();
    },
    /** Paths of the collection's images first seen by the scan stamped `seenAt` (the first `limit`, by path). */
    firstSeenAt(collectionId: number, seenAt: number, limit: number): string[] {
      return firstSeenAt.all(collectionId, seenAt, sqlLimit(limit)).map((r) => r.rel_path);
    },
    /** Readable images of a collection in id order, a page at a time (for background work). */
    pageAfter(collectionId: number, afterId: number, limit: number): ImageRecord[] {
      return page.all(collectionId, afterId, limit).map(toImageRecord);
    },
    /**
     * The collection's images that could not be read, with their errors (the first `limit`, by path;
     * Infinity for all).
     */
    unreadable(collectionId: number, limit: number): { relPath: string; error: string }[] {
      return unreadable
        .all(collectionId, sqlLimit(limit))
        .map((r) => ({ relPath: r.rel_path, error: r.error ?? 'unreadable' }));
    },
    countByStatus(collectionId: number): Record<ImageStatus, number> {
      const counts: Record<ImageStatus, number> = { ok: 0, error: 0, missing: 0 };
      for (const { status, n } of statusCounts.all(collectionId)) counts[status] = n;
      return counts;
    },
  };
}

export type ImagesRepository = ReturnType<typeof imagesRepository>;
