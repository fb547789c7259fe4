// The image grid: one page of a collection's images with their prediction (from one run, or from a run
// with the runs layered on it) and label (under one class set), filtered and sorted in SQL. Filters and
// sort keys map to indexed columns. buildGridQuery turns a query into SQL without touching the
// database (tested on its own); gridRepository looks up what it needs and runs it.
import { InvalidRequestError } from './errors.js';
import type { Db } from './database.js';
import { labelJoins, labelKindTruth, notTrainedOn } from './evaluation.js';
import {
  maxGridPageSize,
  type GridItem,
  type GridPage,
  type GridQuery,
  type GridSortKey,
  type Range,
  type ReviewState,
} from '../../shared/domain/grid.js';
import { IMAGE_STATUSES } from '../../shared/domain/library.js';

const sortColumns: Record<GridSortKey, string> = {
  entropy: 'p.entropy',
  confidence: 'p.confidence',
  zeroShotEntropy: 'p.zero_shot_entropy',
  path: 'i.rel_path',
  id: 'i.id',
};

// By the expert's decision alone: an image with only an imported label is still to review.
const reviewConditions: Record<ReviewState, string> = {
  unreviewed: "(l.decision IS NULL OR l.decision = 'skip')",
  reviewed: "l.decision IN ('label', 'reject')",
  labeled: "l.decision = 'label'",
  rejected: "l.decision = 'reject'",
  skipped: "l.decision = 'skip'",
};

// Judged by the true class `truth` (an expression of labelKindTruth); the prediction p carries both
// the run's and the zero-shot label.
const outcomeConditions: Record<'fixed' | 'broken', (truth: string) => string> = {
  fixed: (truth) => `p.label = ${truth} AND p.zero_shot_label != ${truth}`,
  broken: (truth) => `p.label != ${truth} AND p.zero_shot_label = ${truth}`,
};

interface GridRow extends Omit<GridItem, 'adapted'> {
  adapted: number | null;
}

/** What the grid query needs from the database besides the query itself. */
export interface GridContext {
  /** The class set of the query's run; undefined when the query names no run. */
  runClassSetId?: number;
  /** Runs layered on the query's run, oldest first; empty unless the query asks for the layered view. */
  layers: readonly number[];
}

/**
 * The statements that answer one grid query. `count` counts every image the query matches; `page`
 * lists a page of them (named parameters in `params`, with `@offset` and `@limit` bound by the caller).
 * Where `rest` is set (a run's view sorted by a prediction column), `page` lists only the images with
 * a prediction, through the column's index, and `rest.page` lists those without one, in id order,
 * after `rest.before` of them.
 */
export interface GridPlan {
  params: Record<string, number | string>;
  offset: number;
  limit: number;
  count: string;
  page: string;
  rest?: { before: string; page: string };
}

/** Which images a statement covers: all, or those with (or without) a prediction of the run. */
type Segment = 'all' | 'with-prediction' | 'without-prediction';

/**
 * Builds the SQL of a grid query (see GridQuery for filters and sort keys). Pure: the run's class set
 * and layers come in `context`. Throws InvalidRequestError for a value out of range, an unknown name,
 * a filter that needs a run without one, or `hasPrediction: false` with a filter on predictions.
 */
export function buildGridQuery(q: GridQuery, context: GridContext): GridPlan {
  const params: Record<string, number | string> = {
    collectionId: q.collectionId,
    runId: q.runId ?? -1,
  };
  const { runClassSetId } = context;
  const classSetId = q.classSetId ?? runClassSetId;
  params.classSetId = classSetId ?? -1;
  // Which prediction row an image shows: the run's, or the newest among the run and its layers.
  const layered = context.layers.length > 0;
  let predictionOf = 'p.run_id = @runId AND p.image_id = i.id';
  let hasPrediction = 'x.run_id = @runId AND x.image_id = i.id';
  if (layered) {
    params.runIds = JSON.stringify([q.runId, ...context.layers]);
    const inView = 'x.image_id = i.id AND x.run_id IN (SELECT value FROM json_each(@runIds))';
    predictionOf = `p.image_id = i.id AND p.run_id = (SELECT MAX(x.run_id) FROM predictions x WHERE ${inView})`;
    hasPrediction = inView;
  }

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
    if (!Object.hasOwn(labelKindTruth, against))
      throw new InvalidRequestError(`unknown label kind "${against}"`);
    const truth = labelKindTruth[against];
    labelWhere.push(`${truth} IS NOT NULL`);
    predictionWhere.push(outcomeConditions[outcome](truth), notTrainedOn);
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
  if (q.hasPrediction !== undefined && q.runId === undefined)
    throw new InvalidRequestError("the grid's hasPrediction filter needs a run");
  if (q.hasPrediction === false && predictionWhere.length > 0)
    throw new InvalidRequestError(
      "the grid's hasPrediction: false leaves no prediction to filter on (confidence, entropy, class, disagreement, fixed/broken)",
    );

  const sortKey = q.sort?.key ?? 'id';
  const column = Object.hasOwn(sortColumns, sortKey) ? sortColumns[sortKey] : undefined;
  if (!column) throw new InvalidRequestError(`cannot sort the grid by "${sortKey}"`);
  const byPrediction = column.startsWith('p.');
  const direction = q.sort?.direction === 'desc' ? 'DESC' : 'ASC';
  const sorted = `${column} ${direction}, i.id ${direction}`;
  const offset = wholeNumber(q.offset ?? 0, 'offset', 0, Number.MAX_SAFE_INTEGER);
  const limit = wholeNumber(q.limit ?? 200, 'limit', 1, maxGridPageSize);

  // Join only what the filters need: counting 100k rows costs per joined table. Sorting on a
  // prediction column goes through its index over the images that have a prediction (an inner
  // join); images without one follow in id order, as a second segment.
  const fromClause = (segment: Segment, display: boolean) => {
    const predictionJoin =
      segment === 'with-prediction'
        ? `JOIN predictions p ON ${predictionOf}`
        : display
          ? `LEFT JOIN predictions p ON ${predictionOf}`
          : '';
    const labelJoin = display || labelWhere.length > 0 ? labelJoins('i.id', '@classSetId') : '';
    const where = [...imageWhere, ...labelWhere];
    if (segment === 'with-prediction') where.push(...predictionWhere);
    if (segment === 'without-prediction')
      where.push(`NOT EXISTS (SELECT 1 FROM predictions x WHERE ${hasPrediction})`);
    return `FROM images i ${predictionJoin} ${labelJoin} WHERE ${where.join(' AND ')}`;
  };
  const count = (segment: Segment) => `SELECT COUNT(*) AS n ${fromClause(segment, false)}`;
  const page = (segment: Segment, order: string) =>
    `${selectColumns} ${fromClause(segment, true)} ORDER BY ${order} LIMIT @limit OFFSET @offset`;

  const plan = { params, offset, limit };
  if (q.hasPrediction === false) {
    const segment = 'without-prediction';
    return { ...plan, count: count(segment), page: page(segment, byPrediction ? 'i.id' : sorted) };
  }
  if (q.hasPrediction === true || predictionWhere.length > 0) {
    const segment = 'with-prediction';
    return { ...plan, count: count(segment), page: page(segment, sorted) };
  }
  if (byPrediction && layered) {
    // No index orders a layered view: sort its rows, the images without a prediction last.
    return { ...plan, count: count('all'), page: page('all', `p.run_id IS NULL, ${sorted}`) };
  }
  if (byPrediction && q.runId !== undefined) {
    return {
      ...plan,
      count: count('all'),
      page: page('with-prediction', sorted),
      rest: { before: count('with-prediction'), page: page('without-prediction', 'i.id') },
    };
  }
  return { ...plan, count: count('all'), page: page('all', byPrediction ? 'i.id' : sorted) };
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
    /** A page of the grid. Throws InvalidRequestError for a run of another collection or a bad query. */
    query(q: GridQuery): GridPage {
      const context: GridContext = { layers: [] };
      if (q.runId !== undefined) {
        const run = runClassSet.get(q.runId);
        if (!run) throw new InvalidRequestError(`run ${q.runId} does not exist`);
        if (run.collection_id !== q.collectionId)
          throw new InvalidRequestError(`run ${q.runId} is not a run of collection ${q.collectionId}`);
        context.runClassSetId = run.class_set_id;
        if (q.layered) context.layers = layerIds.all(q.runId).map((r) => r.id);
      }
      const { params, offset, limit, ...sql } = buildGridQuery(q, context);
      const count = (statement: string) => (prepared(statement).get(params) as { n: number }).n;
      const page = (statement: string, pageOffset: number, pageLimit: number) =>
        prepared(statement).all({ ...params, limit: pageLimit, offset: pageOffset }) as GridRow[];

      const total = count(sql.count);
      let rows = page(sql.page, offset, limit);
      if (sql.rest && rows.length < limit && offset + rows.length < total) {
        // Where the images with a prediction end: known from this page unless it started past them.
        const predicted = rows.length > 0 ? offset + rows.length : count(sql.rest.before);
        rows = rows.concat(page(sql.rest.page, Math.max(0, offset - predicted), limit - rows.length));
      }
      return {
        total,
        offset,
        items: rows.map((r) => ({ ...r, adapted: r.adapted === null ? null : r.adapted === 1 })),
      };
    },
  };
}

const selectColumns = `SELECT i.id AS imageId, i.rel_path AS relPath, i.width, i.height, i.status, i.error,
  i.content_hash AS contentHash, p.run_id AS runId, p.label AS predicted, p.confidence, p.entropy, p.zero_shot_label AS zeroShotLabel,
  p.zero_shot_entropy AS zeroShotEntropy, p.adapted,
  l.decision, l.class_ordinal AS labelClass, l.source AS labelSource, m.class_ordinal AS importedClass`;

function wholeNumber(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidRequestError(`grid ${name} must be a whole number from ${min} to ${max}, not ${value}`);
  }
  return value;
}

const knownStatuses: ReadonlySet<string> = new Set(IMAGE_STATUSES);
function statusName(status: string): string {
  if (!knownStatuses.has(status)) throw new InvalidRequestError(`unknown image status "${status}"`);
  return status;
}

export type GridRepository = ReturnType<typeof gridRepository>;
