// Loading and checking a CLIP model directory in Hugging Face layout.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  clipWeightShapes,
  readClipConfig,
  readPreprocessConfig,
  validateClipWeights,
  type ClipConfig,
  type ClipPreprocessConfig,
} from './config.js';
import { ModelFileError } from './errors.js';
import { readSafetensors, readSafetensorsHeader, type SafetensorsTensor } from './safetensors.js';
import { ClipTokenizer } from './tokenizer.js';

export const CLIP_MODEL_FILES = {
  config: 'config.json',
  preprocess: 'preprocessor_config.json',
  tokenizer: 'tokenizer.json',
  weights: 'model.safetensors',
} as const;

export interface ClipModelFiles {
  config: ClipConfig;
  preprocess: ClipPreprocessConfig;
  /** Only the tensors of clipWeightShapes(config), float32. */
  weights: Map<string, SafetensorsTensor>;
  tokenizer: ClipTokenizer;
}

export interface ClipModelCheck {
  config: ClipConfig;
  preprocess: ClipPreprocessConfig;
  tokenizer: ClipTokenizer;
  weightsBytes: number;
}

function requireFiles(dir: string): Record<keyof typeof CLIP_MODEL_FILES, string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ModelFileError(dir, 'model folder not found');
  const missing = Object.values(CLIP_MODEL_FILES).filter((name) => !existsSync(join(dir, name)));
  if (missing.length > 0) {
    throw new ModelFileError(dir, `not a CLIP model folder: missing ${missing.join(', ')}`);
  }
  return {
    config: join(dir, CLIP_MODEL_FILES.config),
    preprocess: join(dir, CLIP_MODEL_FILES.preprocess),
    tokenizer: join(dir, CLIP_MODEL_FILES.tokenizer),
    weights: join(dir, CLIP_MODEL_FILES.weights),
  };
}

/** Cross-file consistency: the tokenizer and preprocessor must fit the towers described by config.json. */
function checkConsistency(
  paths: Record<keyof typeof CLIP_MODEL_FILES, string>,
  config: ClipConfig,
  preprocess: ClipPreprocessConfig,
  tokenizer: ClipTokenizer,
): void {
  if (preprocess.imageSize !== config.vision.imageSize) {
    throw new ModelFileError(
      paths.preprocess,
      `crop size ${preprocess.imageSize} differs from the vision tower's image_size ${config.vision.imageSize} in config.json`,
    );
  }
  if (tokenizer.vocabSize > config.text.vocabSize) {
    throw new ModelFileError(
      paths.tokenizer,
      `${tokenizer.vocabSize} tokens, more than the text tower's vocab_size ${config.text.vocabSize} in config.json`,
    );
  }
  if (config.text.pooling === 'first-eos' && tokenizer.endId !== config.text.eosTokenId) {
    throw new ModelFileError(
      paths.tokenizer,
      `end-of-text id ${tokenizer.endId} differs from eos_token_id ${config.text.eosTokenId} in config.json`,
    );
  }
}

function readConfigAndTokenizer(dir: string) {
  const paths = requireFiles(dir);
  const config = readClipConfig(paths.config);
  const preprocess = readPreprocessConfig(paths.preprocess);
  const tokenizer = ClipTokenizer.fromFile(paths.tokenizer);
  checkConsistency(paths, config, preprocess, tokenizer);
  return { paths, config, preprocess, tokenizer };
}

/**
 * Validates a model folder without loading the weights (only the safetensors header is read):
 * config, preprocessor config, tokenizer, every weight's name and shape.
 */
export function checkClipModelDir(dir: string): ClipModelCheck {
  const { paths, config, preprocess, tokenizer } = readConfigAndTokenizer(dir);
  const header = readSafetensorsHeader(paths.weights);
  validateClipWeights(config, header.tensors, paths.weights);
  return { config, preprocess, tokenizer, weightsBytes: header.fileSize };
}

/** Loads everything the CLIP towers need from a model folder, with errors naming the bad file. */
export function loadClipModelFiles(dir: string): ClipModelFiles {
  const { paths, config, preprocess, tokenizer } = readConfigAndTokenizer(dir);
  const expected = clipWeightShapes(config);
  const weights = readSafetensors(paths.weights, { select: (name) => expected.has(name) });
  validateClipWeights(config, weights, paths.weights);
  return { config, preprocess, weights, tokenizer };
}
