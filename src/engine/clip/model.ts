// CLIP's text and vision towers, written once against the traced tensor API. Parameter names are
// those of Hugging Face's CLIPModel, so a checkpoint's tensors are used as loaded.
import {
  constant,
  linear,
  layerNorm,
  concat,
  param,
  quantizedLinear,
  quantizeWeight,
  type Tensor,
  type DType,
  type QuantizedWeight,
} from '../tensor.js';
import type { VisionPrecision } from '../../shared/domain/adaptation.js';
import type { Activation, ClipConfig, ClipPreprocessConfig } from './config.js';
import { loadClipModelFiles } from './model-files.js';
import type { SafetensorsTensor } from './safetensors.js';
import type { ClipTokenizer } from './tokenizer.js';

interface TowerShape {
  hiddenSize: number;
  numHeads: number;
  numLayers: number;
  hiddenAct: Activation;
  layerNormEps: number;
}

function activation(kind: Activation, x: Tensor): Tensor {
  // quick_gelu is OpenAI CLIP's approximation; gelu (erf form) is used by some OpenCLIP models.
  return kind === 'quick_gelu'
    ? x.mul(x.mul(1.702).sigmoid())
    : x.mul(x.mul(Math.SQRT1_2).erf().add(1)).mul(0.5);
}

/** A large negative additive mask value that stays finite in the dtype (softmax of it is 0). */
function maskValue(dtype: DType): number {
  return dtype === 'float16' ? -6e4 : -1e9;
}

/** Consecutive text rows run at one length (ClipModel.encodeTextInBuckets). */
export interface TextBucket {
  rows: number;
  length: number;
}

export class ClipModel {
  private readonly params = new Map<string, Tensor>();
  private readonly quantized = new Map<string, QuantizedWeight>();

  constructor(
    /** Identifies the weights in compiled-function cache keys. */
    readonly id: string,
    readonly config: ClipConfig,
    readonly preprocess: ClipPreprocessConfig,
    readonly tokenizer: ClipTokenizer,
    private readonly weights: Map<string, SafetensorsTensor>,
  ) {}

  static load(dir: string): ClipModel {
    const files = loadClipModelFiles(dir);
    return new ClipModel(dir, files.config, files.preprocess, files.tokenizer, files.weights);
  }

  /** The traced leaf for a checkpoint tensor; one per name, shared by every compiled graph. */
  weight(name: string): Tensor {
    let t = this.params.get(name);
    if (!t) {
      const w = this.weights.get(name);
      if (!w) throw new Error(`${this.id}: the checkpoint has no tensor '${name}'`);
      t = param(name, w.shape, w.data);
      this.params.set(name, t);
    }
    return t;
  }

  /** Host copy of a checkpoint tensor (for example the token embedding table, to read prompts back). */
  weightData(name: string): Float32Array {
    const w = this.weights.get(name);
    if (!w) throw new Error(`${this.id}: the checkpoint has no tensor '${name}'`);
    return w.data;
  }

  /** exp(logit_scale), the multiplier of cosine similarities. */
  get logitScale(): number {
    return Math.exp(this.weightData('logit_scale')[0]);
  }

  /** The int8 form of a linear weight, quantised once per model on first use and then shared. */
  private quantizedWeight(name: string): QuantizedWeight {
    let q = this.quantized.get(name);
    if (!q) {
      const w = this.weight(name);
      q = quantizeWeight(this.weightData(name), w.shape);
      this.quantized.set(name, q);
    }
    return q;
  }

  private linear(prefix: string, x: Tensor, precision: VisionPrecision): Tensor {
    const bias = this.weight(`${prefix}.bias`);
    return precision === 'int8'
      ? quantizedLinear(x, this.quantizedWeight(`${prefix}.weight`), bias)
      : linear(x, this.weight(`${prefix}.weight`), bias);
  }

  private layerNorm(prefix: string, x: Tensor, eps: number): Tensor {
    return layerNorm(x, this.weight(`${prefix}.weight`), this.weight(`${prefix}.bias`), eps);
  }

  private attention(
    prefix: string,
    x: Tensor,
    heads: number,
    mask: Tensor | null,
    precision: VisionPrecision,
  ): Tensor {
    const [batch, length, width] = x.shape;
    const headDim = width / heads;
    const split = (t: Tensor): Tensor => t.reshape([batch, length, heads, headDim]).transpose([0, 2, 1, 3]);
    const q = split(this.linear(`${prefix}.q_proj`, x, precision).mul(1 / Math.sqrt(headDim)));
    const k = split(this.linear(`${prefix}.k_proj`, x, precision));
    const v = split(this.linear(`${prefix}.v_proj`, x, precision));
    let scores = q.matmul(k.mT);
    if (mask) scores = scores.add(mask);
    const context = scores.softmax(-1).matmul(v).transpose([0, 2, 1, 3]).reshape([batch, length, width]);
    return this.linear(`${prefix}.out_proj`, context, precision);
  }

  /** The pre-LayerNorm transformer shared by both towers. */
  private encoder(
    prefix: string,
    x: Tensor,
    tower: TowerShape,
    mask: Tensor | null,
    precision: VisionPrecision = 'fp32',
  ): Tensor {
    for (let i = 0; i < tower.numLayers; i++) {
      const layer = `${prefix}.encoder.layers.${i}`;
      x = x.add(
        this.attention(
          `${layer}.self_attn`,
          this.layerNorm(`${layer}.layer_norm1`, x, tower.layerNormEps),
          tower.numHeads,
          mask,
          precision,
        ),
      );
      const h = this.layerNorm(`${layer}.layer_norm2`, x, tower.layerNormEps);
      x = x.add(
        this.linear(
          `${layer}.mlp.fc2`,
          activation(tower.hiddenAct, this.linear(`${layer}.mlp.fc1`, h, precision)),
          precision,
        ),
      );
    }
    return x;
  }

  /** Token embeddings [C, L, D] of int64 ids [C, L]. */
  embedTokens(ids: Tensor): Tensor {
    return this.weight('text_model.embeddings.token_embedding.weight').gather(ids, 0);
  }

  /**
   * Token embeddings with positions 1..n_ctx (right after the start token) replaced by the shared
   * context vectors `ctx` [n_ctx, D] — the CoOp / TPT prompt learner.
   */
  embedPrompts(ids: Tensor, ctx: Tensor): Tensor {
    const [classes, length] = ids.shape;
    const nCtx = ctx.shape[0];
    const tokens = this.embedTokens(ids);
    const shared = ctx.reshape([1, nCtx, ctx.shape[1]]).expand([classes, nCtx, ctx.shape[1]]);
    return concat([tokens.slice(1, 0, 1), shared, tokens.slice(1, 1 + nCtx, length)], 1);
  }

  /**
   * Text features [C, P] (not normalised) of token embeddings [C, L, D]. `eot` [C] (int64) holds the
   * pooled position of each row. Under the causal mask nothing after it matters, so L may be any
   * length ≥ max(eot) + 1 — the caller trims to the class set's longest prompt.
   */
  encodeTextEmbeddings(embeds: Tensor, eot: Tensor): Tensor {
    const { text } = this.config;
    const [classes, length, width] = embeds.shape;
    const positions = this.weight('text_model.embeddings.position_embedding.weight').slice(0, 0, length);
    const causal = new Float32Array(length * length);
    for (let i = 0; i < length; i++)
      for (let j = i + 1; j < length; j++) causal[i * length + j] = maskValue(embeds.dtype);
    const mask = constant(causal, [length, length], 'float32').cast(embeds.dtype);
    const hidden = this.layerNorm(
      'text_model.final_layer_norm',
      this.encoder('text_model', embeds.add(positions), text, mask),
      text.layerNormEps,
    );
    // Pick row eot[c] of sequence c: flatten to [C·L, D] and gather at c·L + eot[c].
    const rowOffsets = constant(
      BigInt64Array.from({ length: classes }, (_, c) => BigInt(c * length)),
      [classes],
      'int64',
    );
    const pooled = hidden.reshape([classes * length, width]).gather(eot.cast('int64').add(rowOffsets), 0);
    return pooled.matmul(this.weight('text_projection.weight').mT);
  }

  /**
   * encodeTextEmbeddings with the rows [C, L, D] split, in order, into buckets of `rows` sequences
   * that each run at their own `length` (at least the bucket's longest eot + 1, at most L): the
   * padding after a short prompt's end-of-text is not computed. Same features as one pass, since the
   * mask is causal and each feature is read at eot. The buckets' rows must add up to C.
   */
  encodeTextInBuckets(embeds: Tensor, eot: Tensor, buckets: readonly TextBucket[]): Tensor {
    const [classes, length] = embeds.shape;
    if (buckets.reduce((n, b) => n + b.rows, 0) !== classes || buckets.some((b) => b.length > length))
      throw new Error(`text buckets ${JSON.stringify(buckets)} do not split ${classes} rows of ${length}`);
    if (buckets.length === 1 && buckets[0].length === length) return this.encodeTextEmbeddings(embeds, eot);
    let start = 0;
    const features = buckets.map(({ rows, length: trimmed }) => {
      const end = start + rows;
      const part = embeds.slice(0, start, end).slice(1, 0, trimmed);
      const out = this.encodeTextEmbeddings(part, eot.slice(0, start, end));
      start = end;
      return out;
    });
    return concat(features, 0);
  }

  /**
   * Image features [B, P] (not normalised) of normalised pixels [B, C, S, S]. `precision` int8
   * quantises the linear layers (attention products, layer norms and the patch embedding stay
   * fp32); it is for inference only: a graph that differentiates through it fails in grad().
   */
  encodeImages(pixels: Tensor, precision: VisionPrecision = 'fp32'): Tensor {
    const { vision } = this.config;
    const [batch, channels, size] = pixels.shape;
    const p = vision.patchSize;
    const grid = size / p;
    const width = vision.hiddenSize;
    // The patch convolution (stride = kernel = p, no bias) as one matmul over flattened patches.
    const patches = pixels
      .reshape([batch, channels, grid, p, grid, p])
      .transpose([0, 2, 4, 1, 3, 5])
      .reshape([batch, grid * grid, channels * p * p]);
    const kernel = this.weight('vision_model.embeddings.patch_embedding.weight').reshape([
      width,
      channels * p * p,
    ]);
    const cls = this.weight('vision_model.embeddings.class_embedding')
      .reshape([1, 1, width])
      .expand([batch, 1, width]);
    const tokens = concat([cls, patches.matmul(kernel.mT)], 1).add(
      this.weight('vision_model.embeddings.position_embedding.weight'),
    );
    const hidden = this.encoder(
      'vision_model',
      this.layerNorm('vision_model.pre_layrnorm', tokens, vision.layerNormEps),
      vision,
      null,
      precision,
    );
    const pooled = this.layerNorm(
      'vision_model.post_layernorm',
      hidden.slice(1, 0, 1).reshape([batch, width]),
      vision.layerNormEps,
    );
    return pooled.matmul(this.weight('visual_projection.weight').mT);
  }
}

/** Rows scaled to unit length. */
export function normalizeRows(x: Tensor): Tensor {
  return x.div(x.square().sum(-1, true).sqrt());
}

/** CLIP logits [B, C] = scale · cos(image_b, text_c). */
export function clipLogits(imageFeatures: Tensor, textFeatures: Tensor, scale: number): Tensor {
  return normalizeRows(imageFeatures).matmul(normalizeRows(textFeatures).mT).mul(scale);
}
