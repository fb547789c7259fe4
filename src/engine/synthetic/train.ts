// Contrastive (CLIP) training on the engine's own gradients: a model built in memory from a config,
// the symmetric InfoNCE loss over a batch of image–caption pairs, AdamW on the host over every weight.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clipWeightShapes, parseClipConfig, parsePreprocessConfig, type ClipConfig } from '../clip/config.js';
import { clipConfigJson, clipPreprocessorJson, type ClipDims } from '../clip/make-model.js';
import { ClipModel, normalizeRows } from '../clip/model.js';
import { CLIP_MODEL_FILES } from '../clip/model-files.js';
import { writeSafetensors, type SafetensorsTensor } from '../clip/safetensors.js';
import { buildClipTokenizerJson, DEFAULT_CLIP_BPE_PATH } from '../clip/tokenizer-build.js';
import { ClipTokenizer } from '../clip/tokenizer.js';
import { ClipEncoder } from '../clip/encoder.js';
import { grad } from '../grad.js';
import { clipPreprocess } from '../image/preprocess.js';
import { AdamW } from '../optim.js';
import { Random, seedFrom } from '../random.js';
import { traced, type CompiledFunction, type Engine, type Inputs } from '../runtime.js';
import { constant, type Tensor } from '../tensor.js';
import { renderScene } from './render.js';
import { sampleSceneGroup, sceneCaption, SHAPES, type CaptionDetail, type Scene } from './scenes.js';

export type { ClipDims } from '../clip/make-model.js';

/** The shipped model: small enough to train in minutes on two CPU cores and ship in the repository. */
export const EMBEDDED_DIMS: ClipDims = {
  text: { hidden: 64, heads: 4, layers: 4, mlp: 256 },
  vision: { hidden: 128, heads: 4, layers: 4, mlp: 512, imageSize: 64, patchSize: 8 },
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
 * Draws `size` fresh scenes from `random`, in groups that differ only in shape, and renders them at
 * the model's input size. Without the groups colour and background alone tell most captions of a
 * batch apart, and the shape — what the model is for — is learned last.
 */
export async function sampleTrainingBatch(
  model: ClipModel,
  random: Random,
  size: number,
  detail: CaptionDetail = 'mixed',
): Promise<TrainingBatch> {
  const scenes: Scene[] = [];
  while (scenes.length < size)
    scenes.push(...sampleSceneGroup(random, Math.min(GROUP_SIZE, size - scenes.length)));
  const captions = scenes.map((scene) => sceneCaption(scene, random, detail));
  const side = model.config.vision.imageSize;
  const chw = await Promise.all(
    scenes.map(async (scene) => clipPreprocess(await renderScene(scene, { side }), model.preprocess)),
  );
  const pixels = new Float32Array(size * chw[0].length);
  chw.forEach((image, i) => pixels.set(image, i * image.length));
  return { pixels, captions };
}

/** Symmetric InfoNCE: the mean of image→text and text→image cross-entropies, matching pairs on the diagonal. */
export function contrastiveLoss(imageFeatures: Tensor, textFeatures: Tensor, logitScale: Tensor): Tensor {
  const batch = imageFeatures.shape[0];
  const logits = normalizeRows(imageFeatures).matmul(normalizeRows(textFeatures).mT).mul(logitScale.exp());
  const identity = new Float32Array(batch * batch);
  for (let i = 0; i < batch; i++) identity[i * batch + i] = 1;
  const matching = logits.mul(constant(identity, [batch, batch])).sum(-1);
  const imageToText = logits.logsumexp(-1).sub(matching).mean();
  const textToImage = logits.logsumexp(0).sub(matching).mean();
  return imageToText.add(textToImage).mul(0.5);
}

export interface TrainerOptions {
  batchSize: number;
  /** Token positions of the text tower; captions must fit (the trainer refuses to truncate). */
  textLength: number;
  lr: number;
  weightDecay: number;
  warmupSteps: number;
  totalSteps: number;
}

/** Warm-up then cosine decay to zero: the factor applied to the base learning rate at `step` (0-based). */
export function learningRateFactor(step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return (step + 1) / warmupSteps;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
}

/** Weights without weight decay, as in CLIP: gains, biases, embeddings and the temperature. */
const isDecayed = (name: string, shape: readonly number[]): boolean =>
  shape.length >= 2 && !name.includes('embeddings.') && !/norm|layrnorm/.test(name);

interface ParamGroup {
  names: string[];
  data: Float32Array[];
  optimizer: AdamW;
}

type LossFunction = CompiledFunction<'pixels' | 'ids' | 'eot', string>;

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
    const names = [...clipWeightShapes(model.config).keys()];
    const gradientNames = new Map(names.map((name, i) => [name, `grad${i}`]));
    const fn = await engine.compile(
      traced('contrastive-train', ({ pixels, ids, eot }: Inputs<'pixels' | 'ids' | 'eot'>) => {
        const loss = contrastiveLoss(
          model.encodeImages(pixels),
          model.encodeTextEmbeddings(model.embedTokens(ids), eot),
          model.weight('logit_scale'),
        );
        const grads = grad(
          loss,
          names.map((name) => model.weight(name)),
        );
        return { loss, ...Object.fromEntries(names.map((name, i) => [gradientNames.get(name)!, grads[i]])) };
      }),
      {
        inputs: {
          pixels: { shape: [batchSize, numChannels, imageSize, imageSize] },
          ids: { shape: [batchSize, textLength], dtype: 'int64' },
          eot: { shape: [batchSize], dtype: 'int64' },
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
    const out = await this.lossAndGradients.run({ pixels: batch.pixels, ...this.tokenize(batch.captions) });
    return (out.loss.data as Float32Array)[0];
  }

  /** One AdamW step on the batch; returns the loss before the step. */
  async step(batch: TrainingBatch): Promise<number> {
    if (batch.captions.length !== this.options.batchSize) {
      throw new Error(
        `batch has ${batch.captions.length} pairs, the trainer was built for ${this.options.batchSize}`,
      );
    }
    const out = await this.lossAndGradients.run({ pixels: batch.pixels, ...this.tokenize(batch.captions) });
    const { warmupSteps, totalSteps } = this.options;
    const factor = learningRateFactor(this.steps, warmupSteps, totalSteps);
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
 * Zero-shot shape accuracy (0..1) of the model's current weights on clean scenes, with the prompt
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
    scenes.map(async (scene) => clipPreprocess(await renderScene(scene, { side }), model.preprocess)),
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
