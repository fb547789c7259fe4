// The int8 vision tower (dynamic quantisation of the linear layers) against fp32 on the golden model,
// and fp32 left exactly as it was.
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { grad } from '../../../src/engine/grad.js';
import { lowerToOnnx } from '../../../src/engine/onnx.js';
import { Engine } from '../../../src/engine/runtime.js';
import { input, quantizeWeight } from '../../../src/engine/tensor.js';
import { absDiffStats } from '../../../bench/lib/measure.js';
import { GOLDEN_MODEL_DIR, goldenIndex, loadGoldenTensor } from '../../fixtures/golden/load.js';
import { normalizeRowsHost, scaledSimilarities, softmax } from '../../../src/engine/host-math.js';

// Stated tolerances of the int8 tower on the golden model (measured: 8.9e-3 max, 1.9e-3 mean on
// unit features; 0.024 max on probabilities at the model's logit scale): unit-feature entries
// within 0.02 of fp32, 0.005 on average, probabilities within 0.05, and the same labels.
const FEATURE_MAX = 0.02;
const FEATURE_MEAN = 0.005;
const PROBABILITY_MAX = 0.05;

let model: ClipModel;
let pixels: Float32Array;
let count: number;

const quietEngine = () => new Engine({ provider: 'cpu', log: () => {} });

beforeAll(() => {
  model = ClipModel.load(GOLDEN_MODEL_DIR);
  const golden = loadGoldenTensor('pixel_values');
  pixels = golden.data as Float32Array;
  count = golden.shape[0];
});

describe('quantizeWeight', () => {
  it('stores W [out, in] as int8 [in, out] with one scale per output channel, within half a step', () => {
    const w = Float32Array.from([0.5, -1, 0.25, 0, 0, 0, 3, 2, -1.5]);
    const { q, scale } = quantizeWeight(w, [3, 3]);
    expect(q.shape).toEqual([3, 3]);
    const qData = q.attrs.data as Int8Array;
    const scales = scale.attrs.data as Float32Array;
    expect([...scales]).toEqual([1 / 127, 1, 3 / 127].map(Math.fround));
    expect([qData[0], qData[3], qData[6]]).toEqual([64, -127, 32]);
    for (let o = 0; o < 3; o++)
      for (let i = 0; i < 3; i++)
        expect(Math.abs(qData[i * 3 + o] * scales[o] - w[o * 3 + i])).toBeLessThanOrEqual(
          scales[o] / 2 + 1e-7,
        );
  });
});

describe('vision tower precision', () => {
  it(`int8 unit features within ${FEATURE_MAX} (mean ${FEATURE_MEAN}) of fp32, same labels`, async () => {
    const encoder = new ClipEncoder(model, quietEngine());
    const width = encoder.projectionDim;
    const fp32 = normalizeRowsHost(await encoder.encodeImages(pixels, count), width);
    const int8 = normalizeRowsHost(await encoder.encodeImages(pixels, count, { precision: 'int8' }), width);
    const features = absDiffStats(int8, fp32);
    expect(features.max).toBeGreaterThan(0);
    expect(features.max).toBeLessThanOrEqual(FEATURE_MAX);
    expect(features.mean).toBeLessThanOrEqual(FEATURE_MEAN);

    const text = normalizeRowsHost(
      await encoder.encodeText(model.tokenizer.encode(goldenIndex.prompts)),
      width,
    );
    const probs = (f: Float32Array) =>
      Array.from({ length: count }, (_, i) =>
        softmax(scaledSimilarities(f.subarray(i * width, (i + 1) * width), text, width, model.logitScale)),
      );
    const [p32, p8] = [probs(fp32), probs(int8)];
    for (let i = 0; i < count; i++) {
      expect(absDiffStats(p8[i], p32[i]).max).toBeLessThanOrEqual(PROBABILITY_MAX);
      expect(p8[i].indexOf(Math.max(...p8[i]))).toBe(p32[i].indexOf(Math.max(...p32[i])));
    }
  });

  it('fp32 is unchanged bit for bit: its graph has no integer ops and int8 sessions do not touch it', async () => {
    const { imageSize } = model.config.vision;
    const graph = (precision: 'fp32' | 'int8') =>
      lowerToOnnx(
        'vision',
        { f: model.encodeImages(input('pixels', [1, 3, imageSize, imageSize]), precision) },
        'feed',
      );
    const opsOf = (bytes: Uint8Array) => new TextDecoder('latin1').decode(bytes);
    expect(opsOf(graph('fp32').bytes)).not.toContain('MatMulInteger');
    expect(opsOf(graph('int8').bytes)).toContain('MatMulInteger');

    const fresh = await new ClipEncoder(model, quietEngine()).encodeImages(pixels, count);
    const shared = new ClipEncoder(model, quietEngine());
    await shared.encodeImages(pixels, count, { precision: 'int8' });
    expect(await shared.encodeImages(pixels, count)).toEqual(fresh);
  });

  it('int8 has no gradient: differentiating through it is an error, not a silent zero', () => {
    const { imageSize } = model.config.vision;
    const x = input('pixels', [1, 3, imageSize, imageSize]);
    expect(() => grad(model.encodeImages(x, 'int8').sum(), [x])).toThrow(/quantizedLinear.*no gradient rule/);
  });
});
