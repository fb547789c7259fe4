// AugMix as the official TPT code applies it to a view on fine-grained datasets: three chains of
// one to three random operations at severity 1, mixed with Dirichlet(1,1,1) weights, then blended
// with the un-augmented view by m ~ Beta(1,1). Operations act on 8-bit pixel values like PIL's.
// Mixing happens before CLIP normalisation; as an affine map with weights summing to one, that
// equals the official order (normalise, then mix).
import type { Random } from '../random.js';

/** A view as channel-major floats [3, size, size] holding 8-bit values 0..255. */
interface Pixels {
  data: Float32Array;
  size: number;
}

type Operation = (image: Pixels, rng: Random) => Pixels;

const SEVERITY = 1;

/** AugMix's sample_level: uniform in [0.1, severity). */
const sampleLevel = (rng: Random): number => rng.uniform(0.1, SEVERITY);
const intParameter = (level: number, max: number): number => Math.trunc((level * max) / 10);
const floatParameter = (level: number, max: number): number => (level * max) / 10;
const randomSign = (rng: Random, value: number): number => (rng.next() < 0.5 ? -value : value);

function mapChannels(image: Pixels, perChannel: (channel: Float32Array) => (v: number) => number): Pixels {
  const plane = image.size * image.size;
  const out = new Float32Array(image.data.length);
  for (let c = 0; c < 3; c++) {
    const channel = image.data.subarray(c * plane, (c + 1) * plane);
    const f = perChannel(channel);
    for (let i = 0; i < plane; i++) out[c * plane + i] = f(channel[i]);
  }
  return { data: out, size: image.size };
}

/** PIL ImageOps.autocontrast (cutoff 0): each channel stretched to 0..255. */
export function autocontrast(image: Pixels): Pixels {
  return mapChannels(image, (channel) => {
    let [low, high] = [255, 0];
    for (const v of channel) [low, high] = [Math.min(low, v), Math.max(high, v)];
    if (high <= low) return (v) => v;
    const scale = 255 / (high - low);
    return (v) => Math.min(255, Math.max(0, Math.floor((v - low) * scale)));
  });
}

/** PIL ImageOps.equalize: each channel through its cumulative histogram. */
export function equalize(image: Pixels): Pixels {
  return mapChannels(image, (channel) => {
    const histogram = new Array<number>(256).fill(0);
    for (const v of channel) histogram[v]++;
    const nonZero = histogram.filter((h) => h > 0);
    const step = Math.floor((channel.length - nonZero[nonZero.length - 1]) / 255);
    if (step === 0) return (v) => v;
    const lut = new Array<number>(256);
    let n = Math.floor(step / 2);
    for (let i = 0; i < 256; i++) {
      lut[i] = Math.min(255, Math.floor(n / step));
      n += histogram[i];
    }
    return (v) => lut[v];
  });
}

export function posterize(image: Pixels, bits: number): Pixels {
  const mask = ~(2 ** (8 - bits) - 1) & 0xff;
  return mapChannels(image, () => (v) => v & mask);
}

export function solarize(image: Pixels, threshold: number): Pixels {
  return mapChannels(image, () => (v) => (v >= threshold ? 255 - v : v));
}

/**
 * PIL Image.transform(AFFINE, (a, b, c, d, e, f), BILINEAR): the output pixel (x, y) takes the input at
 * (a·x + b·y + c, d·x + e·y + f); outside the image is black.
 */
export function affineTransform(image: Pixels, [a, b, c, d, e, f]: readonly number[]): Pixels {
  const { size } = image;
  const plane = size * size;
  const out = new Float32Array(image.data.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // PIL samples at pixel centres.
      const sx = a * (x + 0.5) + b * (y + 0.5) + c - 0.5;
      const sy = d * (x + 0.5) + e * (y + 0.5) + f - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let ch = 0; ch < 3; ch++) {
        const at = (px: number, py: number): number =>
          px < 0 || py < 0 || px >= size || py >= size ? 0 : image.data[ch * plane + py * size + px];
        const value =
          (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
          fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
        out[ch * plane + y * size + x] = Math.round(value);
      }
    }
  }
  return { data: out, size };
}

/** PIL rotate(degrees): counter-clockwise about the centre, with PIL's inverse matrix. */
export function rotate(image: Pixels, degrees: number): Pixels {
  const angle = (-degrees * Math.PI) / 180;
  const [a, b, d, e] = [Math.cos(angle), Math.sin(angle), -Math.sin(angle), Math.cos(angle)];
  const centre = image.size / 2;
  return affineTransform(image, [
    a,
    b,
    centre - a * centre - b * centre,
    d,
    e,
    centre - d * centre - e * centre,
  ]);
}

/** AugMix's operation list (augmentations.augmentations), with its parameter ranges. */
export const AUGMIX_OPERATIONS: Record<string, Operation> = {
  autocontrast: (image) => autocontrast(image),
  equalize: (image) => equalize(image),
  posterize: (image, rng) => posterize(image, 4 - intParameter(sampleLevel(rng), 4)),
  rotate: (image, rng) => rotate(image, randomSign(rng, intParameter(sampleLevel(rng), 30))),
  solarize: (image, rng) => solarize(image, 256 - intParameter(sampleLevel(rng), 256)),
  shearX: (image, rng) =>
    affineTransform(image, [1, randomSign(rng, floatParameter(sampleLevel(rng), 0.3)), 0, 0, 1, 0]),
  shearY: (image, rng) =>
    affineTransform(image, [1, 0, 0, randomSign(rng, floatParameter(sampleLevel(rng), 0.3)), 1, 0]),
  translateX: (image, rng) =>
    affineTransform(image, [1, 0, randomSign(rng, intParameter(sampleLevel(rng), image.size / 3)), 0, 1, 0]),
  translateY: (image, rng) =>
    affineTransform(image, [1, 0, 0, 0, 1, randomSign(rng, intParameter(sampleLevel(rng), image.size / 3))]),
};

/** Gamma(1) draws normalised: a Dirichlet(1, 1, 1) sample. */
function dirichlet3(rng: Random): number[] {
  const draws = [0, 0, 0].map(() => -Math.log(1 - rng.next()));
  const total = draws[0] + draws[1] + draws[2];
  return draws.map((d) => d / total);
}

/**
 * AugMix of one view given as floats in 0..1 [3, size, size]; returns floats in 0..1. Beta(1,1) is
 * uniform, so m is one uniform draw.
 */
export function augmix(view: Float32Array, size: number, rng: Random): Float32Array {
  const original: Pixels = { data: view.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255)), size };
  const operations = Object.values(AUGMIX_OPERATIONS);
  const weights = dirichlet3(rng);
  const m = rng.next();
  const mixed = new Float32Array(view.length);
  for (const weight of weights) {
    let chain = original;
    const depth = rng.int(1, 3);
    for (let k = 0; k < depth; k++) chain = operations[rng.int(0, operations.length - 1)](chain, rng);
    for (let i = 0; i < mixed.length; i++) mixed[i] += weight * chain.data[i];
  }
  return mixed.map((v, i) => (m * original.data[i] + (1 - m) * v) / 255);
}
