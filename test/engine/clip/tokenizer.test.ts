import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../src/engine/clip/tokenizer.js';
import {
  GOLDEN_MODEL_DIR,
  goldenIndex,
  loadGoldenTensor,
  loadTokenizerCases,
} from '../../fixtures/golden/load.js';

const tokenizer = ClipTokenizer.fromFile(join(GOLDEN_MODEL_DIR, 'tokenizer.json'));
const tempDir = mkdtempSync(join(tmpdir(), 'clip-tokenizer-test-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe('ClipTokenizer (golden tokenizer.json)', () => {
  it('reproduces the ids of every tokenizer case', () => {
    const cases = loadTokenizerCases();
    expect(cases.length).toBeGreaterThan(2000);
    const mismatches = cases.filter(
      (c) => JSON.stringify(tokenizer.tokenize(c.text)) !== JSON.stringify(c.ids),
    );
    expect(mismatches.map((c) => c.text)).toEqual([]);
  });

  it('encodes the golden prompts to the golden token_ids and eot_index', () => {
    const batch = tokenizer.encode(goldenIndex.prompts);
    const tokenIds = loadGoldenTensor('token_ids');
    expect(tokenIds.shape).toEqual([40, 77]);
    expect(Array.from(batch.ids)).toEqual(Array.from(tokenIds.data));
    const eot = loadGoldenTensor('eot_index').data;
    expect(Array.from(batch.eot)).toEqual(Array.from(eot));
    expect(batch.maxLength).toBe(Math.max(...eot) + 1);
    expect(batch.contextLength).toBe(77);
  });

  it('truncates a long prompt to 76 ids then the end-of-text token', () => {
    expect(tokenizer.tokenize(goldenIndex.long_prompt)).toHaveLength(
      goldenIndex.long_prompt_untruncated_length,
    );
    const batch = tokenizer.encode([goldenIndex.long_prompt]);
    expect(Array.from(batch.ids)).toEqual(Array.from(loadGoldenTensor('long_prompt_token_ids').data));
    expect(batch.eot[0]).toBe(76);
    expect(batch.maxLength).toBe(77);
  });

  it('honours a shorter context length and an empty batch', () => {
    const batch = tokenizer.encode(['a photo of a dog', 'a'], 5);
    expect(Array.from(batch.ids)).toEqual([49406, 320, 1125, 539, 49407, 49406, 320, 49407, 0, 0]);
    expect(Array.from(batch.eot)).toEqual([4, 2]);
    expect(batch.maxLength).toBe(5);
    expect(tokenizer.encode([]).maxLength).toBe(0);
    expect(() => tokenizer.encode(['x'], 1)).toThrow(RangeError);
  });

  it('exposes the vocabulary', () => {
    expect(tokenizer.vocabSize).toBe(49408);
    expect(tokenizer.startId).toBe(49406);
    expect(tokenizer.endId).toBe(49407);
    expect(goldenIndex.ctx_init_token_ids.map((id) => tokenizer.decodeToken(id)).join('')).toBe(
      'a photo of a ',
    );
    expect(() => tokenizer.decodeToken(49408)).toThrow(/49408/);
  });

  it('names the file when it cannot load', () => {
    expect(() => ClipTokenizer.fromFile(join(tempDir, 'none.json'))).toThrow(/none\.json: file not found/);
    const notJson = join(tempDir, 'bad.json');
    writeFileSync(notJson, 'nope');
    expect(() => ClipTokenizer.fromFile(notJson)).toThrow(/bad\.json: not valid JSON/);
    const notClip = join(tempDir, 'other.json');
    writeFileSync(
      notClip,
      JSON.stringify({
        model: { type: 'WordLevel', vocab: { a: 0, '[UNK]': 1 }, unk_token: '[UNK]' },
        added_tokens: [],
        normalizer: null,
        pre_tokenizer: null,
        post_processor: null,
        decoder: null,
      }),
    );
    expect(() => ClipTokenizer.fromFile(notClip)).toThrow(/other\.json: not a CLIP tokenizer/);
    const notTokenizer = join(tempDir, 'config.json');
    writeFileSync(notTokenizer, JSON.stringify({ model_type: 'clip' }));
    expect(() => ClipTokenizer.fromFile(notTokenizer)).toThrow(/config\.json: not a usable tokenizer\.json/);
  });
});
