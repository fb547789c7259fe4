// What evaluating a run against labels reads: each result whose image carries a label of the chosen
// kind under the run's class set, with the run's and the zero-shot prediction and confidence, and the
// per-image compute times. The arithmetic lives in src/shared/evaluation.ts.
import { LABEL_KINDS, type LabelKind } from '../../shared/domain/evaluation.js';
import type { Db } from './database.js';

/** Joins the image `i`'s decision `l` and imported label `m` under the class set `classSet` (SQL). */
export const labelJoins = (image: string, classSet: string): string =>
  `LEFT JOIN labels l ON l.image_id = ${image} AND l.class_set_id = ${classSet} ` +
  `LEFT JOIN imported_labels m ON m.image_id = ${image} AND m.class_set_id = ${classSet}`;

const decidedClass = "CASE WHEN l.decision = 'label' THEN l.class_ordinal END";

/**
 * SQL expression over `l` and `m` (labelJoins) for the true class by each kind of label, NULL where
 * the image has none: 'reviewed' the expert's label, 'imported' the imported one, 'all' the expert's
 * where there is one, else the imported one.
 */
export const labelKindTruth: Record<LabelKind, string> = {
  all: `COALESCE(${decidedClass}, m.class_ordinal)`,
  reviewed: decidedClass,
  imported: 'm.class_ordinal',
};

/**
 * SQL condition on the prediction `p`: its image's label did not train the run's learned prompt
 * (`params.learnedPrompt`; labels it held out for validation count as unseen). A prompt scored on its
 * own training labels would look better than it is, so evaluations and the fixed/broken filters
 * judge only the rest. The subquery does not refer to `p`, so SQLite builds the set of (run, image)
 * pairs once per statement instead of reading a prompt's labels again for every row (a correlated
 * form took 7.4 s to evaluate a run over 3000 labels).
 */
export const notTrainedOn = `(p.run_id, p.image_id) NOT IN (
  SELECT tr.id, json_extract(j.value, '$[0]')
  FROM runs tr
  JOIN learned_prompts lp ON lp.id = json_extract(tr.params_json, '$.learnedPrompt'),
    json_each(lp.labels_json) j
  WHERE json_extract(j.value, '$[2]') = 0)`;

export interface LabelledResult {
  imageId: number;
  truth: number;
  predicted: number;
  confidence: number;
  zeroShotLabel: number;
  zeroShotConfidence: number;
  /** False where the run kept the zero-shot result (a zero-shot run, or an image below its entropy threshold). */
  adapted: boolean;
}

type LabelledRow = Omit<LabelledResult, 'adapted'> & { adapted: number };

export interface ResultTiming {
  /** Milliseconds of every timed phase of the image together. */
  totalMs: number;
  /** Milliseconds of encoding the original image, the zero-shot part of the work. */
  zeroShotMs: number | null;
}

export function evaluationRepository(db: Db) {
  const labelled = new Map(
    LABEL_KINDS.map((kind) => [
      kind,
      db.prepare<[number], LabelledRow>(
        `SELECT p.image_id AS imageId, ${labelKindTruth[kind]} AS truth, p.label AS predicted, p.confidence,
           p.zero_shot_label AS zeroShotLabel, f32_max(d.zero_shot_probs) AS zeroShotConfidence, p.adapted
         FROM predictions p
         JOIN runs r ON r.id = p.run_id
         ${labelJoins('p.image_id', 'r.class_set_id')}
         JOIN prediction_details d ON d.run_id = p.run_id AND d.image_id = p.image_id
         WHERE p.run_id = ? AND ${labelKindTruth[kind]} IS NOT NULL AND ${notTrainedOn}
         ORDER BY p.image_id`,
      ),
    ]),
  );
  const trainedOn = new Map(
    LABEL_KINDS.map((kind) => [
      kind,
      db.prepare<[number], { n: number }>(
        `SELECT COUNT(*) AS n FROM predictions p
         JOIN runs r ON r.id = p.run_id
         ${labelJoins('p.image_id', 'r.class_set_id')}
         WHERE p.run_id = ? AND ${labelKindTruth[kind]} IS NOT NULL AND NOT ${notTrainedOn}`,
      ),
    ]),
  );
  const resultCount = db.prepare<[number], { n: number }>(
    'SELECT COUNT(*) AS n FROM predictions WHERE run_id = ?',
  );
  // Re-scored results (from cached features) time nothing: their timings are empty and left out.
  const timings = db.prepare<[number], ResultTiming>(
    `SELECT (SELECT SUM(t.value) FROM json_each(d.timings_json) t) AS totalMs,
       json_extract(d.timings_json, '$.encodeOriginal') AS zeroShotMs
     FROM prediction_details d
     WHERE d.run_id = ? AND d.timings_json != '{}'`,
  );

  return {
    /**
     * The run's results on images labelled with a class of the given kind, in image order, but for
     * those whose labels trained the run's learned prompt (notTrainedOn).
     */
    labelledResults: (runId: number, kind: LabelKind): LabelledResult[] =>
      labelled
        .get(kind)!
        .all(runId)
        .map((r) => ({ ...r, adapted: r.adapted === 1 })),
    /** Labelled results left out because the run's learned prompt was trained on their labels. */
    trainedOnCount: (runId: number, kind: LabelKind): number => trainedOn.get(kind)!.get(runId)!.n,
    /** How many images the run has a result for. */
    resultCount: (runId: number): number => resultCount.get(runId)!.n,
    /** Per-image compute times of the run's results that were timed. */
    timings: (runId: number): ResultTiming[] => timings.all(runId),
  };
}

export type EvaluationRepository = ReturnType<typeof evaluationRepository>;
