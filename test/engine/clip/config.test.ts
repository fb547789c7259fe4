import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseClipConfig,
  parsePreprocessConfig,
  readClipConfig,
  readPreprocessConfig,
  validateClipWeights,
  type ClipConfig,
} from '../../../src/engine/clip/config.js';
import { ModelFileError } from '../../../src/engine/clip/errors.js';
import { checkClipModelDir, loadClipModelFiles } from '../../../src/engine/clip/model-files.js';
import { readSafetensorsHeader } from '../../../src/engine/clip/safetensors.js';
import { GOLDEN_MODEL_DIR } from '../../fixtures/golden/load.js';

const tempDir = mkdtempSync(join(tmpdir(), 'clip-config-test-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

const goldenConfig = (): Record<string, unknown> =>
  JSON.parse(readFileSync(join(GOLDEN_MODEL_DIR, 'config.json'), 'utf8'));
const goldenPreprocess = (): Record<string, unknown> =>
  JSON.parse(readFileSync(join(GOLDEN_MODEL_DIR, 'preprocessor_config.json'), 'utf8'));

describe('parseClipConfig', () => {
  it('reads the golden tiny config', () => {
    expect(readClipConfig(join(GOLDEN_MODEL_DIR, 'config.json'))).toEqual({
      text: {
        vocabSize: 49408,
        hiddenSize: 64,
        intermediateSize: 256,
        numHeads: 2,
        numLayers: 2,
        maxPositions: 77,
        hiddenAct: 'quick_gelu',
        layerNormEps: 1e-5,
        eosTokenId: 49407,
        pooling: 'first-eos',
      },
      vision: {
        hiddenSize: 64,
        intermediateSize: 256,
        numHeads: 2,
        numLayers: 2,
        imageSize: 32,
        patchSize: 8,
        numChannels: 3,
        hiddenAct: 'quick_gelu',
        layerNormEps: 1e-5,
      },
      projectionDim: 32,
      logitScaleInit: 2.6592,
    } satisfies ClipConfig);
  });

  it('fills missing fields with the transformers defaults (ViT-B/32)', () => {
    const config = parseClipConfig(
      { model_type: 'clip', text_config: { hidden_act: 'gelu' } },
      'config.json',
    );
    expect(config.text).toMatchObject({ vocabSize: 49408, hiddenSize: 512, numHeads: 8, numLayers: 12 });
    expect(config.text).toMatchObject({
      intermediateSize: 2048,
      maxPositions: 77,
      hiddenAct: 'gelu',
      eosTokenId: 49407,
    });
    expect(config.vision).toMatchObject({
      hiddenSize: 768,
      numHeads: 12,
      numLayers: 12,
      intermediateSize: 3072,
    });
    expect(config.vision).toMatchObject({
      imageSize: 224,
      patchSize: 32,
      numChannels: 3,
      hiddenAct: 'quick_gelu',
    });
    expect(config.projectionDim).toBe(512);
    expect(config.logitScaleInit).toBe(2.6592);
  });

  it('pools at the argmax of the ids for legacy configs with eos_token_id 2', () => {
    const config = parseClipConfig({ text_config: { eos_token_id: 2 } }, 'config.json');
    expect(config.text.pooling).toBe('argmax-id');
  });

  it('rebuilds a sub-config from text_config_dict when present, like transformers', () => {
    const config = parseClipConfig(
      {
        text_config: { hidden_size: 64, eos_token_id: 2 },
        text_config_dict: { hidden_size: 768, num_attention_heads: 12 },
      },
      'config.json',
    );
    expect(config.text).toMatchObject({
      hiddenSize: 768,
      numHeads: 12,
      eosTokenId: 49407,
      pooling: 'first-eos',
    });
  });

  it.each([
    [{ text_config: { hidden_act: 'relu' } }, /text_config.*hidden_act/],
    [
      { vision_config: { hidden_size: 100, num_attention_heads: 12 } },
      /vision hidden_size \(100\).*num_attention_heads \(12\)/,
    ],
    [{ vision_config: { image_size: 225, patch_size: 16 } }, /image_size \(225\).*patch_size \(16\)/],
    [{ model_type: 'siglip' }, /model_type is "siglip"/],
    [{ projection_dim: -3 }, /projection_dim/],
    [[1, 2], /invalid CLIP config/],
  ])('rejects %j', (json, pattern) => {
    expect(() => parseClipConfig(json, '/models/x/config.json')).toThrow(pattern);
    expect(() => parseClipConfig(json, '/models/x/config.json')).toThrow(/^\/models\/x\/config\.json: /);
  });

  it('names the file when it is missing or not JSON', () => {
    expect(() => readClipConfig(join(tempDir, 'none.json'))).toThrow(/none\.json: file not found/);
    const path = join(tempDir, 'broken.json');
    writeFileSync(path, '{"text_config": ');
    expect(() => readClipConfig(path)).toThrow(/broken\.json: not valid JSON/);
  });
});

describe('parsePreprocessConfig', () => {
  it('reads the golden preprocessor config', () => {
    expect(readPreprocessConfig(join(GOLDEN_MODEL_DIR, 'preprocessor_config.json'))).toEqual({
      imageSize: 32,
      shortestEdge: 32,
      mean: [0.48145466, 0.4578275, 0.40821073],
      std: [0.26862954, 0.26130258, 0.27577711],
      resample: 'bicubic',
    });
  });

  it('accepts the older integer size/crop_size form and defaults', () => {
    expect(parsePreprocessConfig({ size: 256, crop_size: 224, resample: 2 }, 'p.json')).toMatchObject({
      imageSize: 224,
      shortestEdge: 256,
      resample: 'bilinear',
    });
    expect(parsePreprocessConfig({}, 'p.json')).toMatchObject({
      imageSize: 224,
      shortestEdge: 224,
      resample: 'bicubic',
    });
  });

  it.each([
    [{ crop_size: { height: 224, width: 200 } }, /crop_size 224x200 is not square/],
    [
      { size: { shortest_edge: 200 }, crop_size: 224 },
      /shortest_edge \(200\) is smaller than crop_size \(224\)/,
    ],
    [{ do_center_crop: false }, /do_center_crop/],
    [{ rescale_factor: 1 }, /rescale_factor.*1\/255/],
    [{ image_std: [0, 1, 1] }, /image_std/],
    [{ resample: 5 }, /resample/],
  ])('rejects %j', (json, pattern) => {
    expect(() => parsePreprocessConfig(json, 'dir/preprocessor_config.json')).toThrow(pattern);
  });
});

describe('validateClipWeights', () => {
  const config = readClipConfig(join(GOLDEN_MODEL_DIR, 'config.json'));
  const header = readSafetensorsHeader(join(GOLDEN_MODEL_DIR, 'model.safetensors'));

  it('accepts the golden weights', () => {
    expect(() => validateClipWeights(config, header.tensors, 'model.safetensors')).not.toThrow();
  });

  it('names the missing tensor and the wrong shape', () => {
    const tensors = new Map(header.tensors);
    tensors.delete('vision_model.pre_layrnorm.bias');
    tensors.set('text_projection.weight', { ...tensors.get('text_projection.weight')!, shape: [64, 32] });
    let error: Error | undefined;
    try {
      validateClipWeights(config, tensors, '/m/model.safetensors');
    } catch (err) {
      error = err as Error;
    }
    expect(error).toBeInstanceOf(ModelFileError);
    expect(error!.message).toMatch(/^\/m\/model\.safetensors: /);
    expect(error!.message).toContain(
      'tensor "vision_model.pre_layrnorm.bias" is missing (expected shape [64])',
    );
    expect(error!.message).toContain('tensor "text_projection.weight" has shape [64, 32], expected [32, 64]');
  });

  it('rejects weights of another architecture', () => {
    const bigger = parseClipConfig(
      {
        ...goldenConfig(),
        vision_config: {
          hidden_size: 64,
          num_attention_heads: 2,
          num_hidden_layers: 3,
          image_size: 32,
          patch_size: 8,
          intermediate_size: 256,
        },
      },
      'c',
    );
    expect(() => validateClipWeights(bigger, header.tensors, 'w')).toThrow(
      /vision_model\.encoder\.layers\.2\..* is missing.*and \d+ more/,
    );
  });
});

describe('loadClipModelFiles / checkClipModelDir', () => {
  function copyOfGolden(name: string): string {
    const dir = join(tempDir, name);
    cpSync(GOLDEN_MODEL_DIR, dir, { recursive: true });
    return dir;
  }

  it('loads the golden model folder', () => {
    const model = loadClipModelFiles(GOLDEN_MODEL_DIR);
    expect(model.config.vision.patchSize).toBe(8);
    expect(model.preprocess.imageSize).toBe(32);
    expect(model.weights.size).toBe(78);
    expect(model.tokenizer.tokenize('a photo of a')).toEqual([49406, 320, 1125, 539, 320, 49407]);
    const check = checkClipModelDir(GOLDEN_MODEL_DIR);
    expect(check.weightsBytes).toBe(13548516);
  });

  it('names the missing files and the folder', () => {
    const dir = copyOfGolden('missing');
    rmSync(join(dir, 'tokenizer.json'));
    rmSync(join(dir, 'preprocessor_config.json'));
    expect(() => loadClipModelFiles(dir)).toThrow(
      `${dir}: not a CLIP model folder: missing preprocessor_config.json, tokenizer.json`,
    );
    expect(() => checkClipModelDir(join(tempDir, 'no-such-dir'))).toThrow(
      /no-such-dir: model folder not found/,
    );
  });

  it('rejects a preprocessor whose crop differs from the vision tower', () => {
    const dir = copyOfGolden('crop');
    writeFileSync(
      join(dir, 'preprocessor_config.json'),
      JSON.stringify({ ...goldenPreprocess(), crop_size: 224, size: 224 }),
    );
    expect(() => checkClipModelDir(dir)).toThrow(
      /preprocessor_config\.json: crop size 224 differs from the vision tower's image_size 32/,
    );
  });

  it('rejects weights that do not fit config.json', () => {
    const dir = copyOfGolden('shapes');
    const config = goldenConfig();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, projection_dim: 16 }));
    expect(() => loadClipModelFiles(dir)).toThrow(
      /model\.safetensors: weights do not match config\.json: .*text_projection\.weight/,
    );
  });
});
