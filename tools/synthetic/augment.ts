// The training augmentation of the embedded model, as CLIP-scale data implies and as TPT's views
// assume: RandomResizedCrop (torchvision's sampling, the same as TPT's views) + horizontal flip, then
// mild colour jitter and an occasional slight blur. Pixels stay 8-bit RGB (HWC) so that CLIP
// preprocessing follows unchanged.
import type { DecodedImage } from '../../src/engine/image/decode.js';
import type { Random } from '../../src/engine/random.js';
import { sampleResizedCrop, type CropBox } from '../../src/engine/adapt/views.js';

export interface AugmentOptions {
  /** Side of the square output in pixels. */
  side: number;
  /** RandomResizedCrop's range of the crop's area, as a fraction of the image (torchvision: 0.08–1). */
  scale: readonly [number, number];
  /** Colour jitter: brightness, contrast and saturation factors drawn from 1 ± this. */
  jitter: number;
  /** Probability of a colour jitter. */
  jitterProbability: number;
  /** Probability of a Gaussian blur, and its largest sigma in output pixels. */
  blurProbability: number;
  maxBlurSigma: number;
}

export const TRAINING_AUGMENTATION: Omit<AugmentOptions, 'side'> = {
  scale: [0.08, 1],
  jitter: 0.25,
  jitterProbability: 0.8,
  blurProbability: 0.2,
  maxBlurSigma: 1.2,
};

/**
 * Bilinear resampling of `box` of the image to side × side (pixel centres aligned as torchvision's
 * resize with align_corners = false), mirrored left–right if `flip`. Returns float RGB, HWC, 0..255.
 */
function resampleCrop(image: DecodedImage, box: CropBox, side: number, flip: boolean): Float32Array {
  const out = new Float32Array(side * side * 3);
  const { width, height, data } = image;
  const sx = box.width / side;
  const sy = box.height / side;
  for (let y = 0; y < side; y++) {
    const py = Math.min(height - 1, Math.max(0, box.top + (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(py);
    const y1 = Math.min(height - 1, y0 + 1);
    const fy = py - y0;
    for (let x = 0; x < side; x++) {
      const px = Math.min(width - 1, Math.max(0, box.left + (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(px);
      const x1 = Math.min(width - 1, x0 + 1);
      const fx = px - x0;
      const target = (y * side + (flip ? side - 1 - x : x)) * 3;
      for (let c = 0; c < 3; c++) {
        const top = data[(y0 * width + x0) * 3 + c] * (1 - fx) + data[(y0 * width + x1) * 3 + c] * fx;
        const bottom = data[(y1 * width + x0) * 3 + c] * (1 - fx) + data[(y1 * width + x1) * 3 + c] * fx;
        out[target + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

/** torchvision's ColorJitter (brightness, contrast, saturation) on float RGB HWC, in that order. */
function colourJitter(pixels: Float32Array, random: Random, amount: number): void {
  const factor = () => random.uniform(1 - amount, 1 + amount);
  const [brightness, contrast, saturation] = [factor(), factor(), factor()];
  const grey = (i: number) => 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
  const clip = (v: number) => Math.min(255, Math.max(0, v));
  for (let i = 0; i < pixels.length; i++) pixels[i] = clip(pixels[i] * brightness);
  let mean = 0;
  for (let i = 0; i < pixels.length; i += 3) mean += grey(i);
  mean /= pixels.length / 3;
  for (let i = 0; i < pixels.length; i++) pixels[i] = clip(mean + (pixels[i] - mean) * contrast);
  for (let i = 0; i < pixels.length; i += 3) {
    const g = grey(i);
    for (let c = 0; c < 3; c++) pixels[i + c] = clip(g + (pixels[i + c] - g) * saturation);
  }
}

/** Separable Gaussian blur (edges clamped) of float RGB HWC, side × side. */
function gaussianBlur(pixels: Float32Array, side: number, sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) =>
    Math.exp(-((i - radius) ** 2) / (2 * sigma ** 2)),
  );
  const total = kernel.reduce((a, b) => a + b, 0);
  const pass = (input: Float32Array, horizontal: boolean): Float32Array => {
    const output = new Float32Array(input.length);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let k = -radius; k <= radius; k++) {
            const xx = horizontal ? Math.min(side - 1, Math.max(0, x + k)) : x;
            const yy = horizontal ? y : Math.min(side - 1, Math.max(0, y + k));
            sum += kernel[k + radius] * input[(yy * side + xx) * 3 + c];
          }
          output[(y * side + x) * 3 + c] = sum / total;
        }
      }
    }
    return output;
  };
  return pass(pass(pixels, true), false);
}

/**
 * One augmented training view of `image`: a random resized crop, flipped with probability ½, colour
 * jittered and blurred as `options` say. Draws from `random` in a fixed order (reproducible).
 */
export function augmentImage(image: DecodedImage, random: Random, options: AugmentOptions): DecodedImage {
  const { side } = options;
  const box = sampleResizedCrop(random, image.width, image.height, options.scale);
  let pixels = resampleCrop(image, box, side, random.next() < 0.5);
  if (random.next() < options.jitterProbability) colourJitter(pixels, random, options.jitter);
  if (random.next() < options.blurProbability)
    pixels = gaussianBlur(pixels, side, random.uniform(0.1, options.maxBlurSigma));
  return { width: side, height: side, data: Uint8Array.from(pixels, (v) => Math.round(v)) };
}
