import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clipWeightShapes, readClipConfig } from '../../../src/engine/clip/config.js';
import {
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsError,
  writeSafetensors,
} from '../../../src/engine/clip/safetensors.js';
import { GOLDEN_MODEL_DIR, loadGoldenTensor } from '../../fixtures/golden/load.js';

const tempDir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));
const goldenWeights = join(GOLDEN_MODEL_DIR, 'model.safetensors');

/** Writes a safetensors file from a literal header object and raw data bytes. */
function writeRaw(name: string, header: unknown, data: Uint8Array, headerPadding = 0): string {
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(headerPadding));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const path = join(tempDir, name);
  writeFileSync(path, Buffer.concat([length, json, data]));
  return path;
}

function u16(values: number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(values).buffer);
}

describe('readSafetensors on the golden model', () => {
  const tensors = readSafetensors(goldenWeights);
  const expected = clipWeightShapes(readClipConfig(join(GOLDEN_MODEL_DIR, 'config.json')));

  it('reads every CLIP tensor with its expected shape, and nothing else', () => {
    expect(tensors.size).toBe(78);
    expect([...tensors.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, shape] of expected) {
      const tensor = tensors.get(name)!;
      expect(tensor.shape, name).toEqual(shape);
      expect(tensor.dtype).toBe('F32');
      expect(tensor.data.length).toBe(shape.reduce((a, b) => a * b, 1));
    }
  });

  it('has the values the reference implementation used', () => {
    expect(tensors.get('logit_scale')!.data[0]).toBeCloseTo(loadGoldenTensor('logit_scale').data[0], 6);
    // ctx_init is made of token-embedding rows 320, 1125, 539, 320 ("a photo of a").
    const embedding = tensors.get('text_model.embeddings.token_embedding.weight')!.data;
    const ctxInit = loadGoldenTensor('ctx_init').data;
    const width = 64;
    [320, 1125, 539, 320].forEach((row, i) => {
      expect(Array.from(embedding.subarray(row * width, (row + 1) * width))).toEqual(
        Array.from(ctxInit.subarray(i * width, (i + 1) * width)),
      );
    });
  });

  it('keeps F32 weights as views of one buffer (no second copy)', () => {
    const buffers = new Set([...tensors.values()].map((t) => t.data.buffer));
    expect(buffers.size).toBe(1);
  });

  it('reads only the selected tensors', () => {
    const selected = readSafetensors(goldenWeights, { select: (name) => name.startsWith('visual_') });
    expect([...selected.keys()]).toEqual(['visual_projection.weight']);
  });

  it('reads the header alone', () => {
    const header = readSafetensorsHeader(goldenWeights);
    expect(header.tensors.get('logit_scale')!.shape).toEqual([]);
    expect(header.dataStart % 8).toBe(0);
  });
});

describe('writeSafetensors', () => {
  it('round-trips tensors and metadata, in name order, 8-byte aligned', () => {
    const path = join(tempDir, 'roundtrip.safetensors');
    const b = new Float32Array([1.5, -2, 3.25, 0, 1e-20, -7]);
    writeSafetensors(
      path,
      new Map([
        ['b', { shape: [2, 3], data: b }],
        ['a', { shape: [], data: () => new Float32Array([Math.PI]) }],
      ]),
      { format: 'pt', note: 'test' },
    );
    const header = readSafetensorsHeader(path);
    expect([...header.tensors.keys()]).toEqual(['a', 'b']);
    expect(header.metadata).toEqual({ format: 'pt', note: 'test' });
    expect(header.dataStart % 8).toBe(0);
    const back = readSafetensors(path);
    expect(Array.from(back.get('b')!.data)).toEqual(Array.from(b));
    expect(back.get('b')!.shape).toEqual([2, 3]);
    expect(back.get('a')!.data[0]).toBe(Math.fround(Math.PI));
  });

  it('leaves no file behind when a tensor does not match its shape', () => {
    const path = join(tempDir, 'bad-write.safetensors');
    expect(() => writeSafetensors(path, new Map([['x', { shape: [3], data: new Float32Array(2) }]]))).toThrow(
      /tensor "x" has 2 values but shape \[3\] needs 3/,
    );
    expect(() => readFileSync(path)).toThrow();
    expect(() => readSafetensorsHeader(path)).toThrow(/file not found/);
  });
});

describe('half-precision conversion', () => {
  it('converts F16 bit patterns exactly, including subnormals, infinities and NaN', () => {
    // 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), -0, +inf, NaN, 0.333251953125
    const bits = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00, 0x3555];
    const path = writeRaw(
      'f16.safetensors',
      { h: { dtype: 'F16', shape: [9], data_offsets: [0, 18] } },
      u16(bits),
    );
    const h = readSafetensors(path).get('h')!;
    expect(h.dtype).toBe('F16');
    expect(Array.from(h.data.subarray(0, 6))).toEqual([1, -2, 0.5, 65504, 2 ** -24, -0]);
    expect(Object.is(h.data[5], -0)).toBe(true);
    expect(h.data[6]).toBe(Infinity);
    expect(h.data[7]).toBeNaN();
    expect(h.data[8]).toBe(0.333251953125);
  });

  it('converts BF16 as the upper half of float32', () => {
    const values = new Float32Array([1, -3.5, 256, 0.15625]);
    const upper = Array.from(new Uint32Array(values.buffer), (b) => b >>> 16);
    const path = writeRaw(
      'bf16.safetensors',
      { b: { dtype: 'BF16', shape: [2, 2], data_offsets: [0, 8] } },
      u16(upper),
    );
    expect(Array.from(readSafetensors(path).get('b')!.data)).toEqual(Array.from(values));
  });

  it('reads tensors at unaligned offsets', () => {
    const f32 = new Float32Array([1.25, -4]);
    // A 1-byte gap at the start of an 8-byte aligned data section puts both tensors at unaligned offsets.
    const data = new Uint8Array(1 + 4 + 8);
    data.set(u16([0x3c00, 0xc000]), 1);
    data.set(new Uint8Array(f32.buffer), 5);
    const header = {
      h: { dtype: 'F16', shape: [2], data_offsets: [1, 5] },
      f: { dtype: 'F32', shape: [2], data_offsets: [5, 13] },
    };
    const path = writeRaw(
      'unaligned.safetensors',
      header,
      data,
      8 - ((JSON.stringify(header).length + 8) % 8),
    );
    const back = readSafetensors(path);
    expect(Array.from(back.get('h')!.data)).toEqual([1, -2]);
    expect(Array.from(back.get('f')!.data)).toEqual([1.25, -4]);
  });
});

describe('readSafetensors errors name the file and the problem', () => {
  const one = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  function expectError(path: string, pattern: RegExp): void {
    let error: unknown;
    try {
      readSafetensors(path);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(pattern);
  }

  it('missing file', () => expectError(join(tempDir, 'nope.safetensors'), /file not found/));

  it('zero-byte file', () => {
    const path = join(tempDir, 'empty.safetensors');
    writeFileSync(path, '');
    expectError(path, /truncated: 0 bytes/);
  });

  it('truncated header', () => {
    const path = writeRaw('trunc-header.safetensors', one, new Uint8Array(8));
    truncateSync(path, 20);
    expectError(path, /truncated header/);
  });

  it('truncated data (offsets beyond the end of the file)', () => {
    const path = join(tempDir, 'trunc-data.safetensors');
    writeFileSync(path, readFileSync(goldenWeights).subarray(0, 1_000_000));
    expectError(path, /out of range.*truncated/);
  });

  it('header that is not JSON', () => {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(4n);
    const path = join(tempDir, 'bad-json.safetensors');
    writeFileSync(path, Buffer.concat([length, Buffer.from('{oops')]));
    expectError(path, /header is not valid JSON/);
  });

  it('a text file is not mistaken for a header', () => {
    const path = join(tempDir, 'text.safetensors');
    writeFileSync(path, 'this is certainly not a safetensors file');
    expectError(path, /implausible|truncated header/);
  });

  it('unsupported dtype names the tensor', () => {
    const path = writeRaw(
      'i64.safetensors',
      { ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    expectError(path, /tensor "ids" has unsupported dtype I64/);
    // ...unless the tensor is not selected (checkpoints carry int64 position_ids buffers).
    expect(readSafetensors(path, { select: (n) => n !== 'ids' }).size).toBe(0);
  });

  it('shape and byte size that disagree', () => {
    const path = writeRaw(
      'mismatch.safetensors',
      { x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    expectError(path, /tensor "x" has shape \[3\] \(12 bytes of F32\) but data_offsets span 8 bytes/);
  });

  it('offsets out of order', () => {
    const path = writeRaw(
      'order.safetensors',
      { x: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } },
      new Uint8Array(8),
    );
    expectError(path, /out of order/);
  });

  it('malformed shape', () => {
    const path = writeRaw(
      'shape.safetensors',
      { x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } },
      new Uint8Array(4),
    );
    expectError(path, /invalid shape/);
  });
});
