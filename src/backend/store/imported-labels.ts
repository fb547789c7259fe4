// Labels read from a file (ground truth made elsewhere), one per image and class set, kept apart from
// the expert's decisions (labels.ts): importing never touches a decision and has no undo history;
// a re-import replaces the imported labels of the images it names and leaves the others.
import type { Db } from './database.js';
import type { ImportedLabelRecord } from '../../shared/domain/labels.js';

interface Row {
  image_id: number;
  class_set_id: number;
  class_ordinal: number;
  imported_at: number;
}

const toRecord = (r: Row): ImportedLabelRecord => ({
  imageId: r.image_id,
  classSetId: r.class_set_id,
  classOrdinal: r.class_ordinal,
  importedAt: r.imported_at,
});

/** What storing a batch of imported labels did, per image. */
export interface ImportedLabelsWrite {
  /** Images that had no imported label under the class set. */
  added: number;
  /** Images whose imported label named another class and now names the new one. */
  replaced: number;
  /** Images that already had the same imported label. */
  unchanged: number;
}

export function importedLabelsRepository(db: Db) {
  const get = db.prepare<[number, number], Row>(
    'SELECT * FROM imported_labels WHERE image_id = ? AND class_set_id = ?',
  );
  const ofImage = db.prepare<[number], Row>(
    'SELECT * FROM imported_labels WHERE image_id = ? ORDER BY class_set_id',
  );
  const upsert = db.prepare<[number, number, number, number]>(
    `INSERT INTO imported_labels (image_id, class_set_id, class_ordinal, imported_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (image_id, class_set_id) DO UPDATE SET class_ordinal = excluded.class_ordinal,
       imported_at = excluded.imported_at`,
  );

  return {
    get(imageId: number, classSetId: number): ImportedLabelRecord | undefined {
      const row = get.get(imageId, classSetId);
      return row && toRecord(row);
    },
    ofImage(imageId: number): ImportedLabelRecord[] {
      return ofImage.all(imageId).map(toRecord);
    },
    /**
     * Stores imported labels under a class set in one transaction, replacing those the images had.
     * Throws (writing nothing) when an image or class does not exist.
     */
    replace(
      classSetId: number,
      labels: readonly { imageId: number; classOrdinal: number }[],
    ): ImportedLabelsWrite {
      return db.transaction(() => {
        const counts: ImportedLabelsWrite = { added: 0, replaced: 0, unchanged: 0 };
        const now = Date.now();
        for (const { imageId, classOrdinal } of labels) {
          const before = get.get(imageId, classSetId);
          if (before?.class_ordinal === classOrdinal) {
            counts.unchanged++;
            continue;
          }
          if (before) counts.replaced++;
          else counts.added++;
          upsert.run(imageId, classSetId, classOrdinal, now);
        }
        return counts;
      })();
    },
  };
}

export type ImportedLabelsRepository = ReturnType<typeof importedLabelsRepository>;
