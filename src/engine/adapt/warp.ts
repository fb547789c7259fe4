// A differentiable affine warp (PyTorch affine_grid + grid_sample, bilinear, zero padding,
// align_corners = false) built from engine primitives, so that ∂view/∂θ flows into MetaTPT's
// augmentation parameters.
import { constant, logicalAnd, where, type Tensor } from '../tensor.js';

/** Normalised centre coordinates of `n` pixels: (2i + 1)/n − 1. */
function pixelCentres(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (2 * i + 1) / n - 1);
}

/**
 * Sampling points [N, S·S, 2] (x first) for output size S×S: (gx, gy) = θ_n · (x, y, 1) at each output
 * pixel centre, row-major.
 */
export function affineGrid(theta: Tensor, size: number): Tensor {
  const n = theta.shape[0];
  const centres = pixelCentres(size);
  const base = new Float32Array(size * size * 3);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) base.set([centres[j], centres[i], 1], (i * size + j) * 3);
  }
  const homogeneous = constant(base, [1, size * size, 3])
    .cast(theta.dtype)
    .expand([n, size * size, 3]);
  return homogeneous.matmul(theta.mT);
}

/**
 * Bilinear samples of `image` [C, H, W] at `grid` [N, P, 2] (normalised coordinates) → [N, C, P].
 * Each of the four neighbours outside the image contributes zero.
 */
export function bilinearSample(image: Tensor, grid: Tensor): Tensor {
  const [channels, height, width] = image.shape;
  const [n, points] = grid.shape;
  const flat = image.reshape([channels, height * width]);
  // Continuous pixel coordinate of a normalised one along an axis of `size` pixels (align_corners = false).
  const pixel = (axis: number, size: number): Tensor =>
    grid
      .slice(2, axis, axis + 1)
      .reshape([n * points])
      .add(1)
      .mul(size)
      .sub(1)
      .mul(0.5);
  const px = pixel(0, width);
  const py = pixel(1, height);
  const x0 = px.floor();
  const y0 = py.floor();
  // Only the fractional parts carry the gradient; floor() has none.
  const fx = px.sub(x0);
  const fy = py.sub(y0);
  const corner = (dx: 0 | 1, dy: 0 | 1): Tensor => {
    const x = dx ? x0.add(1) : x0;
    const y = dy ? y0.add(1) : y0;
    const inside = logicalAnd(logicalAnd(x.ge(0), x.le(width - 1)), logicalAnd(y.ge(0), y.le(height - 1)));
    const weight = (dx ? fx : fx.neg().add(1)).mul(dy ? fy : fy.neg().add(1));
    const index = y
      .clip(0, height - 1)
      .mul(width)
      .add(x.clip(0, width - 1))
      .cast('int64');
    return flat.gather(index, 1).mul(where(inside, weight, 0));
  };
  const sampled = corner(0, 0).add(corner(1, 0)).add(corner(0, 1)).add(corner(1, 1));
  return sampled.reshape([channels, n, points]).transpose([1, 0, 2]);
}

/** Views [N, C, S, S] of `image` [C, H, W] under affine maps `theta` [N, 2, 3]. */
export function warpViews(image: Tensor, theta: Tensor, size: number): Tensor {
  const [n] = theta.shape;
  return bilinearSample(image, affineGrid(theta, size)).reshape([n, image.shape[0], size, size]);
}

/** CLIP normalisation per channel of views [N, 3, S, S]. */
export function normalizePixels(views: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  const shape = [1, mean.length, 1, 1];
  return views
    .sub(constant(Float32Array.from(mean), shape).cast(views.dtype))
    .div(constant(Float32Array.from(std), shape).cast(views.dtype));
}
