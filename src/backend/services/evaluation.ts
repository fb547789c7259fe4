// A run against labels, compared with its zero-shot baseline: what the Runs view, `metatpt evaluate`
// and `metatpt status --run N --json` report.
//
// The baseline is the zero-shot prediction every result stores (ImageResult.zeroShotProbs): the
// same model, class set, prompts and image, computed in the same pass. Comparing with the
// collection's separate zero-shot run instead would pair results that may differ in model or in
// prompts edited since, would cover other images (an uncertain-only run adapts a few), and may not
// exist; McNemar's test needs exactly the same images under both.
import { comparePaired, median, type LabelKind } from '../../shared/domain/evaluation.js';
import type { Store } from '../store/index.js';
import type { RunEvaluation } from '../../shared/domain/runs.js';

/** Evaluates a run against labels of the given kind. Throws when the run does not exist. */
export function evaluateRun(store: Store, runId: number, against: LabelKind = 'all'): RunEvaluation {
  const run = store.runs.require(runId);
  const labelled = store.evaluation.labelledResults(runId, against);
  const timings = store.evaluation.timings(runId);
  const zeroShotMs = timings.flatMap((t) => (t.zeroShotMs === null ? [] : [t.zeroShotMs]));
  return {
    runId,
    method: run.method,
    against,
    results: store.evaluation.resultCount(runId),
    labelled: labelled.length,
    trainedOn: store.evaluation.trainedOnCount(runId, against),
    adapted: labelled.filter((r) => r.adapted).length,
    comparison:
      labelled.length === 0
        ? null
        : comparePaired(
            labelled.map((r) => ({
              truth: r.truth,
              predicted: r.predicted,
              confidence: r.confidence,
              baselinePredicted: r.zeroShotLabel,
              baselineConfidence: r.zeroShotConfidence,
            })),
          ),
    time:
      timings.length === 0
        ? null
        : {
            timedImages: timings.length,
            msPerImage: median(timings.map((t) => t.totalMs)),
            zeroShotMsPerImage: zeroShotMs.length === 0 ? null : median(zeroShotMs),
          },
  };
}
