// Writes a CLIP model folder in Hugging Face layout with seeded random weights: real architecture,
// tensor names, file formats and tokenizer, meaningless features. Used for tests, benchmarks and the
// embedded default before a trained checkpoint is imported.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random, seedFrom } from '../../src/engine/random.js';
import { clipWeightShapes, parseClipConfig } from '../../src/engine/clip/config.js';
import { CLIP_MODEL_FILES } from '../../src/engine/clip/model-files.js';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/clip/safetensors.js';
import { END_OF_TEXT, START_OF_TEXT } from '../../src/engine/clip/tokenizer.js';
import { buildClipTokenizerJson, DEFAULT_CLIP_BPE_PATH } from './tokenizer-build.js';

export type ClipPreset = 'tiny' | 'vit-b-32' | 'vit-b-16';

export interface TowerDims {
  hidden: number;
  heads: number;
  layers: number;
  mlp: number;
}

/** The sizes that make a CLIP model (a preset's, or any other). */
export interface ClipDims {
  text: TowerDims;
  vision: TowerDims & { imageSize: number; patchSize: number };
  projection: number;
}

const VIT_B_TEXT: TowerDims = { hidden: 512, heads: 8, layers: 12, mlp: 2048 };
const VIT_B_VISION: TowerDims = { hidden: 768, heads: 12, layers: 12, mlp: 3072 };

/** `tiny` matches the golden reference model; the ViT-B presets have the shapes of OpenAI's checkpoints. */
export const CLIP_PRESETS: Record<ClipPreset, ClipDims> = {
  tiny: {
    text: { hidden: 64, heads: 2, layers: 2, mlp: 256 },
    vision: { hidden: 64, heads: 2, layers: 2, mlp: 256, imageSize: 32, patchSize: 8 },
    projection: 32,
  },
  'vit-b-32': {
    text: VIT_B_TEXT,
    vision: { ...VIT_B_VISION, imageSize: 224, patchSize: 32 },
    projection: 512,
  },
  'vit-b-16': {
    text: VIT_B_TEXT,
    vision: { ...VIT_B_VISION, imageSize: 224, patchSize: 16 },
    projection: 512,
  },
};

const VOCAB_SIZE = 49408;
const CONTEXT_LENGTH = 77;
const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** config.json of a Hugging Face CLIPModel with these sizes (HF's default initial temperature). */
export function clipConfigJson(dims: ClipDims, logitScaleInit = 2.6592): Record<string, unknown> {
  const common = { hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, projection_dim: dims.projection };
  return {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: dims.projection,
    logit_scale_init_value: logitScaleInit,
    torch_dtype: 'float32',
    text_config: {
      model_type: 'clip_text_model',
      vocab_size: VOCAB_SIZE,
      hidden_size: dims.text.hidden,
      intermediate_size: dims.text.mlp,
      num_attention_heads: dims.text.heads,
      num_hidden_layers: dims.text.layers,
      max_position_embeddings: CONTEXT_LENGTH,
      bos_token_id: VOCAB_SIZE - 2,
      eos_token_id: VOCAB_SIZE - 1,
      pad_token_id: 1,
      ...common,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: dims.vision.hidden,
      intermediate_size: dims.vision.mlp,
      num_attention_heads: dims.vision.heads,
      num_hidden_layers: dims.vision.layers,
      image_size: dims.vision.imageSize,
      patch_size: dims.vision.patchSize,
      num_channels: 3,
      ...common,
    },
  };
}

/** preprocessor_config.json of CLIPImageProcessor for square inputs of `imageSize`. */
export function clipPreprocessorJson(imageSize: number): Record<string, unknown> {
  return {
    crop_size: { height: imageSize, width: imageSize },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: OPENAI_CLIP_MEAN,
    image_processor_type: 'CLIPImageProcessor',
    image_std: OPENAI_CLIP_STD,
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: imageSize },
  };
}

/** tokenizer_config.json for transformers' CLIPTokenizer(Fast); this project reads tokenizer.json only. */
function tokenizerConfigJson(): Record<string, unknown> {
  return {
    bos_token: START_OF_TEXT,
    eos_token: END_OF_TEXT,
    pad_token: END_OF_TEXT,
    unk_token: END_OF_TEXT,
    do_lower_case: true,
    model_max_length: CONTEXT_LENGTH,
    tokenizer_class: 'CLIPTokenizer',
  };
}

function normalTensor(count: number, std: number, seed: number): Float32Array {
  const rng = new Random(seed);
  // In (0, 1]: the logarithm below never sees 0.
  const uniform = () => 1 - rng.next();
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    // Box–Muller: two independent normals per pair of uniforms.
    const radius = std * Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

const EMBEDDING_STD = 0.02;
const TEXT_POSITION_STD = 0.002;
/**
 * Gains of the weight matrices (std = gain / √fan_in), those of the golden reference model: they keep the
 * class softmax away from uniform and one-hot and make attention matter.
 */
const MATRIX_GAINS: [RegExp, number][] = [
  [/^text_model\..*self_attn\.[qk]_proj\.weight$/, 0.5],
  [/^text_model\..*self_attn\.out_proj\.weight$/, 0.02],
  [/mlp\.fc1\.weight$/, 1.5],
];

/** The seeded initial value of one tensor, by its Hugging Face name (see the golden README, Provenance). */
function initialValue(name: string, shape: number[], seed: number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (name === 'logit_scale') return new Float32Array([Math.log(100)]);
  if (/(layer_?norm\d?|layrnorm)\.weight$/.test(name)) return new Float32Array(count).fill(1);
  if (/(layer_?norm\d?|layrnorm)\.bias$/.test(name)) return new Float32Array(count);
  const tensorSeed = seedFrom(seed, name);
  if (name === 'text_model.embeddings.position_embedding.weight') {
    return normalTensor(count, TEXT_POSITION_STD, tensorSeed);
  }
  const isMatrix = shape.length >= 2 && !name.includes('embeddings.') && !name.endsWith('.bias');
  const isPatchConv = name === 'vision_model.embeddings.patch_embedding.weight';
  if (isMatrix || isPatchConv) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const gain = MATRIX_GAINS.find(([pattern]) => pattern.test(name))?.[1] ?? 1;
    return normalTensor(count, gain / Math.sqrt(fanIn), tensorSeed);
  }
  return normalTensor(count, EMBEDDING_STD, tensorSeed); // embeddings, class embedding, biases
}

export interface MakeClipModelOptions {
  preset: ClipPreset;
  seed?: number;
  bpePath?: string;
}

/**
 * Writes config.json, preprocessor_config.json, tokenizer.json (+ tokenizer_config.json) and
 * model.safetensors into `outDir` (created; must not hold files yet). Tensors are generated one at a
 * time while writing, so memory stays at about one tensor.
 */
export function makeClipModel(outDir: string, { preset, seed = 0, bpePath }: MakeClipModelOptions): void {
  const dims = CLIP_PRESETS[preset];
  if (!dims) throw new Error(`unknown preset "${preset}" (known: ${Object.keys(CLIP_PRESETS).join(', ')})`);
  if (existsSync(outDir) && readdirSync(outDir).length > 0) {
    throw new Error(`${outDir}: folder is not empty; refusing to overwrite`);
  }
  mkdirSync(outDir, { recursive: true });
  const configJson = clipConfigJson(dims);
  const config = parseClipConfig(configJson, join(outDir, CLIP_MODEL_FILES.config));
  const writeJson = (name: string, value: unknown) =>
    writeFileSync(join(outDir, name), JSON.stringify(value, null, 2) + '\n');
  writeJson(CLIP_MODEL_FILES.config, configJson);
  writeJson(CLIP_MODEL_FILES.preprocess, clipPreprocessorJson(dims.vision.imageSize));
  writeFileSync(
    join(outDir, CLIP_MODEL_FILES.tokenizer),
    JSON.stringify(buildClipTokenizerJson(bpePath ?? DEFAULT_CLIP_BPE_PATH)),
  );
  writeJson('tokenizer_config.json', tokenizerConfigJson());

  const tensors = new Map<string, TensorToWrite>();
  for (const [name, shape] of clipWeightShapes(config)) {
    tensors.set(name, { shape, data: () => initialValue(name, shape, seed) });
  }
  writeSafetensors(join(outDir, CLIP_MODEL_FILES.weights), tensors, {
    format: 'pt',
    generator: `metatpt make-clip-model preset=${preset} seed=${seed}`,
  });
}
