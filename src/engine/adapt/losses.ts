// The test-time objectives, traced (for gradients), and the confident-view selection on the host
// (host arithmetic itself is in ../host-math.ts).
import type { Tensor } from '../tensor.js';

/** Entropy of softmax(logits) per row: −Σ p·log p. */
export function rowEntropy(logits: Tensor): Tensor {
  const logProbs = logits.logSoftmax(-1);
  return logProbs.exp().mul(logProbs).sum(-1).neg();
}

/**
 * TPT's marginal entropy: the entropy of the mean of the rows' softmax distributions, computed in
 * log space as the official code does (avg_entropy).
 */
export function marginalEntropy(logits: Tensor): Tensor {
  const rows = logits.shape[0];
  const meanLogProbs = logits.logSoftmax(-1).logsumexp(0).sub(Math.log(rows));
  return meanLogProbs.exp().mul(meanLogProbs).sum().neg();
}

/**
 * Confidence selection: the indices of the `k` lowest-entropy rows in ascending entropy order, with
 * k = int(ratio · n) as in the official code, but at least one.
 */
export function selectConfident(rowEntropies: ArrayLike<number>, ratio: number): number[] {
  const k = Math.max(1, Math.floor(rowEntropies.length * ratio));
  return [...Array(rowEntropies.length).keys()]
    .sort((a, b) => rowEntropies[a] - rowEntropies[b] || a - b)
    .slice(0, k);
}
