// The expert's decisions, with an undo/redo history (labels imported from a file live apart, in
// imported-labels.ts). Every change goes through apply(), which writes the new labels and their
// before/after states in one transaction.
import type { Db } from './database.js';
import type {
  Decision,
  Label,
  LabelAction,
  LabelHistoryEntry,
  LabelSource,
  LabelState,
} from '../../shared/domain/labels.js';

export interface LabelChange {
  imageId: number;
  /** The new decision; null removes the image's label. */
  after: Omit<LabelState, 'createdAt'> | null;
}

export interface LabelCounts {
  /** Decisions that label or reject an image (a skip is no review). */
  reviewed: number;
  /** Labels imported from a file. */
  imported: number;
}

interface LabelRow {
  image_id: number;
  class_set_id: number;
  decision: Decision;
  class_ordinal: number | null;
  rejected_ordinal: number | null;
  source: LabelSource;
  run_id: number | null;
  created_at: number;
}

const toState = (r: LabelRow): LabelState => ({
  decision: r.decision,
  classOrdinal: r.class_ordinal,
  rejectedOrdinal: r.rejected_ordinal,
  source: r.source,
  runId: r.run_id,
  createdAt: r.created_at,
});

const sameDecision = (a: LabelState | null, b: Omit<LabelState, 'createdAt'> | null): boolean =>
  a === null || b === null
    ? a === b
    : a.decision === b.decision &&
      a.classOrdinal === b.classOrdinal &&
      a.rejectedOrdinal === b.rejectedOrdinal &&
      a.source === b.source &&
      a.runId === b.runId;

const parseState = (json: string | null): LabelState | null =>
  json === null ? null : (JSON.parse(json) as LabelState);

export function labelsRepository(db: Db) {
  const get = db.prepare<[number, number], LabelRow>(
    'SELECT * FROM labels WHERE image_id = ? AND class_set_id = ?',
  );
  const ofImage = db.prepare<[number], LabelRow>(
    'SELECT * FROM labels WHERE image_id = ? ORDER BY class_set_id',
  );
  const upsert = db.prepare(
    `INSERT INTO labels (image_id, class_set_id, decision, class_ordinal, rejected_ordinal, source, run_id, created_at)
     VALUES (@imageId, @classSetId, @decision, @classOrdinal, @rejectedOrdinal, @source, @runId, @createdAt)
     ON CONFLICT (image_id, class_set_id) DO UPDATE SET decision = excluded.decision,
       class_ordinal = excluded.class_ordinal, rejected_ordinal = excluded.rejected_ordinal,
       source = excluded.source, run_id = excluded.run_id, created_at = excluded.created_at`,
  );
  const remove = db.prepare<[number, number]>('DELETE FROM labels WHERE image_id = ? AND class_set_id = ?');
  const imageCollection = db.prepare<[number], { collection_id: number }>(
    'SELECT collection_id FROM images WHERE id = ?',
  );
  const dropRedo = db.prepare<[number, number]>(
    'DELETE FROM label_actions WHERE collection_id = ? AND class_set_id = ? AND undone = 1',
  );
  const insertAction = db.prepare<[number, number, string, number]>(
    'INSERT INTO label_actions (collection_id, class_set_id, kind, created_at) VALUES (?, ?, ?, ?)',
  );
  const insertChange = db.prepare<[number, number, string | null, string | null]>(
    'INSERT INTO label_history (action_id, image_id, before_json, after_json) VALUES (?, ?, ?, ?)',
  );
  const lastApplied = db.prepare<[number, number], { id: number }>(
    'SELECT id FROM label_actions WHERE collection_id = ? AND class_set_id = ? AND undone = 0 ORDER BY id DESC LIMIT 1',
  );
  const firstUndone = db.prepare<[number, number], { id: number }>(
    'SELECT id FROM label_actions WHERE collection_id = ? AND class_set_id = ? AND undone = 1 ORDER BY id LIMIT 1',
  );
  const changesOf = db.prepare<
    [number],
    { image_id: number; before_json: string | null; after_json: string | null }
  >('SELECT image_id, before_json, after_json FROM label_history WHERE action_id = ? ORDER BY id');
  const setUndone = db.prepare<[number, number]>('UPDATE label_actions SET undone = ? WHERE id = ?');
  const actionById = db.prepare<
    [number],
    { id: number; kind: string; undone: number; created_at: number; n: number }
  >(
    `SELECT a.id, a.kind, a.undone, a.created_at, (SELECT COUNT(*) FROM label_history h WHERE h.action_id = a.id) AS n
     FROM label_actions a WHERE a.id = ?`,
  );
  const recent = db.prepare<[number, number, number], { id: number }>(
    'SELECT id FROM label_actions WHERE collection_id = ? AND class_set_id = ? ORDER BY id DESC LIMIT ?',
  );
  const historyOfImage = db.prepare<
    [number, number],
    {
      action_id: number;
      kind: string;
      undone: number;
      created_at: number;
      before_json: string | null;
      after_json: string | null;
    }
  >(
    `SELECT h.action_id, a.kind, a.undone, a.created_at, h.before_json, h.after_json
     FROM label_history h JOIN label_actions a ON a.id = h.action_id
     WHERE h.image_id = ? AND a.class_set_id = ? ORDER BY h.id`,
  );

  const counts = db.prepare<{ collectionId: number }, LabelCounts>(
    `SELECT (SELECT COUNT(*) FROM labels l JOIN images i ON i.id = l.image_id
             WHERE i.collection_id = @collectionId AND l.decision IN ('label', 'reject')) AS reviewed,
            (SELECT COUNT(*) FROM imported_labels m JOIN images i ON i.id = m.image_id
             WHERE i.collection_id = @collectionId) AS imported`,
  );

  const write = (imageId: number, classSetId: number, state: LabelState | null) => {
    if (state === null) remove.run(imageId, classSetId);
    else upsert.run({ imageId, classSetId, ...state });
  };

  const describe = (id: number): LabelAction => {
    const a = actionById.get(id)!;
    return { id: a.id, kind: a.kind, undone: a.undone === 1, createdAt: a.created_at, imageCount: a.n };
  };

  return {
    get(imageId: number, classSetId: number): Label | undefined {
      const row = get.get(imageId, classSetId);
      return row && { imageId, classSetId, ...toState(row) };
    },
    ofImage(imageId: number): Label[] {
      return ofImage
        .all(imageId)
        .map((r) => ({ imageId: r.image_id, classSetId: r.class_set_id, ...toState(r) }));
    },
    /**
     * Applies changes as one undoable action (and forgets the redo stack). Changes that would not
     * change anything are left out; returns null when nothing changed.
     */
    apply(
      scope: { collectionId: number; classSetId: number },
      kind: string,
      changes: LabelChange[],
    ): LabelAction | null {
      const { collectionId, classSetId } = scope;
      return db.transaction(() => {
        const now = Date.now();
        const effective: { imageId: number; before: LabelState | null; after: LabelState | null }[] = [];
        for (const change of changes) {
          const owner = imageCollection.get(change.imageId);
          if (!owner) throw new Error(`image ${change.imageId} does not exist`);
          if (owner.collection_id !== collectionId) {
            throw new Error(`image ${change.imageId} is not in collection ${collectionId}`);
          }
          const row = get.get(change.imageId, classSetId);
          const before = row ? toState(row) : null;
          if (sameDecision(before, change.after)) continue;
          effective.push({
            imageId: change.imageId,
            before,
            after: change.after && { ...change.after, createdAt: now },
          });
        }
        if (effective.length === 0) return null;
        dropRedo.run(collectionId, classSetId);
        const actionId = Number(insertAction.run(collectionId, classSetId, kind, now).lastInsertRowid);
        for (const { imageId, before, after } of effective) {
          write(imageId, classSetId, after);
          insertChange.run(
            actionId,
            imageId,
            before && JSON.stringify(before),
            after && JSON.stringify(after),
          );
        }
        return describe(actionId);
      })();
    },
    /** Reverts the newest applied action of the scope; null when there is nothing to undo. */
    undo(scope: { collectionId: number; classSetId: number }): LabelAction | null {
      return db.transaction(() => {
        const action = lastApplied.get(scope.collectionId, scope.classSetId);
        if (!action) return null;
        for (const change of changesOf.all(action.id).reverse()) {
          write(change.image_id, scope.classSetId, parseState(change.before_json));
        }
        setUndone.run(1, action.id);
        return describe(action.id);
      })();
    },
    /** Re-applies the oldest undone action of the scope; null when there is nothing to redo. */
    redo(scope: { collectionId: number; classSetId: number }): LabelAction | null {
      return db.transaction(() => {
        const action = firstUndone.get(scope.collectionId, scope.classSetId);
        if (!action) return null;
        for (const change of changesOf.all(action.id)) {
          write(change.image_id, scope.classSetId, parseState(change.after_json));
        }
        setUndone.run(0, action.id);
        return describe(action.id);
      })();
    },
    /** Newest actions first, undone ones included (they are the redo stack). */
    recentActions(scope: { collectionId: number; classSetId: number }, limit: number): LabelAction[] {
      return recent.all(scope.collectionId, scope.classSetId, limit).map((a) => describe(a.id));
    },
    /** A collection's reviewed images (labelled or rejected) and imported labels, over all class sets. */
    countsIn(collectionId: number): LabelCounts {
      return counts.get({ collectionId })!;
    },
    historyOfImage(imageId: number, classSetId: number): LabelHistoryEntry[] {
      return historyOfImage.all(imageId, classSetId).map((h) => ({
        actionId: h.action_id,
        kind: h.kind,
        undone: h.undone === 1,
        createdAt: h.created_at,
        before: parseState(h.before_json),
        after: parseState(h.after_json),
      }));
    },
  };
}

export type LabelsRepository = ReturnType<typeof labelsRepository>;
