// Runs CLIP's towers on host data: compiles each tower once per shape and feeds it batches.
import type { VisionPrecision } from '../../shared/domain/adaptation.js';
import { tracedFamily, type Engine, type Inputs } from '../runtime.js';
import { clipLogits, type ClipModel, type TextBucket } from './model.js';
import type { EncodedBatch } from './tokenizer.js';

/** Text features [C, P] of token ids [C, L] whose end-of-text positions are eot [C]. */
const textTower = tracedFamily('text', (model: ClipModel) => ({ ids, eot }: Inputs<'ids' | 'eot'>) => ({
  features: model.encodeTextEmbeddings(model.embedTokens(ids), eot),
}));

/** As textTower, with positions 1..n_ctx embedded as the context vectors ctx [n_ctx, D]. */
const textTowerWithContext = tracedFamily(
  'text-ctx',
  (model: ClipModel) =>
    ({ ids, eot, ctx }: Inputs<'ids' | 'eot' | 'ctx'>) => ({
      features: model.encodeTextEmbeddings(model.embedPrompts(ids, ctx), eot),
    }),
);

/** Image features [N, P] of normalised pixels [N, 3, S, S]. */
const visionTower = tracedFamily(
  'vision',
  (model: ClipModel, precision: VisionPrecision) =>
    ({ pixels }: Inputs<'pixels'>) => ({ features: model.encodeImages(pixels, precision) }),
);

/** Logits [N, C] of image features [N, P] and text features [C, P]. */
const logitsOf = tracedFamily(
  'logits',
  (model: ClipModel) =>
    ({ image, text }: Inputs<'image' | 'text'>) => ({
      logits: clipLogits(image, text, model.logitScale),
    }),
);

/** Token ids cut to their first `length` positions (everything after end-of-text is inert). */
export function trimTokens(batch: EncodedBatch, length = batch.maxLength): Int32Array {
  const rows = batch.eot.length;
  const trimmed = new Int32Array(rows * length);
  for (let r = 0; r < rows; r++) {
    trimmed.set(batch.ids.subarray(r * batch.contextLength, r * batch.contextLength + length), r * length);
  }
  return trimmed;
}

/**
 * Rows grouped by prompt length for ClipModel.encodeTextInBuckets: `order` lists the rows by
 * ascending end-of-text position (ties in row order), and its consecutive `buckets` (at most
 * `maxBuckets`) each run at their longest prompt's length, split where that computes the fewest token
 * positions (exact minimum over the distinct lengths). Throws when maxBuckets < 1.
 */
export function planTextBuckets(
  eot: Int32Array,
  maxBuckets: number,
): { order: Int32Array; buckets: TextBucket[] } {
  if (maxBuckets < 1) throw new Error(`maxBuckets must be at least 1 (got ${maxBuckets})`);
  const order = Int32Array.from(eot.keys()).sort((a, b) => eot[a] - eot[b] || a - b);
  const counts = new Map<number, number>();
  for (const e of eot) counts.set(e + 1, (counts.get(e + 1) ?? 0) + 1);
  const lengths = [...counts.keys()].sort((a, b) => a - b);
  const n = lengths.length;
  const groups = Math.min(maxBuckets, n);
  const upTo = [0];
  for (const length of lengths) upTo.push(upTo.at(-1)! + counts.get(length)!);
  // best[g][j]: fewest positions for the first j distinct lengths in g buckets; cut[g][j] where the
  // last of those buckets starts.
  const best = Array.from({ length: groups + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const cut = Array.from({ length: groups + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0][0] = 0;
  for (let g = 1; g <= groups; g++) {
    for (let j = 1; j <= n; j++) {
      for (let i = g - 1; i < j; i++) {
        const cost = best[g - 1][i] + (upTo[j] - upTo[i]) * lengths[j - 1];
        if (cost < best[g][j]) [best[g][j], cut[g][j]] = [cost, i];
      }
    }
  }
  let g = 1;
  for (let k = 2; k <= groups; k++) if (best[k][n] < best[g][n]) g = k;
  const buckets: TextBucket[] = [];
  for (let j = n; g > 0; g--) {
    const i = cut[g][j];
    buckets.unshift({ rows: upTo[j] - upTo[i], length: lengths[j - 1] });
    j = i;
  }
  return { order, buckets };
}

export interface TextEncodeOptions {
  /** Context vectors [n_ctx, D] replacing the embeddings of positions 1..n_ctx. */
  ctx?: Float32Array;
  nCtx?: number;
  /** Run at the longest real prompt length (default) or at the full context length. */
  trim?: boolean;
}

export interface ImageEncodeOptions {
  signal?: AbortSignal;
  /** Arithmetic of the tower's linear layers (default fp32, exact); see VISION_PRECISIONS. */
  precision?: VisionPrecision;
}

export class ClipEncoder {
  constructor(
    readonly model: ClipModel,
    readonly engine: Engine,
    /** Images per vision-tower run. */
    readonly imageBatchSize = 8,
  ) {}

  get projectionDim(): number {
    return this.model.config.projectionDim;
  }

  /** Text features [C, P], not normalised. */
  async encodeText(batch: EncodedBatch, options: TextEncodeOptions = {}): Promise<Float32Array> {
    const rows = batch.eot.length;
    const length = options.trim === false ? batch.contextLength : batch.maxLength;
    const ids = options.trim === false ? batch.ids : trimTokens(batch, length);
    const width = this.model.config.text.hiddenSize;
    if (options.ctx) {
      const nCtx = options.nCtx ?? options.ctx.length / width;
      const fn = await this.engine.compile(textTowerWithContext(this.model), {
        inputs: {
          ids: { shape: [rows, length], dtype: 'int64' },
          eot: { shape: [rows], dtype: 'int64' },
          ctx: { shape: [nCtx, width] },
        },
      });
      return (await fn.run({ ids, eot: batch.eot, ctx: options.ctx })).features.data as Float32Array;
    }
    const fn = await this.engine.compile(textTower(this.model), {
      inputs: { ids: { shape: [rows, length], dtype: 'int64' }, eot: { shape: [rows], dtype: 'int64' } },
    });
    return (await fn.run({ ids, eot: batch.eot })).features.data as Float32Array;
  }

  /** Image features [N, P], not normalised, of N normalised images [N, 3, S, S] laid end to end. */
  async encodeImages(
    pixels: Float32Array,
    count: number,
    { signal, precision = 'fp32' }: ImageEncodeOptions = {},
  ): Promise<Float32Array> {
    const { imageSize, numChannels } = this.model.config.vision;
    const perImage = numChannels * imageSize * imageSize;
    if (pixels.length !== count * perImage) {
      throw new Error(
        `encodeImages: ${count} images of [${numChannels},${imageSize},${imageSize}] need ${count * perImage} values, got ${pixels.length}`,
      );
    }
    const out = new Float32Array(count * this.projectionDim);
    for (let start = 0; start < count; start += this.imageBatchSize) {
      signal?.throwIfAborted();
      const n = Math.min(this.imageBatchSize, count - start);
      const fn = await this.engine.compile(visionTower(this.model, precision), {
        inputs: { pixels: { shape: [n, numChannels, imageSize, imageSize] } },
      });
      const result = await fn.run({ pixels: pixels.subarray(start * perImage, (start + n) * perImage) });
      out.set(result.features.data as Float32Array, start * this.projectionDim);
    }
    return out;
  }

  /** Logits [N, C] = exp(logit_scale) · cos(image, text), from features computed above. */
  async logits(imageFeatures: Float32Array, textFeatures: Float32Array): Promise<Float32Array> {
    const p = this.projectionDim;
    const [n, c] = [imageFeatures.length / p, textFeatures.length / p];
    const fn = await this.engine.compile(logitsOf(this.model), {
      inputs: { image: { shape: [n, p] }, text: { shape: [c, p] } },
    });
    return (await fn.run({ image: imageFeatures, text: textFeatures })).logits.data as Float32Array;
  }
}
