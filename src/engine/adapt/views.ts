// TPT's augmented views as affine maps. A view is the 2×3 θ that takes output pixel coordinates to
// source coordinates (both normalised to [-1, 1], as in affine_grid), so the same θ describes a crop
// whatever the source resolution, and MetaTPT can learn it.
import type { Random } from '../random.js';

export type Theta = [number, number, number, number, number, number];

export const IDENTITY_THETA: Theta = [1, 0, 0, 0, 1, 0];

export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * torchvision's RandomResizedCrop.get_params: ten tries at a box of area scale·A and log-uniform
 * aspect ratio, then a centre crop clamped to the ratio range.
 */
export function sampleResizedCrop(
  rng: Random,
  width: number,
  height: number,
  scale: readonly [number, number] = [0.08, 1],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): CropBox {
  const area = width * height;
  const [logLow, logHigh] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLow, logHigh));
    const w = Math.round(Math.sqrt(targetArea * aspect));
    const h = Math.round(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.int(0, height - h), left: rng.int(0, width - w), width: w, height: h };
    }
  }
  const inRatio = width / height;
  let [w, h] = [width, height];
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), width: w, height: h };
}

/** The θ that resamples `box` of a width×height image to the full output, mirrored if `flip`. */
export function cropTheta(box: CropBox, width: number, height: number, flip: boolean): Theta {
  const sx = box.width / width;
  const sy = box.height / height;
  return [
    flip ? -sx : sx,
    0,
    (2 * box.left + box.width) / width - 1,
    0,
    sy,
    (2 * box.top + box.height) / height - 1,
  ];
}

/**
 * TPT's views: view 0 is the original (centre crop, identity), views 1..n−1 are RandomResizedCrop +
 * RandomHorizontalFlip of the image, drawn from `rng` in order.
 */
export function tptViewThetas(rng: Random, count: number, width: number, height: number): Theta[] {
  const thetas: Theta[] = [IDENTITY_THETA];
  for (let v = 1; v < count; v++) {
    const box = sampleResizedCrop(rng, width, height);
    thetas.push(cropTheta(box, width, height, rng.next() < 0.5));
  }
  return thetas;
}

/**
 * Keeps a learned θ a valid view: some zoom but never a degenerate or huge map, shear bounded, and
 * the view's centre inside the image. The sign of the diagonal (a mirror) is kept.
 */
export function clampTheta(theta: ArrayLike<number>): Theta {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
  const magnitude = (v: number): number => Math.sign(v || 1) * clamp(Math.abs(v), 0.1, 1.5);
  return [
    magnitude(theta[0]),
    clamp(theta[1], -0.5, 0.5),
    clamp(theta[2], -1, 1),
    clamp(theta[3], -0.5, 0.5),
    magnitude(theta[4]),
    clamp(theta[5], -1, 1),
  ];
}
