// Contrastive (CLIP) training on the engine's own gradients: a model built in memory from a config,
// the symmetric InfoNCE loss over a batch of image–caption pairs, AdamW on the host over every weight.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clipWeightShapes,
  parseClipConfig,
  parsePreprocessConfig,
  type ClipConfig,
} from '../../src/engine/clip/config.js';
import { clipConfigJson, clipPreprocessorJson, type ClipDims } from '../clip/make-model.js';
import { ClipModel, normalizeRows } from '../../src/engine/clip/model.js';
import { CLIP_MODEL_FILES } from '../../src/engine/clip/model-files.js';
import { writeSafetensors, type SafetensorsTensor } from '../../src/engine/clip/safetensors.js';
import { buildClipTokenizerJson, DEFAULT_CLIP_BPE_PATH } from '../clip/tokenizer-build.js';
import { ClipTokenizer } from '../../src/engine/clip/tokenizer.js';
import { ClipEncoder } from '../../src/engine/clip/encoder.js';
import { grad } from '../../src/engine/grad.js';
import type { DecodedImage } from '../../src/engine/image/decode.js';
import { clipPreprocess } from '../../src/engine/image/preprocess.js';
import { AdamW } from '../../src/engine/optim.js';
import { Random, seedFrom } from '../../src/engine/random.js';
import { traced, type CompiledFunction, type Engine, type Inputs } from '../../src/engine/runtime.js';
import { type Tensor } from '../../src/engine/tensor.js';
import { augmentImage, type AugmentOptions } from './augment.js';
import { renderScene } from './render.js';
import { sampleSceneGroup, sceneCaption, SHAPES, type CaptionDetail, type Scene } from './scenes.js';

export type { ClipDims } from '../clip/make-model.js';

/**
 * The shipped model: small enough to train within an hour or two on a share of two CPU cores and ship
 * in the repository. 96 px in patches of 16 (a 6 × 6 grid): at 64 px (4 × 4) the model stayed at 67 %
 * on the smallest shapes of the domain against 97 % on the largest — the input was too coarse.
 */
export const EMBEDDED_DIMS: ClipDims = {
  text: { hidden: 64, heads: 4, layers: 4, mlp: 256 },
  vision: { hidden: 128, heads: 4, layers: 4, mlp: 512, imageSize: 96, patchSize: 16 },
  projection: 64,
};

/** CLIP's initial temperature 1/0.07 and its ceiling of 100, as log values. */
const LOGIT_SCALE_INIT = Math.log(1 / 0.07);
const LOGIT_SCALE_MAX = Math.log(100);

/**
 * 2D sine–cosine position embeddings (as in MAE) for the class token (zeros) and a grid × grid patch
 * layout: half the channels encode the row, half the column. Random ones of CLIP's scale leave a
 * small ViT position-blind for hundreds of steps, and shape is all about where the patches are.
 */
function sincosPositions(grid: number, width: number): Float32Array {
  const out = new Float32Array((grid * grid + 1) * width);
  const quarter = width / 4;
  for (let row = 0; row < grid; row++) {
    for (let col = 0; col < grid; col++) {
      const base = (1 + row * grid + col) * width;
      for (let i = 0; i < quarter; i++) {
        const frequency = 1 / 10000 ** (i / quarter);
        out[base + i] = Math.sin(row * frequency);
        out[base + quarter + i] = Math.cos(row * frequency);
        out[base + 2 * quarter + i] = Math.sin(col * frequency);
        out[base + 3 * quarter + i] = Math.cos(col * frequency);
      }
    }
  }
  return out;
}

/**
 * The initial value of one weight, after OpenAI CLIP's initialisation: embeddings N(0, 0.02²),
 * matrices N(0, 1/fan_in), residual-branch outputs further scaled by 1/√(2·layers), norms at identity.
 */
function initialWeight(name: string, shape: number[], config: ClipConfig, seed: number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (name === 'logit_scale') return new Float32Array([LOGIT_SCALE_INIT]);
  if (/(layer_?norm\d?|layrnorm)\.weight$/.test(name)) return new Float32Array(count).fill(1);
  if (name.endsWith('.bias') || /layrnorm|layer_?norm/.test(name)) return new Float32Array(count);
  if (name === 'vision_model.embeddings.position_embedding.weight') {
    return sincosPositions(config.vision.imageSize / config.vision.patchSize, config.vision.hiddenSize);
  }
  const random = new Random(seedFrom(0, `${seed}:${name}`));
  if (shape.length < 2 || (name.includes('embeddings.') && !name.includes('patch_embedding'))) {
    return random.normalArray(count, 0.02);
  }
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  const layers = name.startsWith('text_model') ? config.text.numLayers : config.vision.numLayers;
  const residualOutput = /(out_proj|fc2)\.weight$/.test(name);
  return random.normalArray(count, (residualOutput ? 1 / Math.sqrt(2 * layers) : 1) / Math.sqrt(fanIn));
}

/**
 * Resamples a ViT position embedding ([1 + from², width]: the class token, then a from × from patch
 * grid, row-major) to a to × to grid by bilinear interpolation with half-pixel centres (torch's
 * `interpolate(align_corners=False)`), keeping the class token's row: how a ViT trained at one input
 * size is fine-tuned at another (Dosovitskiy et al. 2021, §3.2). Throws if the sizes do not match.
 */
export function resizePositionEmbedding(
  data: Float32Array,
  from: number,
  to: number,
  width: number,
): Float32Array {
  if (data.length !== (1 + from * from) * width) {
    throw new Error(`position embedding has ${data.length} values, not (1 + ${from}²) × ${width}`);
  }
  const out = new Float32Array((1 + to * to) * width);
  out.set(data.subarray(0, width));
  // Source coordinate of target index i, clamped to the grid as torch does at the borders.
  const source = (i: number) => Math.min(from - 1, Math.max(0, ((i + 0.5) * from) / to - 0.5));
  for (let row = 0; row < to; row++) {
    const y = source(row);
    const y0 = Math.floor(y);
    const y1 = Math.min(from - 1, y0 + 1);
    for (let col = 0; col < to; col++) {
      const x = source(col);
      const x0 = Math.floor(x);
      const x1 = Math.min(from - 1, x0 + 1);
      const corners = [
        [y0, x0, (1 - (y - y0)) * (1 - (x - x0))],
        [y0, x1, (1 - (y - y0)) * (x - x0)],
        [y1, x0, (y - y0) * (1 - (x - x0))],
        [y1, x1, (y - y0) * (x - x0)],
      ];
      const target = (1 + row * to + col) * width;
      for (const [r, c, weight] of corners) {
        const base = (1 + r * from + c) * width;
        for (let k = 0; k < width; k++) out[target + k] += weight * data[base + k];
      }
    }
  }
  return out;
}

/** A CLIP model with seeded initial weights, in memory, using the real CLIP tokenizer. */
export function initClipModel(dims: ClipDims, seed: number, bpePath = DEFAULT_CLIP_BPE_PATH): ClipModel {
  const id = `synthetic-clip:${seed}`;
  const config = parseClipConfig(clipConfigJson(dims, LOGIT_SCALE_INIT), `${id} config`);
  const preprocess = parsePreprocessConfig(
    clipPreprocessorJson(dims.vision.imageSize),
    `${id} preprocessor config`,
  );
  const tokenizer = ClipTokenizer.fromJson(buildClipTokenizerJson(bpePath), bpePath);
  const weights = new Map<string, SafetensorsTensor>();
  for (const [name, shape] of clipWeightShapes(config)) {
    weights.set(name, { dtype: 'F32', shape, data: initialWeight(name, shape, config, seed) });
  }
  return new ClipModel(id, config, preprocess, tokenizer, weights);
}

/** Writes the model (its current weights) as a Hugging Face CLIP folder; `dir` is created. */
export function writeClipModelFolder(
  dir: string,
  model: ClipModel,
  dims: ClipDims,
  metadata: Record<string, string>,
  bpePath = DEFAULT_CLIP_BPE_PATH,
): void {
  mkdirSync(dir, { recursive: true });
  const writeJson = (name: string, value: unknown) =>
    writeFileSync(join(dir, name), JSON.stringify(value, null, 2) + '\n');
  writeJson(CLIP_MODEL_FILES.config, clipConfigJson(dims, LOGIT_SCALE_INIT));
  writeJson(CLIP_MODEL_FILES.preprocess, clipPreprocessorJson(dims.vision.imageSize));
  writeFileSync(join(dir, CLIP_MODEL_FILES.tokenizer), JSON.stringify(buildClipTokenizerJson(bpePath)));
  const tensors = new Map(
    [...clipWeightShapes(model.config)].map(([name, shape]) => [
      name,
      { shape, data: model.weightData(name) },
    ]),
  );
  writeSafetensors(join(dir, CLIP_MODEL_FILES.weights), tensors, { format: 'pt', ...metadata });
}

/** One batch of the clean training domain: rendered, CLIP-normalised pixels and one caption per image. */
export interface TrainingBatch {
  pixels: Float32Array;
  captions: string[];
}

/** Scenes per hard-negative group in a training batch (see sampleSceneGroup). */
const GROUP_SIZE = 16;

/**
 * Scenes are rendered at this multiple of the model's input side, as the benchmarks and the demo
 * render them, so that crops resample real detail.
 */
export const RENDER_SCALE = 2;

/** Scenes rendered once and drawn from again by a training run, in hard-negative groups. */
export interface ScenePool {
  /** In order of increasing difficulty (see sampleScene). */
  groups: { scenes: Scene[]; images: DecodedImage[]; difficulty: number }[];
  /** Side of the rendered images in pixels. */
  side: number;
}

/**
 * Renders `groups` groups of GROUP_SIZE scenes, of difficulty evenly spread over (minDifficulty, 1],
 * that share colour, texture and background and differ in shape (sampleSceneGroup): without the groups
 * colour and background alone tell most captions of a batch apart, and the shape — what the model is
 * for — is learned last. A fine-tuning run raises `minDifficulty`: difficulty 1 is the domain. A training run draws from the
 * pool and augments afresh every time: rendering costs as much as a gradient step on two cores.
 */
export async function renderScenePool(
  random: Random,
  groups: number,
  side: number,
  minDifficulty = 0,
): Promise<ScenePool> {
  const pool: ScenePool = { groups: [], side };
  for (let g = 0; g < groups; g++) {
    const difficulty = minDifficulty + ((1 - minDifficulty) * (g + 1)) / groups;
    const scenes = sampleSceneGroup(random, GROUP_SIZE, difficulty);
    const images = await Promise.all(scenes.map((scene) => renderScene(scene, { side })));
    pool.groups.push({ scenes, images, difficulty });
  }
  return pool;
}

/**
 * A batch of `size` image–caption pairs for the model: whole groups of the pool drawn with `random`
 * (so a batch of 16 holds each shape of one look once), fresh captions, and each image through the
 * training augmentation (random resized crop, flip, jitter) down to the model's input size — or, without
 * `augment`, resized as CLIP preprocessing does. A curriculum `difficulty` below 1 draws only from the
 * pool's easier groups and softens the augmentation in proportion (crops stay larger, less jitter);
 * a small ViT learns shape in a fraction of the steps when it starts from the easy cases.
 */
export async function sampleTrainingBatch(
  model: ClipModel,
  pool: ScenePool,
  random: Random,
  size: number,
  detail: CaptionDetail = 'mixed',
  augment?: Omit<AugmentOptions, 'side'>,
  difficulty = 1,
): Promise<TrainingBatch> {
  const available = Math.max(1, Math.ceil(difficulty * pool.groups.length));
  const softened = augment && {
    ...augment,
    scale: [1 - difficulty * (1 - augment.scale[0]), augment.scale[1]] as const,
    jitterProbability: difficulty * augment.jitterProbability,
    blurProbability: difficulty * augment.blurProbability,
  };
  const picked: { scene: Scene; image: DecodedImage }[] = [];
  while (picked.length < size) {
    const group = pool.groups[random.int(0, available - 1)];
    const take = Math.min(GROUP_SIZE, size - picked.length);
    picked.push(...group.scenes.slice(0, take).map((scene, i) => ({ scene, image: group.images[i] })));
  }
  const captions = picked.map(({ scene }) => sceneCaption(scene, random, detail));
  const side = model.config.vision.imageSize;
  const chw = await Promise.all(
    picked.map(({ image }) =>
      clipPreprocess(softened ? augmentImage(image, random, { ...softened, side }) : image, model.preprocess),
    ),
  );
  const pixels = new Float32Array(size * chw[0].length);
  chw.forEach((image, i) => pixels.set(image, i * image.length));
  return { pixels, captions };
}

/**
 * The contrastive targets of a batch: row i spreads 1 evenly over the pairs whose caption equals
 * caption i (on the diagonal when all differ). Identical captions in one batch ("a photo of a star."
 * twice) are positives of each other, not negatives. Symmetric, [B, B] row-major.
 */
export function captionTargets(captions: readonly string[]): Float32Array {
  const batch = captions.length;
  const targets = new Float32Array(batch * batch);
  for (let i = 0; i < batch; i++) {
    const same = captions.flatMap((c, j) => (c === captions[i] ? [j] : []));
    for (const j of same) targets[i * batch + j] = 1 / same.length;
  }
  return targets;
}

/**
 * Symmetric InfoNCE: the mean of image→text and text→image cross-entropies against `targets` [B, B]
 * (captionTargets: the identity when every caption differs, which is CLIP's loss).
 */
export function contrastiveLoss(
  imageFeatures: Tensor,
  textFeatures: Tensor,
  logitScale: Tensor,
  targets: Tensor,
): Tensor {
  const logits = normalizeRows(imageFeatures).matmul(normalizeRows(textFeatures).mT).mul(logitScale.exp());
  const matching = logits.mul(targets);
  const imageToText = logits.logsumexp(-1).sub(matching.sum(-1)).mean();
  const textToImage = logits.logsumexp(0).sub(matching.sum(0)).mean();
  return imageToText.add(textToImage).mul(0.5);
}

export interface TrainerOptions {
  batchSize: number;
  /** Token positions of the text tower; captions must fit (the trainer refuses to truncate). */
  textLength: number;
  lr: number;
  weightDecay: number;
  warmupSteps: number;
  /** The last steps, in which the learning rate falls linearly to zero. */
  cooldownSteps: number;
  totalSteps: number;
  /** Weights left at their initial value (no gradient is computed for them). */
  frozen?: readonly string[];
}

/**
 * Warm-up, a constant rate, then a linear cool-down to zero over the last `cooldownSteps` (the
 * warmup–stable–decay schedule): the factor applied to the base learning rate at `step` (0-based).
 * Unlike a cosine, the rate until the cool-down does not depend on the total, so a run resumed with
 * fewer total steps than planned still ends on a full cool-down.
 */
export function learningRateFactor(
  step: number,
  warmupSteps: number,
  cooldownSteps: number,
  totalSteps: number,
): number {
  if (step < warmupSteps) return (step + 1) / warmupSteps;
  const cooldownStart = totalSteps - cooldownSteps;
  if (step < cooldownStart) return 1;
  return Math.max(0, (totalSteps - step) / Math.max(1, cooldownSteps));
}

/** Weights without weight decay, as in CLIP: gains, biases, embeddings and the temperature. */
const isDecayed = (name: string, shape: readonly number[]): boolean =>
  shape.length >= 2 && !name.includes('embeddings.') && !/norm|layrnorm/.test(name);

/** What a checkpoint keeps besides the weights. */
export interface TrainerState {
  steps: number;
  moments: Record<string, { expAvg: Float64Array; expAvgSq: Float64Array }>;
}

interface ParamGroup {
  names: string[];
  data: Float32Array[];
  optimizer: AdamW;
}

type LossFunction = CompiledFunction<'pixels' | 'ids' | 'eot' | 'targets', string>;

/**
 * Trains every weight of `model` in place. The weights enter the compiled graph as fed parameters
 * backed by the model's own arrays, so updating them on the host is all a step needs.
 */
export class ContrastiveTrainer {
  private steps = 0;

  private constructor(
    readonly model: ClipModel,
    readonly options: TrainerOptions,
    private readonly lossAndGradients: LossFunction,
    private readonly gradientNames: Map<string, string>,
    private readonly groups: ParamGroup[],
  ) {}

  static async create(
    model: ClipModel,
    engine: Engine,
    options: TrainerOptions,
  ): Promise<ContrastiveTrainer> {
    const { batchSize, textLength } = options;
    const { imageSize, numChannels } = model.config.vision;
    const frozen = new Set(options.frozen ?? []);
    const names = [...clipWeightShapes(model.config).keys()].filter((name) => !frozen.has(name));
    const gradientNames = new Map(names.map((name, i) => [name, `grad${i}`]));
    const fn = await engine.compile(
      traced(
        'contrastive-train',
        ({ pixels, ids, eot, targets }: Inputs<'pixels' | 'ids' | 'eot' | 'targets'>) => {
          const loss = contrastiveLoss(
            model.encodeImages(pixels),
            model.encodeTextEmbeddings(model.embedTokens(ids), eot),
            model.weight('logit_scale'),
            targets,
          );
          const grads = grad(
            loss,
            names.map((name) => model.weight(name)),
          );
          return {
            loss,
            ...Object.fromEntries(names.map((name, i) => [gradientNames.get(name)!, grads[i]])),
          };
        },
      ),
      {
        inputs: {
          pixels: { shape: [batchSize, numChannels, imageSize, imageSize] },
          ids: { shape: [batchSize, textLength], dtype: 'int64' },
          eot: { shape: [batchSize], dtype: 'int64' },
          targets: { shape: [batchSize, batchSize] },
        },
        // In-place host updates reach the graph only when weights are fed, on every provider.
        params: 'feed',
      },
    );
    const adam = { lr: options.lr, beta1: 0.9, beta2: 0.98, eps: 1e-6 };
    const groups = [true, false].map((decayed): ParamGroup => {
      const groupNames = names.filter((name) => isDecayed(name, model.weight(name).shape) === decayed);
      const data = groupNames.map((name) => model.weightData(name));
      const optimizer = new AdamW(
        data.map((d) => d.length),
        { ...adam, weightDecay: decayed ? options.weightDecay : 0 },
      );
      return { names: groupNames, data, optimizer };
    });
    return new ContrastiveTrainer(model, options, fn, gradientNames, groups);
  }

  get stepsTaken(): number {
    return this.steps;
  }

  /** The optimiser state (steps taken and AdamW moments per weight): with the weights, a checkpoint. */
  optimizerState(): TrainerState {
    const moments: TrainerState['moments'] = {};
    for (const group of this.groups) {
      group.names.forEach((name, k) => {
        moments[name] = { expAvg: group.optimizer.expAvg[k], expAvgSq: group.optimizer.expAvgSq[k] };
      });
    }
    return { steps: this.steps, moments };
  }

  /** Continues from a checkpoint's optimiser state; the model's weights must be the checkpoint's. */
  restoreOptimizerState(state: TrainerState): void {
    for (const group of this.groups) {
      const moments = group.names.map((name) => {
        const saved = state.moments[name];
        if (!saved) throw new Error(`checkpoint has no optimiser state for weight ${name}`);
        return saved;
      });
      group.optimizer.restore(
        state.steps,
        moments.map((m) => m.expAvg),
        moments.map((m) => m.expAvgSq),
      );
    }
    this.steps = state.steps;
  }

  private inputs(batch: TrainingBatch) {
    return {
      pixels: batch.pixels,
      ...this.tokenize(batch.captions),
      targets: captionTargets(batch.captions),
    };
  }

  private tokenize(captions: string[]): { ids: Int32Array; eot: Int32Array } {
    const { tokenizer } = this.model;
    const length = this.options.textLength;
    for (const caption of captions) {
      const tokens = tokenizer.tokenize(caption).length;
      if (tokens > length) {
        throw new Error(
          `caption "${caption}" has ${tokens} tokens, more than the trainer's textLength ${length}`,
        );
      }
    }
    const { ids, eot } = tokenizer.encode(captions, length);
    return { ids, eot };
  }

  /** The loss of a batch with the current weights, without updating them. */
  async loss(batch: TrainingBatch): Promise<number> {
    const out = await this.lossAndGradients.run(this.inputs(batch));
    return (out.loss.data as Float32Array)[0];
  }

  /** One AdamW step on the batch; returns the loss before the step. */
  async step(batch: TrainingBatch): Promise<number> {
    if (batch.captions.length !== this.options.batchSize) {
      throw new Error(
        `batch has ${batch.captions.length} pairs, the trainer was built for ${this.options.batchSize}`,
      );
    }
    const out = await this.lossAndGradients.run(this.inputs(batch));
    const { warmupSteps, cooldownSteps, totalSteps } = this.options;
    const factor = learningRateFactor(this.steps, warmupSteps, cooldownSteps, totalSteps);
    for (const group of this.groups) {
      // An AdamW step is linear in the learning rate for given moments, so the schedule scales the
      // step the optimiser (at the base rate) takes.
      const before = group.data.map((d) => Float32Array.from(d));
      group.optimizer.update(
        group.data,
        group.names.map((name) => out[this.gradientNames.get(name)!].data as Float32Array),
      );
      group.data.forEach((d, k) => {
        for (let i = 0; i < d.length; i++) d[i] = before[k][i] + factor * (d[i] - before[k][i]);
      });
    }
    const scale = this.model.weightData('logit_scale');
    scale[0] = Math.min(scale[0], LOGIT_SCALE_MAX);
    this.steps += 1;
    return (out.loss.data as Float32Array)[0];
  }
}

/**
 * Zero-shot shape accuracy (0..1) of the model's current weights on clean scenes rendered at
 * RENDER_SCALE times the input side (as the benchmarks and the demo render them), with the prompt
 * "a photo of a {shape}.": the validation number printed while training.
 */
export async function zeroShotShapeAccuracy(
  model: ClipModel,
  engine: Engine,
  scenes: readonly Scene[],
): Promise<number> {
  const encoder = new ClipEncoder(model, engine, 32);
  const tokens = model.tokenizer.encode(SHAPES.map((shape) => `a photo of a ${shape}.`));
  const text = await encoder.encodeText(tokens);
  const side = model.config.vision.imageSize;
  const images = await Promise.all(
    scenes.map(async (scene) =>
      clipPreprocess(await renderScene(scene, { side: RENDER_SCALE * side }), model.preprocess),
    ),
  );
  const pixels = new Float32Array(images.length * images[0].length);
  images.forEach((image, i) => pixels.set(image, i * image.length));
  const logits = await encoder.logits(await encoder.encodeImages(pixels, scenes.length), text);
  let correct = 0;
  scenes.forEach((scene, i) => {
    const row = logits.subarray(i * SHAPES.length, (i + 1) * SHAPES.length);
    if (SHAPES[row.indexOf(Math.max(...row))] === scene.shape) correct++;
  });
  return correct / scenes.length;
}
