// Geometry of the views MetaTPT and TPT learn. A view is a 2×3 affine θ = [a, b, tx, c, d, ty]
// (row-major) taking output coordinates u ∈ [-1, 1]² to source coordinates s = A·u + t, where the source
// frame spans the whole image: x from the left edge (-1) to the right edge (1), y from top to bottom,
// whatever the aspect ratio (the engine warps views out of the image stretched to a square).

export type Theta = readonly [number, number, number, number, number, number];

export interface Point {
  x: number;
  y: number;
}

/** Reads a stored θ (six numbers), rejecting anything else by name. */
export function toTheta(values: readonly number[]): Theta {
  if (values.length !== 6 || values.some((v) => !Number.isFinite(v))) {
    throw new Error(`a view θ has six finite numbers, got [${values.join(', ')}]`);
  }
  return [values[0], values[1], values[2], values[3], values[4], values[5]];
}

/** The source point an output point samples: s = A·u + t. */
export function applyTheta(theta: Theta, u: Point): Point {
  const [a, b, tx, c, d, ty] = theta;
  return { x: a * u.x + b * u.y + tx, y: c * u.x + d * u.y + ty };
}

/** θ⁻¹: source coordinates to output coordinates, u = A⁻¹·(s − t). Null for a degenerate θ. */
export function invertTheta(theta: Theta): Theta | null {
  const [a, b, tx, c, d, ty] = theta;
  const det = a * d - b * c;
  if (Math.abs(det) < 1e-9) return null;
  const [ia, ib, ic, id] = [d / det, -b / det, -c / det, a / det];
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

const outputCorners: readonly Point[] = [
  { x: -1, y: -1 },
  { x: 1, y: -1 },
  { x: 1, y: 1 },
  { x: -1, y: 1 },
];

/**
 * The view's outline on the original: where the output square's corners (top-left, top-right,
 * bottom-right, bottom-left of the view) come from, in normalised source coordinates.
 */
export function cropOutline(theta: Theta): Point[] {
  return outputCorners.map((corner) => applyTheta(theta, corner));
}

/** A normalised source point in pixels of an image displayed at width×height. */
export function toPixels(point: Point, width: number, height: number): Point {
  return { x: ((point.x + 1) / 2) * width, y: ((point.y + 1) / 2) * height };
}

/** SVG `points` of a polygon in a width×height frame. */
export function svgPoints(outline: readonly Point[], width: number, height: number): string {
  return outline
    .map((p) => toPixels(p, width, height))
    .map((p) => `${round(p.x)},${round(p.y)}`)
    .join(' ');
}

/**
 * CSS transform that shows the view: applied (with transform-origin at the centre) to the whole image
 * stretched over a square clip, it moves each source point s to where the view shows it, u = θ⁻¹(s).
 * The linear part is A⁻¹; the shift −A⁻¹·t is in half-sides of the square, so as a percentage of the
 * element's own size it is −50·A⁻¹·t % — which keeps the transform independent of the tile's pixel size.
 * Null for a degenerate θ.
 */
export function viewTransformCss(theta: Theta): string | null {
  const inverse = invertTheta(theta);
  if (!inverse) return null;
  const [ia, ib, itx, ic, id, ity] = inverse;
  // CSS matrix(a, b, c, d, e, f) maps (x, y) to (a·x + c·y + e, b·x + d·y + f): column-major.
  return `translate(${round(50 * itx)}%, ${round(50 * ity)}%) matrix(${[ia, ic, ib, id, 0, 0].map(round).join(', ')})`;
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4 || 0;
}
