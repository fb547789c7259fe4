// Per-image results of runs: predictions, adapted prompts and views. Writing a result also closes the
// image's work item, in one transaction, so a crash never leaves a result without its item or the
// reverse.
import type { Db } from './database.js';
import { blobToFloat32, float32ToBlob, maxWithIndex } from './float32.js';
import type { AdaptedPrompt, Prediction, StoredView } from '../../shared/domain/results.js';

/** What classifying one image gives: what the store records of it. */
export interface ViewResult {
  /** The view's 2x3 affine warp, row-major (6 numbers). */
  theta: ArrayLike<number>;
  entropy: number;
  /** Whether the view was among the confident views the prompt was tuned on. */
  selected: boolean;
}

export interface ImageResult {
  /** Ordinal of the predicted class within the run's class set. */
  label: number;
  /** Final class probabilities (adapted where adapted is true, otherwise zero-shot). */
  probs: Float32Array;
  zeroShotProbs: Float32Array;
  entropy: number;
  zeroShotEntropy: number;
  adapted: boolean;
  /**
   * Unit features [P] of the original image from the run's model: cached with the result so that new
   * prompts re-score the image without the vision tower. Absent where nothing was encoded (re-scoring).
   */
  imageFeatures?: Float32Array;
  /** The tuned prompt context vectors, shape [nCtx, width]. */
  ctx?: { shape: number[]; data: Float32Array };
  /** For each context position, the vocabulary tokens nearest to its vector. */
  nearestTokens?: string[][];
  views?: ViewResult[];
  /** Loss values per optimisation step, by loss name. */
  losses?: Record<string, number[]>;
  /** Milliseconds per phase, by phase name. */
  timings: Record<string, number>;
}

interface PredictionRow {
  run_id: number;
  image_id: number;
  label: number;
  confidence: number;
  probs: Buffer;
  zero_shot_label: number;
  zero_shot_probs: Buffer;
  entropy: number;
  zero_shot_entropy: number;
  adapted: number;
  losses_json: string | null;
  timings_json: string;
  created_at: number;
}

const toPrediction = (r: PredictionRow): Prediction => ({
  runId: r.run_id,
  imageId: r.image_id,
  label: r.label,
  confidence: r.confidence,
  probs: blobToFloat32(r.probs),
  zeroShotLabel: r.zero_shot_label,
  zeroShotProbs: blobToFloat32(r.zero_shot_probs),
  entropy: r.entropy,
  zeroShotEntropy: r.zero_shot_entropy,
  adapted: r.adapted === 1,
  losses: r.losses_json === null ? null : (JSON.parse(r.losses_json) as Record<string, number[]>),
  timings: JSON.parse(r.timings_json) as Record<string, number>,
  createdAt: r.created_at,
});

const selectPrediction = `SELECT p.*, d.probs, d.zero_shot_probs, d.losses_json, d.timings_json
  FROM predictions p JOIN prediction_details d ON d.run_id = p.run_id AND d.image_id = p.image_id`;

export function resultsRepository(db: Db) {
  const insertPrediction = db.prepare(
    `INSERT INTO predictions (run_id, image_id, label, confidence, zero_shot_label, entropy, zero_shot_entropy,
       adapted, created_at)
     VALUES (@runId, @imageId, @label, @confidence, @zeroShotLabel, @entropy, @zeroShotEntropy, @adapted, @now)`,
  );
  const insertDetails = db.prepare(
    `INSERT INTO prediction_details (run_id, image_id, probs, zero_shot_probs, losses_json, timings_json)
     VALUES (@runId, @imageId, @probs, @zeroShotProbs, @losses, @timings)`,
  );
  const insertPrompt = db.prepare(
    `INSERT INTO adapted_prompts (run_id, image_id, ctx, ctx_shape_json, nearest_tokens_json)
     VALUES (?, ?, ?, ?, ?)`,
  );
  // Keyed by the run's model: features belong to the model, whatever the class set or method. Only
  // exact (fp32) features are cached: re-scoring reads them as the model's, and an int8 run's differ.
  const cacheFeatures = db.prepare<[number, Buffer, number]>(
    `INSERT OR REPLACE INTO image_features (model_id, image_id, features)
     SELECT model_id, ?, ? FROM runs
     WHERE id = ? AND coalesce(json_extract(params_json, '$.precision'), 'fp32') = 'fp32'`,
  );
  const insertView = db.prepare(
    `INSERT INTO views (run_id, image_id, view_index, theta, entropy, selected) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const closeItem = db.prepare<[string, string | null, number, number]>(
    "UPDATE run_items SET state = ?, error = ? WHERE run_id = ? AND image_id = ? AND state = 'pending'",
  );
  const countDone = db.prepare<[number]>('UPDATE runs SET done_count = done_count + 1 WHERE id = ?');
  const countFailed = db.prepare<[number]>('UPDATE runs SET failed_count = failed_count + 1 WHERE id = ?');
  const prediction = db.prepare<[number, number], PredictionRow>(
    `${selectPrediction} WHERE p.run_id = ? AND p.image_id = ?`,
  );
  const predictionsOfImage = db.prepare<[number], PredictionRow>(
    `${selectPrediction} WHERE p.image_id = ? ORDER BY p.run_id`,
  );
  const prompt = db.prepare<
    [number, number],
    { ctx: Buffer; ctx_shape_json: string; nearest_tokens_json: string | null }
  >('SELECT ctx, ctx_shape_json, nearest_tokens_json FROM adapted_prompts WHERE run_id = ? AND image_id = ?');
  const viewsOf = db.prepare<
    [number, number],
    { view_index: number; theta: Buffer; entropy: number; selected: number }
  >(
    'SELECT view_index, theta, entropy, selected FROM views WHERE run_id = ? AND image_id = ? ORDER BY view_index',
  );

  const itemState = db.prepare<[number, number], { state: string }>(
    'SELECT state FROM run_items WHERE run_id = ? AND image_id = ?',
  );
  const isPending = (runId: number, imageId: number) => itemState.get(runId, imageId)?.state === 'pending';

  const closePending = (runId: number, imageId: number, state: 'done' | 'failed', error: string | null) => {
    if (closeItem.run(state, error, runId, imageId).changes !== 1) {
      throw new Error(`run ${runId} has no pending item for image ${imageId}`);
    }
  };

  const writeResult = (runId: number, imageId: number, result: ImageResult) => {
    closePending(runId, imageId, 'done', null);
    insertPrediction.run({
      runId,
      imageId,
      label: result.label,
      confidence: maxWithIndex(result.probs).value,
      zeroShotLabel: maxWithIndex(result.zeroShotProbs).index,
      entropy: result.entropy,
      zeroShotEntropy: result.zeroShotEntropy,
      adapted: result.adapted ? 1 : 0,
      now: Date.now(),
    });
    insertDetails.run({
      runId,
      imageId,
      probs: float32ToBlob(result.probs),
      zeroShotProbs: float32ToBlob(result.zeroShotProbs),
      losses: result.losses ? JSON.stringify(result.losses) : null,
      timings: JSON.stringify(result.timings),
    });
    if (result.ctx) {
      insertPrompt.run(
        runId,
        imageId,
        float32ToBlob(result.ctx.data),
        JSON.stringify(result.ctx.shape),
        result.nearestTokens ? JSON.stringify(result.nearestTokens) : null,
      );
    }
    result.views?.forEach((view, index) => {
      if (view.theta.length !== 6)
        throw new Error(
          `view ${index} of image ${imageId} has a theta of ${view.theta.length} numbers, not 6`,
        );
      insertView.run(runId, imageId, index, float32ToBlob(view.theta), view.entropy, view.selected ? 1 : 0);
    });
    if (result.imageFeatures) cacheFeatures.run(imageId, float32ToBlob(result.imageFeatures), runId);
    countDone.run(runId);
  };

  const writeFailure = (runId: number, imageId: number, error: string) => {
    closePending(runId, imageId, 'failed', error);
    countFailed.run(runId);
  };

  return {
    /** Stores one image's result (and its image features) and marks its work item done, atomically. */
    recordResult(runId: number, imageId: number, result: ImageResult): void {
      db.transaction(() => writeResult(runId, imageId, result))();
    },
    /** Stores many images' results of a run in one transaction (re-scoring thousands at once). */
    recordResults(runId: number, results: { imageId: number; result: ImageResult }[]): void {
      db.transaction(() => {
        for (const { imageId, result } of results) writeResult(runId, imageId, result);
      })();
    },
    /**
     * recordResult, unless the image's item is already closed (its result or failure recorded): then
     * nothing is written and the answer is false. For results that can arrive twice (a queue delivers
     * at least once).
     */
    recordResultOnce(runId: number, imageId: number, result: ImageResult): boolean {
      return db.transaction(() => {
        if (!isPending(runId, imageId)) return false;
        writeResult(runId, imageId, result);
        return true;
      })();
    },
    /** recordFailure, unless the image's item is already closed; false then, and nothing is written. */
    recordFailureOnce(runId: number, imageId: number, error: string): boolean {
      return db.transaction(() => {
        if (!isPending(runId, imageId)) return false;
        writeFailure(runId, imageId, error);
        return true;
      })();
    },
    /** Marks an image's work item failed with the reason; the run goes on. */
    recordFailure(runId: number, imageId: number, error: string): void {
      db.transaction(() => writeFailure(runId, imageId, error))();
    },
    prediction(runId: number, imageId: number): Prediction | undefined {
      const row = prediction.get(runId, imageId);
      return row && toPrediction(row);
    },
    predictionsOfImage(imageId: number): Prediction[] {
      return predictionsOfImage.all(imageId).map(toPrediction);
    },
    adaptedPrompt(runId: number, imageId: number): AdaptedPrompt | undefined {
      const row = prompt.get(runId, imageId);
      if (!row) return undefined;
      return {
        ctx: { shape: JSON.parse(row.ctx_shape_json) as number[], data: blobToFloat32(row.ctx) },
        nearestTokens:
          row.nearest_tokens_json === null ? null : (JSON.parse(row.nearest_tokens_json) as string[][]),
      };
    },
    views(runId: number, imageId: number): StoredView[] {
      return viewsOf.all(runId, imageId).map((v) => ({
        viewIndex: v.view_index,
        theta: Array.from(blobToFloat32(v.theta)),
        entropy: v.entropy,
        selected: v.selected === 1,
      }));
    },
  };
}

export type ResultsRepository = ReturnType<typeof resultsRepository>;
