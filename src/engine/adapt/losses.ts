// The test-time objectives, traced (for gradients) and on the host (for selection and reporting).
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

/** Softmax of one row of host logits, in float64. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = Float64Array.from(logits, (l) => Math.exp(l - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / sum);
}

/** Entropy of softmax(logits) for each of the `rows` rows of a host [rows, classes] array. */
export function entropies(logits: Float32Array, rows: number): Float64Array {
  const classes = logits.length / rows;
  return Float64Array.from({ length: rows }, (_, r) => {
    const p = softmax(logits.subarray(r * classes, (r + 1) * classes));
    return -p.reduce((h, q) => (q > 0 ? h + q * Math.log(q) : h), 0);
  });
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
