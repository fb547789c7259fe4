import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clipWeightShapes, parseClipConfig, readClipConfig } from '../../../src/engine/clip/config.js';
import { CLIP_PRESETS, makeClipModel } from '../../../tools/clip/make-model.js';
import { loadClipModelFiles, type ClipModelFiles } from '../../../src/engine/clip/model-files.js';
import { ClipTokenizer } from '../../../src/engine/clip/tokenizer.js';
import { buildClipTokenizerJson } from '../../../tools/clip/tokenizer-build.js';
import { GOLDEN_MODEL_DIR, loadTokenizerCases } from '../../fixtures/golden/load.js';

const tempDir = mkdtempSync(join(tmpdir(), 'make-model-test-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

function std(data: Float32Array): number {
  let sum = 0;
  let squares = 0;
  for (const v of data) {
    sum += v;
    squares += v * v;
  }
  return Math.sqrt(squares / data.length - (sum / data.length) ** 2);
}

describe('buildClipTokenizerJson (from resources/clip-bpe)', () => {
  const built = buildClipTokenizerJson();

  it('is the golden tokenizer.json, field for field', () => {
    const golden = JSON.parse(readFileSync(join(GOLDEN_MODEL_DIR, 'tokenizer.json'), 'utf8'));
    expect(built).toEqual(golden);
  });

  it('tokenizes every case like the golden tokenizer', () => {
    const tokenizer = ClipTokenizer.fromJson(built, 'built tokenizer.json');
    expect(tokenizer.vocabSize).toBe(49408);
    const mismatches = loadTokenizerCases().filter(
      (c) => JSON.stringify(tokenizer.tokenize(c.text)) !== JSON.stringify(c.ids),
    );
    expect(mismatches.map((c) => c.text)).toEqual([]);
  });

  it('rejects a file that is not the merge list', () => {
    const path = join(tempDir, 'bad.txt.gz');
    writeFileSync(path, Buffer.from([0x1f, 0x8b, 0, 0]));
    expect(() => buildClipTokenizerJson(path)).toThrow();
  });
});

describe('makeClipModel', () => {
  let model: ClipModelFiles;
  const tinyDir = join(tempDir, 'tiny');

  beforeAll(() => {
    makeClipModel(tinyDir, { preset: 'tiny', seed: 7 });
    model = loadClipModelFiles(tinyDir);
  });

  it('writes a folder that loads and validates, with the golden model dimensions', () => {
    expect(model.config).toEqual(readClipConfig(join(GOLDEN_MODEL_DIR, 'config.json')));
    expect(model.preprocess).toMatchObject({ imageSize: 32, shortestEdge: 32, resample: 'bicubic' });
    expect(model.tokenizer.tokenize('a photo of a')).toEqual([49406, 320, 1125, 539, 320, 49407]);
    expect(JSON.parse(readFileSync(join(tinyDir, 'tokenizer_config.json'), 'utf8')).tokenizer_class).toBe(
      'CLIPTokenizer',
    );
  });

  it('initialises like the golden recipe', () => {
    const w = (name: string) => model.weights.get(name)!.data;
    expect(w('logit_scale')[0]).toBeCloseTo(Math.log(100), 6);
    expect(Array.from(w('text_model.encoder.layers.0.layer_norm1.weight'))).toEqual(new Array(64).fill(1));
    expect(Array.from(w('vision_model.pre_layrnorm.bias'))).toEqual(new Array(64).fill(0));
    // The sample std of n normals is off by about 1/√(2n) relative: allow four of those.
    const expectStd = (name: string, expected: number) => {
      const values = w(name);
      expect(Math.abs(std(values) / expected - 1), name).toBeLessThan(4 / Math.sqrt(2 * values.length));
    };
    expectStd('text_model.embeddings.token_embedding.weight', 0.02);
    expectStd('text_model.embeddings.position_embedding.weight', 0.002);
    expectStd('text_model.encoder.layers.1.self_attn.q_proj.weight', 0.5 / 8);
    expectStd('text_model.encoder.layers.1.self_attn.out_proj.weight', 0.02 / 8);
    expectStd('vision_model.encoder.layers.0.mlp.fc1.weight', 1.5 / 8);
    expectStd('vision_model.encoder.layers.0.mlp.fc2.weight', 1 / 16);
    expectStd('vision_model.embeddings.patch_embedding.weight', 1 / Math.sqrt(3 * 8 * 8));
    expectStd('text_model.encoder.layers.0.mlp.fc1.bias', 0.02);
  });

  it('is deterministic per seed', () => {
    const again = join(tempDir, 'tiny-again');
    const other = join(tempDir, 'tiny-other');
    makeClipModel(again, { preset: 'tiny', seed: 7 });
    makeClipModel(other, { preset: 'tiny', seed: 8 });
    const bytes = (dir: string) => readFileSync(join(dir, 'model.safetensors'));
    expect(bytes(again).equals(bytes(tinyDir))).toBe(true);
    expect(bytes(other).equals(bytes(tinyDir))).toBe(false);
  });

  it('refuses to write into a folder that has files', () => {
    expect(() => makeClipModel(tinyDir, { preset: 'tiny' })).toThrow(/not empty; refusing to overwrite/);
  });

  it('describes the real ViT-B shapes in its presets', () => {
    const b16 = CLIP_PRESETS['vit-b-16'];
    expect(b16).toEqual({
      text: { hidden: 512, heads: 8, layers: 12, mlp: 2048 },
      vision: { hidden: 768, heads: 12, layers: 12, mlp: 3072, imageSize: 224, patchSize: 16 },
      projection: 512,
    });
    expect(CLIP_PRESETS['vit-b-32'].vision.patchSize).toBe(32);
    // ViT-B/16 has 197 vision positions and ~150M parameters.
    const config = parseClipConfig(
      { vision_config: { patch_size: 16 } }, // transformers defaults are ViT-B/32 otherwise
      'config.json',
    );
    const shapes = clipWeightShapes(config);
    expect(shapes.get('vision_model.embeddings.position_embedding.weight')).toEqual([197, 768]);
    const params = [...shapes.values()].reduce((sum, s) => sum + s.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(149_620_737);
  });
});
