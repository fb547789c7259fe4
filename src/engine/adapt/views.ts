// TPT's augmented views as affine maps. A view is the 2×3 θ that takes output pixel coordinates to
// source coordinates (both normalised to [-1, 1], as in affine_grid), so the same θ describes a crop
// whatever the source resolution, and MetaTPT can learn it.
import type { Random } from '../random.js';
import { concat, where, type Tensor, type TensorLike } from '../tensor.js';

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

/** The smallest footprint a learned view may have, as a fraction of the image's area (TPT's crops: ≥ 0.08). */
export const MIN_VIEW_AREA = 0.05;
/** The largest shear entry of a learned view (a crop has none; a rotation by 30° has 0.5 · scale). */
const MAX_SHEAR = 0.5;

/**
 * Projects a learned θ onto valid views: its footprint — the parallelogram θ·[−1, 1]² in the source's
 * normalised coordinates — lies inside the image and covers at least `minArea` of it, and its shear
 * is bounded. θ that already satisfy this come back unchanged (TPT's crops do), so the bound only acts
 * on views the inner loop pushed out. Steps, in order: shear clipped to ±0.5; each row of the linear
 * part scaled down so that the footprint's half-extent along that axis (|a| + |b|, |c| + |d|) is at
 * most 1; if the area fraction |det| is then below `minArea`, the shear is dropped and the smaller
 * scale raised (both to √minArea if need be); finally the centre clamped so that the footprint stays
 * inside. The sign of each diagonal entry (a mirror) is kept.
 */
export function boundTheta(theta: ArrayLike<number>, minArea = MIN_VIEW_AREA): Theta {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
  const sign = (v: number): number => (v < 0 ? -1 : 1);
  let [a, b, , c, d] = [theta[0], theta[1], theta[2], theta[3], theta[4]];
  b = clamp(b, -MAX_SHEAR, MAX_SHEAR);
  c = clamp(c, -MAX_SHEAR, MAX_SHEAR);
  const rowX = Math.max(1, Math.abs(a) + Math.abs(b));
  const rowY = Math.max(1, Math.abs(c) + Math.abs(d));
  [a, b, c, d] = [a / rowX, b / rowX, c / rowY, d / rowY];
  // (A tolerance of rounding, so that a bounded θ is a fixed point.)
  if (Math.abs(a * d - b * c) < minArea * (1 - 1e-9)) {
    const [big, small] = Math.abs(a) >= Math.abs(d) ? [Math.abs(a), Math.abs(d)] : [Math.abs(d), Math.abs(a)];
    const root = Math.sqrt(minArea);
    const [newBig, newSmall] = big >= root ? [big, Math.max(small, minArea / big)] : [root, root];
    const aIsBig = Math.abs(a) >= Math.abs(d);
    [a, d] = [sign(a) * (aIsBig ? newBig : newSmall), sign(d) * (aIsBig ? newSmall : newBig)];
    [b, c] = [0, 0];
  }
  // A crop touching the border has |t| = margin up to rounding; it stays as it is.
  const centre = (t: number, margin: number) =>
    Math.abs(t) <= margin + 1e-12 ? t : clamp(t, -margin, margin);
  const marginX = 1 - (Math.abs(a) + Math.abs(b));
  const marginY = 1 - (Math.abs(c) + Math.abs(d));
  return [a, b, centre(theta[2], marginX), c, d, centre(theta[5], marginY)];
}

const abs = (x: Tensor): Tensor => where(x.lt(0), x.neg(), x);
const minimum = (x: Tensor, y: Tensor): Tensor => where(x.lt(y), x, y);
const maximum = (x: Tensor, y: TensorLike): Tensor => where(x.gt(y), x, y);

/**
 * boundTheta as a traced graph over θ [B, 2, 3], for views that move inside a graph (the
 * second-order variant's differentiable inner steps); the same steps, piecewise differentiable.
 */
export function boundThetaTensor(theta: Tensor, minArea = MIN_VIEW_AREA): Tensor {
  const entry = (row: number, col: number) => theta.slice(1, row, row + 1).slice(2, col, col + 1);
  const rowX = maximum(abs(entry(0, 0)).add(abs(entry(0, 1).clip(-MAX_SHEAR, MAX_SHEAR))), 1);
  const rowY = maximum(abs(entry(1, 0).clip(-MAX_SHEAR, MAX_SHEAR)).add(abs(entry(1, 1))), 1);
  let [a, b, c, d] = [
    entry(0, 0).div(rowX),
    entry(0, 1).clip(-MAX_SHEAR, MAX_SHEAR).div(rowX),
    entry(1, 0).clip(-MAX_SHEAR, MAX_SHEAR).div(rowY),
    entry(1, 1).div(rowY),
  ];
  const small = abs(a.mul(d).sub(b.mul(c))).lt(minArea);
  const root = Math.sqrt(minArea);
  const aIsBig = abs(a).ge(abs(d));
  const big = maximum(abs(a), abs(d));
  const newBig = maximum(big, root);
  const newSmall = where(big.ge(root), maximum(minimum(abs(a), abs(d)), big.reciprocal().mul(minArea)), root);
  const signed = (x: Tensor, magnitude: Tensor) => where(x.lt(0), magnitude.neg(), magnitude);
  a = where(small, signed(a, where(aIsBig, newBig, newSmall)), a);
  d = where(small, signed(d, where(aIsBig, newSmall, newBig)), d);
  b = where(small, 0, b);
  c = where(small, 0, c);
  const marginX = abs(a).add(abs(b)).neg().add(1);
  const marginY = abs(c).add(abs(d)).neg().add(1);
  const tx = maximum(minimum(entry(0, 2), marginX), marginX.neg());
  const ty = maximum(minimum(entry(1, 2), marginY), marginY.neg());
  return concat([concat([a, b, tx], 2), concat([c, d, ty], 2)], 1);
}

/** The corners of θ's footprint (x, y) in the source's normalised coordinates. */
export function footprintCorners(theta: Theta): [number, number][] {
  return [
    [-1, -1],
    [1, -1],
    [1, 1],
    [-1, 1],
  ].map(([x, y]) => [theta[0] * x + theta[1] * y + theta[2], theta[3] * x + theta[4] * y + theta[5]]);
}
