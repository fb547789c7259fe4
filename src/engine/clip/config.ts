// Typed, validated view of a Hugging Face CLIP model's config.json and preprocessor_config.json,
// and the list of weight tensors (names and shapes) such a config implies.
import { describeIssues } from '../../shared/domain/issues.js';
import { z } from 'zod';
import { ModelFileError, readModelJson } from './errors.js';

export type Activation = 'quick_gelu' | 'gelu';

/**
 * Which token's hidden state is the pooled text feature. Hugging Face pools at the first `eosTokenId`,
 * except for configs from before transformers PR #24773 that say `eos_token_id: 2`: those pool at the
 * argmax of the ids (the original CLIP rule; 49407 is the largest id, so both agree on normal input).
 */
export type TextPooling = 'first-eos' | 'argmax-id';

export interface ClipTextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numLayers: number;
  maxPositions: number;
  hiddenAct: Activation;
  layerNormEps: number;
  eosTokenId: number;
  pooling: TextPooling;
}

export interface ClipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numLayers: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  hiddenAct: Activation;
  layerNormEps: number;
}

export interface ClipConfig {
  text: ClipTextConfig;
  vision: ClipVisionConfig;
  projectionDim: number;
  logitScaleInit: number;
}

export type ResampleFilter = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';

export interface ClipPreprocessConfig {
  /** Side of the square centre crop fed to the vision tower. */
  imageSize: number;
  /** The shorter image side is resized to this before cropping. */
  shortestEdge: number;
  mean: [number, number, number];
  std: [number, number, number];
  resample: ResampleFilter;
}

const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
/** Before transformers PR #24773 CLIP text configs carried eos_token_id 2 (see TextPooling). */
const LEGACY_EOS_TOKEN_ID = 2;

const positiveInt = z.number().int().positive();
const activation = z.enum(['quick_gelu', 'gelu']);
const layerNormEps = z.number().positive().default(1e-5);

// Defaults are those of transformers' CLIPTextConfig / CLIPVisionConfig / CLIPConfig (ViT-B/32).
const hfTextConfig = z.object({
  vocab_size: positiveInt.default(49408),
  hidden_size: positiveInt.default(512),
  intermediate_size: positiveInt.default(2048),
  num_attention_heads: positiveInt.default(8),
  num_hidden_layers: positiveInt.default(12),
  max_position_embeddings: positiveInt.default(77),
  hidden_act: activation.default('quick_gelu'),
  layer_norm_eps: layerNormEps,
  eos_token_id: z.number().int().nonnegative().default(49407),
});

const hfVisionConfig = z.object({
  hidden_size: positiveInt.default(768),
  intermediate_size: positiveInt.default(3072),
  num_attention_heads: positiveInt.default(12),
  num_hidden_layers: positiveInt.default(12),
  image_size: positiveInt.default(224),
  patch_size: positiveInt.default(32),
  num_channels: positiveInt.default(3),
  hidden_act: activation.default('quick_gelu'),
  layer_norm_eps: layerNormEps,
});

const subConfig = z.record(z.string(), z.unknown()).nullish();

const hfClipConfig = z.object({
  model_type: z.string().optional(),
  projection_dim: positiveInt.default(512),
  logit_scale_init_value: z.number().default(2.6592),
  text_config: subConfig,
  vision_config: subConfig,
  // Old configs also carry `*_config_dict`; transformers rebuilds the sub-config from it alone (with defaults).
  text_config_dict: subConfig,
  vision_config_dict: subConfig,
});

const squareSize = z.union([positiveInt, z.object({ height: positiveInt, width: positiveInt })]);

const hfPreprocessConfig = z.object({
  size: z.union([positiveInt, z.object({ shortest_edge: positiveInt })]).default({ shortest_edge: 224 }),
  crop_size: squareSize.default(224),
  image_mean: z.tuple([z.number(), z.number(), z.number()]).default(OPENAI_CLIP_MEAN),
  image_std: z
    .tuple([z.number().positive(), z.number().positive(), z.number().positive()])
    .default(OPENAI_CLIP_STD),
  // PIL filter codes: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic (4 box and 5 hamming are not offered).
  resample: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).default(3),
  do_resize: z.literal(true).default(true),
  do_center_crop: z.literal(true).default(true),
  do_normalize: z.literal(true).default(true),
  do_rescale: z.literal(true).default(true),
  rescale_factor: z
    .number()
    .refine((f) => Math.abs(f - 1 / 255) < 1e-9, 'only 1/255 is supported')
    .default(1 / 255),
});

const PIL_FILTERS: Record<0 | 1 | 2 | 3, ResampleFilter> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
};

function parseWith<T extends z.ZodType>(schema: T, json: unknown, file: string, what: string): z.output<T> {
  const result = schema.safeParse(json);
  if (!result.success)
    throw new ModelFileError(file, `invalid ${what}: ${describeIssues(result.error, { root: '(root)' })}`);
  return result.data;
}

function requireDivisible(
  file: string,
  what: string,
  value: number,
  divisor: number,
  divisorName: string,
): void {
  if (value % divisor !== 0) {
    throw new ModelFileError(file, `${what} (${value}) is not divisible by ${divisorName} (${divisor})`);
  }
}

/** Validates the parsed JSON of a Hugging Face CLIP `config.json`; `file` is named in errors. */
export function parseClipConfig(json: unknown, file: string): ClipConfig {
  const top = parseWith(hfClipConfig, json, file, 'CLIP config');
  if (top.model_type !== undefined && top.model_type !== 'clip') {
    throw new ModelFileError(file, `model_type is "${top.model_type}", not a CLIP model ("clip")`);
  }
  const text = parseWith(hfTextConfig, top.text_config_dict ?? top.text_config ?? {}, file, 'text_config');
  const vision = parseWith(
    hfVisionConfig,
    top.vision_config_dict ?? top.vision_config ?? {},
    file,
    'vision_config',
  );
  requireDivisible(
    file,
    'text hidden_size',
    text.hidden_size,
    text.num_attention_heads,
    'num_attention_heads',
  );
  requireDivisible(
    file,
    'vision hidden_size',
    vision.hidden_size,
    vision.num_attention_heads,
    'num_attention_heads',
  );
  requireDivisible(file, 'vision image_size', vision.image_size, vision.patch_size, 'patch_size');
  return {
    text: {
      vocabSize: text.vocab_size,
      hiddenSize: text.hidden_size,
      intermediateSize: text.intermediate_size,
      numHeads: text.num_attention_heads,
      numLayers: text.num_hidden_layers,
      maxPositions: text.max_position_embeddings,
      hiddenAct: text.hidden_act,
      layerNormEps: text.layer_norm_eps,
      eosTokenId: text.eos_token_id,
      pooling: text.eos_token_id === LEGACY_EOS_TOKEN_ID ? 'argmax-id' : 'first-eos',
    },
    vision: {
      hiddenSize: vision.hidden_size,
      intermediateSize: vision.intermediate_size,
      numHeads: vision.num_attention_heads,
      numLayers: vision.num_hidden_layers,
      imageSize: vision.image_size,
      patchSize: vision.patch_size,
      numChannels: vision.num_channels,
      hiddenAct: vision.hidden_act,
      layerNormEps: vision.layer_norm_eps,
    },
    projectionDim: top.projection_dim,
    logitScaleInit: top.logit_scale_init_value,
  };
}

/** Validates the parsed JSON of a `preprocessor_config.json` (CLIPImageProcessor settings). */
export function parsePreprocessConfig(json: unknown, file: string): ClipPreprocessConfig {
  const cfg = parseWith(hfPreprocessConfig, json, file, 'preprocessor config');
  const crop =
    typeof cfg.crop_size === 'number' ? { height: cfg.crop_size, width: cfg.crop_size } : cfg.crop_size;
  if (crop.height !== crop.width) {
    throw new ModelFileError(file, `crop_size ${crop.height}x${crop.width} is not square`);
  }
  const shortestEdge = typeof cfg.size === 'number' ? cfg.size : cfg.size.shortest_edge;
  if (shortestEdge < crop.height) {
    throw new ModelFileError(
      file,
      `size.shortest_edge (${shortestEdge}) is smaller than crop_size (${crop.height})`,
    );
  }
  return {
    imageSize: crop.height,
    shortestEdge,
    mean: cfg.image_mean,
    std: cfg.image_std,
    resample: PIL_FILTERS[cfg.resample],
  };
}

export function readClipConfig(path: string): ClipConfig {
  return parseClipConfig(readModelJson(path), path);
}

export function readPreprocessConfig(path: string): ClipPreprocessConfig {
  return parsePreprocessConfig(readModelJson(path), path);
}

function encoderLayerShapes(
  prefix: string,
  layers: number,
  hidden: number,
  mlp: number,
): [string, number[]][] {
  const shapes: [string, number[]][] = [];
  for (let i = 0; i < layers; i++) {
    const layer = `${prefix}.encoder.layers.${i}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      shapes.push([`${layer}.self_attn.${proj}.weight`, [hidden, hidden]]);
      shapes.push([`${layer}.self_attn.${proj}.bias`, [hidden]]);
    }
    for (const norm of ['layer_norm1', 'layer_norm2']) {
      shapes.push([`${layer}.${norm}.weight`, [hidden]]);
      shapes.push([`${layer}.${norm}.bias`, [hidden]]);
    }
    shapes.push([`${layer}.mlp.fc1.weight`, [mlp, hidden]]);
    shapes.push([`${layer}.mlp.fc1.bias`, [mlp]]);
    shapes.push([`${layer}.mlp.fc2.weight`, [hidden, mlp]]);
    shapes.push([`${layer}.mlp.fc2.bias`, [hidden]]);
  }
  return shapes;
}

function layerNormShapes(name: string, hidden: number): [string, number[]][] {
  return [
    [`${name}.weight`, [hidden]],
    [`${name}.bias`, [hidden]],
  ];
}

/**
 * Every tensor of a Hugging Face `CLIPModel` with its shape (linear weights are [out, in]).
 * Checkpoints may hold more (e.g. `position_ids` buffers); those are not needed.
 */
export function clipWeightShapes(config: ClipConfig): Map<string, number[]> {
  const { text, vision, projectionDim } = config;
  const patches = (vision.imageSize / vision.patchSize) ** 2;
  return new Map([
    ['text_model.embeddings.token_embedding.weight', [text.vocabSize, text.hiddenSize]],
    ['text_model.embeddings.position_embedding.weight', [text.maxPositions, text.hiddenSize]],
    ...encoderLayerShapes('text_model', text.numLayers, text.hiddenSize, text.intermediateSize),
    ...layerNormShapes('text_model.final_layer_norm', text.hiddenSize),
    ['text_projection.weight', [projectionDim, text.hiddenSize]],
    ['vision_model.embeddings.class_embedding', [vision.hiddenSize]],
    [
      'vision_model.embeddings.patch_embedding.weight',
      [vision.hiddenSize, vision.numChannels, vision.patchSize, vision.patchSize],
    ],
    ['vision_model.embeddings.position_embedding.weight', [patches + 1, vision.hiddenSize]],
    ...layerNormShapes('vision_model.pre_layrnorm', vision.hiddenSize),
    ...encoderLayerShapes('vision_model', vision.numLayers, vision.hiddenSize, vision.intermediateSize),
    ...layerNormShapes('vision_model.post_layernorm', vision.hiddenSize),
    ['visual_projection.weight', [projectionDim, vision.hiddenSize]],
    ['logit_scale', []],
  ]);
}

const MAX_LISTED_PROBLEMS = 5;

/**
 * Checks that every tensor the config implies is present with the right shape.
 * Throws a ModelFileError naming the file and each offending tensor with expected and found shapes.
 */
export function validateClipWeights(
  config: ClipConfig,
  tensors: ReadonlyMap<string, { shape: readonly number[] }>,
  file: string,
): void {
  const problems: string[] = [];
  for (const [name, expected] of clipWeightShapes(config)) {
    const found = tensors.get(name);
    if (!found) problems.push(`tensor "${name}" is missing (expected shape [${expected.join(', ')}])`);
    else if (found.shape.length !== expected.length || found.shape.some((d, i) => d !== expected[i])) {
      problems.push(
        `tensor "${name}" has shape [${found.shape.join(', ')}], expected [${expected.join(', ')}]`,
      );
    }
  }
  if (problems.length === 0) return;
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).join('; ');
  const more =
    problems.length > MAX_LISTED_PROBLEMS ? `; and ${problems.length - MAX_LISTED_PROBLEMS} more` : '';
  throw new ModelFileError(file, `weights do not match config.json: ${listed}${more}`);
}
