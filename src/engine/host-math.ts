// Arithmetic on host arrays, outside the traced graph: turning logits into probabilities, their
// entropy and prediction, similarities of unit feature rows and normalisation. Every layer that scores
// on the host (adaptation, re-scoring cached features, benchmarks) uses these, so results agree to the
// bit wherever they are computed. Arrays are row-major; `width` is the length of one row.

/** Softmax of one row of host logits, in float64. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = Float64Array.from(logits, (l) => Math.exp(l - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / sum);
}

/** Entropy −Σ p·log p (nats) of a probability vector; zero probabilities contribute nothing. */
export function entropy(probs: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > 0) h -= probs[i] * Math.log(probs[i]);
  return h;
}

/** Entropy of softmax(logits) for each of the `rows` rows of a host [rows, classes] array. */
export function entropies(logits: Float32Array, rows: number): Float64Array {
  const classes = logits.length / rows;
  return Float64Array.from({ length: rows }, (_, r) =>
    entropy(softmax(logits.subarray(r * classes, (r + 1) * classes))),
  );
}

/** The mean over rows of softmax(logits) for a host [rows, classes] array. */
export function averageSoftmax(logits: Float32Array, rows: number): Float64Array {
  const classes = logits.length / rows;
  const mean = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    softmax(logits.subarray(r * classes, (r + 1) * classes)).forEach((p, c) => (mean[c] += p / rows));
  }
  return mean;
}

/** Index of the largest value (the first, on ties); 0 for an empty array. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Rows of a host [n, width] array scaled to unit length. */
export function normalizeRowsHost(x: Float32Array, width: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / width; r++) {
    const row = x.subarray(r * width, (r + 1) * width);
    const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    for (let i = 0; i < width; i++) out[r * width + i] = row[i] / norm;
  }
  return out;
}

/** Host matmul of unit rows: logits [N, C] = scale · a [N, P] · b [C, P]ᵀ. */
export function scaledSimilarities(
  a: Float32Array,
  b: Float32Array,
  width: number,
  scale: number,
): Float32Array {
  const [n, c] = [a.length / width, b.length / width];
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      let dot = 0;
      for (let k = 0; k < width; k++) dot += a[i * width + k] * b[j * width + k];
      out[i * c + j] = scale * dot;
    }
  }
  return out;
}
