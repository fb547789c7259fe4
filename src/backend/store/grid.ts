// The image grid: one page of a collection's images with their prediction (from one run, or from a run
// with the runs layered on it) and label (under one class set), filtered and sorted in SQL. Filters and
// sort keys map to indexed columns.
import { InvalidRequestError } from './errors.js';
import type { Db } from './database.js';
import type { Decision, LabelSource } from './labels.js';
import type { ImageStatus } from './images.js';
import type { LabelKind } from '../../shared/evaluation.js';
import { labelKindCondition } from './evaluation.js';

export type ReviewState = 'unreviewed' | 'reviewed' | 'labeled' | 'rejected' | 'skipped';
export type GridSortKey = 'entropy' | 'confidence' | 'zeroShotEntropy' | 'path' | 'id';

export interface Range {
  min?: number;
  max?: number;
}

export interface GridQuery {
  collectionId: number;
  /** The run whose predictions are shown and filtered on. */
  runId?: number;
  /**
   * Show the run's view: for each image the result of the newest run layered on it that covers the
   * image, else the run's own (each item's runId says which). Default: the run alone.
   */
  layered?: boolean;
  /** The class set whose labels are shown; defaults to the run's. */
  classSetId?: number;
  predictedClass?: number;
  labelClass?: number;
  reviewState?: ReviewState;
  confidence?: Range;
  entropy?: Range;
  /** Only images whose adapted prediction differs from the zero-shot one (true), or agrees (false). */
  disagreement?: boolean;
  /**
   * Only labelled images the run fixed (right where its zero-shot prediction was wrong) or broke (the
   * reverse), judged by labels of the given kind (default 'all'). Needs runId, and the run's class set.
   */
  versusZeroShot?: { outcome: 'fixed' | 'broken'; against?: LabelKind };
  /** Defaults to readable and broken files; missing files are left out unless asked for. */
  statuses?: ImageStatus[];
  sort?: { key: GridSortKey; direction?: 'asc' | 'desc' };
  offset?: number;
  limit?: number;
}

export interface GridItem {
  imageId: number;
  relPath: string;
  width: number | null;
  height: number | null;
  status: ImageStatus;
  error: string | null;
  /** Content hash of the file (changes when the file does: thumbnails are keyed by it). */
  contentHash: string | null;
  /** The run the prediction comes from (in a layered view, a layer's or the base's). */
  runId: number | null;
  predicted: number | null;
  confidence: number | null;
  entropy: number | null;
  zeroShotLabel: number | null;
  zeroShotEntropy: number | null;
  adapted: boolean | null;
  decision: Decision | null;
  labelClass: number | null;
  labelSource: LabelSource | null;
}

export interface GridPage {
  total: number;
  offset: number;
  items: GridItem[];
}

export const maxGridPageSize = 1000;

const sortColumns: Record<GridSortKey, string> = {
  entropy: 'p.entropy',
  confidence: 'p.confidence',
  zeroShotEntropy: 'p.zero_shot_entropy',
  path: 'i.rel_path',
  id: 'i.id',
};

const reviewConditions: Record<ReviewState, string> = {
  unreviewed: "(l.decision IS NULL OR l.decision = 'skip')",
  reviewed: "l.decision IN ('label', 'reject')",
  labeled: "l.decision = 'label'",
  rejected: "l.decision = 'reject'",
  skipped: "l.decision = 'skip'",
};

// Judged by the label l; the prediction p carries both the run's and the zero-shot label.
const outcomeConditions: Record<'fixed' | 'broken', string> = {
  fixed: 'p.label = l.class_ordinal AND p.zero_shot_label != l.class_ordinal',
  broken: 'p.label != l.class_ordinal AND p.zero_shot_label = l.class_ordinal',
};

interface GridRow extends Omit<GridItem, 'adapted'> {
  adapted: number | null;
}

export function gridRepository(db: Db) {
  const runClassSet = db.prepare<[number], { class_set_id: number; collection_id: number }>(
    'SELECT class_set_id, collection_id FROM runs WHERE id = ?',
  );
  const layerIds = db.prepare<[number], { id: number }>(
    'SELECT id FROM runs WHERE base_run_id = ? ORDER BY id',
  );
  // Statements are compiled once per distinct query shape.
  const statements = new Map<string, ReturnType<Db['prepare']>>();
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };

  return {
    query(q: GridQuery): GridPage {
      const params: Record<string, number | string> = {
        collectionId: q.collectionId,
        runId: q.runId ?? -1,
      };
      let classSetId = q.classSetId;
      let runClassSetId: number | undefined;
      let layers: number[] = [];
      if (q.runId !== undefined) {
        const run = runClassSet.get(q.runId);
        if (!run) throw new InvalidRequestError(`run ${q.runId} does not exist`);
        if (run.collection_id !== q.collectionId)
          throw new InvalidRequestError(`run ${q.runId} is not a run of collection ${q.collectionId}`);
        runClassSetId = run.class_set_id;
        classSetId ??= runClassSetId;
        if (q.layered) layers = layerIds.all(q.runId).map((r) => r.id);
      }
      // Which prediction row an image shows: the run's, or the newest among the run and its layers.
      const layered = layers.length > 0;
      let predictionOf = 'p.run_id = @runId AND p.image_id = i.id';
      let hasPrediction = 'x.run_id = @runId AND x.image_id = i.id';
      if (layered) {
        params.runIds = JSON.stringify([q.runId, ...layers]);
        const inView = 'x.image_id = i.id AND x.run_id IN (SELECT value FROM json_each(@runIds))';
        predictionOf = `p.image_id = i.id AND p.run_id = (SELECT MAX(x.run_id) FROM predictions x WHERE ${inView})`;
        hasPrediction = inView;
      }
      params.classSetId = classSetId ?? -1;

      const statuses = q.statuses ?? ['ok', 'error'];
      const imageWhere = [
        'i.collection_id = @collectionId',
        `i.status IN (${statuses.map((s) => `'${statusName(s)}'`).join(', ')})`,
      ];
      const predictionWhere: string[] = [];
      const labelWhere: string[] = [];
      const addRange = (column: string, name: string, range: Range | undefined) => {
        for (const [bound, operator] of [
          ['min', '>='],
          ['max', '<='],
        ] as const) {
          const value = range?.[bound];
          if (value === undefined) continue;
          if (!Number.isFinite(value))
            throw new InvalidRequestError(`grid ${name} ${bound} must be a number, not ${value}`);
          predictionWhere.push(`${column} ${operator} @${name}_${bound}`);
          params[`${name}_${bound}`] = value;
        }
      };
      if (q.predictedClass !== undefined) {
        predictionWhere.push('p.label = @predictedClass');
        params.predictedClass = wholeNumber(q.predictedClass, 'predictedClass', 0, Number.MAX_SAFE_INTEGER);
      }
      addRange('p.confidence', 'confidence', q.confidence);
      addRange('p.entropy', 'entropy', q.entropy);
      if (q.disagreement !== undefined)
        predictionWhere.push(q.disagreement ? 'p.label != p.zero_shot_label' : 'p.label = p.zero_shot_label');
      if (q.versusZeroShot !== undefined) {
        const { outcome, against = 'all' } = q.versusZeroShot;
        if (runClassSetId === undefined)
          throw new InvalidRequestError(`the grid's ${outcome} filter needs a run`);
        if (classSetId !== runClassSetId)
          throw new InvalidRequestError(
            `the grid's ${outcome} filter judges by labels of the run's class set ${runClassSetId}`,
          );
        if (!Object.hasOwn(outcomeConditions, outcome))
          throw new InvalidRequestError(`unknown outcome "${outcome}"`);
        if (!Object.hasOwn(labelKindCondition, against))
          throw new InvalidRequestError(`unknown label kind "${against}"`);
        labelWhere.push(labelKindCondition[against]);
        predictionWhere.push(outcomeConditions[outcome]);
      }
      if (q.labelClass !== undefined) {
        labelWhere.push("l.decision = 'label' AND l.class_ordinal = @labelClass");
        params.labelClass = wholeNumber(q.labelClass, 'labelClass', 0, Number.MAX_SAFE_INTEGER);
      }
      if (q.reviewState !== undefined) {
        if (!Object.hasOwn(reviewConditions, q.reviewState))
          throw new InvalidRequestError(`unknown review state "${q.reviewState}"`);
        labelWhere.push(reviewConditions[q.reviewState]);
      }

      const sortKey = q.sort?.key ?? 'id';
      const column = Object.hasOwn(sortColumns, sortKey) ? sortColumns[sortKey] : undefined;
      if (!column) throw new InvalidRequestError(`cannot sort the grid by "${sortKey}"`);
      const direction = q.sort?.direction === 'desc' ? 'DESC' : 'ASC';
      const offset = wholeNumber(q.offset ?? 0, 'offset', 0, Number.MAX_SAFE_INTEGER);
      const limit = wholeNumber(q.limit ?? 200, 'limit', 1, maxGridPageSize);

      // Join only what the filters need: counting 100k rows costs per joined table. Sorting on a
      // prediction column goes through its index over the images that have a prediction (an inner
      // join); images without one follow in id order, as a second segment.
      const count = (segment: Segment) =>
        (prepared(`SELECT COUNT(*) AS n ${fromClause(segment)}`).get(params) as { n: number }).n;
      const page = (segment: Segment, order: string, pageOffset: number, pageLimit: number) =>
        prepared(
          `${selectColumns} ${fromClause(segment, true)} ORDER BY ${order} LIMIT @limit OFFSET @offset`,
        ).all({
          ...params,
          limit: pageLimit,
          offset: pageOffset,
        }) as GridRow[];
      const fromClause = (segment: Segment, display = false) => {
        const predictionJoin =
          segment === 'with-prediction'
            ? `JOIN predictions p ON ${predictionOf}`
            : display
              ? `LEFT JOIN predictions p ON ${predictionOf}`
              : '';
        const labelJoin =
          display || labelWhere.length > 0
            ? 'LEFT JOIN labels l ON l.image_id = i.id AND l.class_set_id = @classSetId'
            : '';
        const where = [...imageWhere, ...labelWhere];
        if (segment === 'without-prediction') {
          where.push(`NOT EXISTS (SELECT 1 FROM predictions x WHERE ${hasPrediction})`);
        }
        return `FROM images i ${predictionJoin} ${labelJoin} WHERE ${where.join(' AND ')}`;
      };

      let total: number;
      let rows: GridRow[];
      if (predictionWhere.length > 0) {
        imageWhere.push(...predictionWhere);
        total = count('with-prediction');
        rows = page('with-prediction', `${column} ${direction}, i.id ${direction}`, offset, limit);
      } else if (column.startsWith('p.') && layered) {
        // No index orders a layered view: sort its rows, the images without a prediction last.
        total = count('all');
        rows = page('all', `p.run_id IS NULL, ${column} ${direction}, i.id ${direction}`, offset, limit);
      } else if (column.startsWith('p.') && q.runId !== undefined) {
        total = count('all');
        rows = page('with-prediction', `${column} ${direction}, i.id ${direction}`, offset, limit);
        if (rows.length < limit && offset + rows.length < total) {
          // Where the images with a prediction end: known from this page unless it started past them.
          const predicted = rows.length > 0 ? offset + rows.length : count('with-prediction');
          const rest = page(
            'without-prediction',
            'i.id',
            Math.max(0, offset - predicted),
            limit - rows.length,
          );
          rows = rows.concat(rest);
        }
      } else {
        total = count('all');
        const order = column.startsWith('p.') ? 'i.id' : `${column} ${direction}, i.id ${direction}`;
        rows = page('all', order, offset, limit);
      }
      return {
        total,
        offset,
        items: rows.map((r) => ({ ...r, adapted: r.adapted === null ? null : r.adapted === 1 })),
      };
    },
  };
}

/** Which images a statement covers: all, or those with (or without) a prediction of the run. */
type Segment = 'all' | 'with-prediction' | 'without-prediction';

const selectColumns = `SELECT i.id AS imageId, i.rel_path AS relPath, i.width, i.height, i.status, i.error,
  i.content_hash AS contentHash, p.run_id AS runId, p.label AS predicted, p.confidence, p.entropy, p.zero_shot_label AS zeroShotLabel,
  p.zero_shot_entropy AS zeroShotEntropy, p.adapted,
  l.decision, l.class_ordinal AS labelClass, l.source AS labelSource`;

function wholeNumber(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidRequestError(`grid ${name} must be a whole number from ${min} to ${max}, not ${value}`);
  }
  return value;
}

const knownStatuses: ReadonlySet<string> = new Set(['ok', 'error', 'missing']);
function statusName(status: string): string {
  if (!knownStatuses.has(status)) throw new InvalidRequestError(`unknown image status "${status}"`);
  return status;
}

export type GridRepository = ReturnType<typeof gridRepository>;
