// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import {
  applyTheta,
  cropOutline,
  invertTheta,
  svgPoints,
  toPixels,
  toTheta,
  viewTransformCss,
  type Point,
  type Theta,
} from '../../src/renderer/src/lib/view-geometry.js';
import { cropTheta } from '../../src/engine/adapt/views.js';

/** Where a CSS transform string puts a point given relative to the element's centre (side × side). */
function applyCss(css: string, side: number, p: Point): Point {
  const translate = /translate\(([-\d.e]+)%, ([-\d.e]+)%\)/.exec(css)!;
  const matrix = /matrix\(([^)]+)\)/.exec(css)![1].split(',').map(Number);
  const [a, b, c, d, e, f] = matrix;
  // transform: translate(T) matrix(M) applies M first, then T; CSS matrix(a,b,c,d,e,f) is column-major.
  const moved = { x: a * p.x + c * p.y + e, y: b * p.x + d * p.y + f };
  return {
    x: moved.x + (Number(translate[1]) / 100) * side,
    y: moved.y + (Number(translate[2]) / 100) * side,
  };
}

const learned: Theta = [0.42, 0.13, -0.21, -0.08, 0.55, 0.31];

describe('view geometry', () => {
  it('inverts θ', () => {
    const inverse = invertTheta(learned)!;
    for (const u of [
      { x: 0.3, y: -0.7 },
      { x: -1, y: 1 },
    ]) {
      const back = applyTheta(inverse, applyTheta(learned, u));
      expect(back.x).toBeCloseTo(u.x, 12);
      expect(back.y).toBeCloseTo(u.y, 12);
    }
    expect(invertTheta([1, 2, 0, 2, 4, 0])).toBeNull();
  });

  it('outlines a TPT crop at its box on the original, in pixels', () => {
    // A 200×100 image, box left 50 top 20, 80×40: θ from the engine's own crop-to-θ.
    const theta = toTheta(cropTheta({ left: 50, top: 20, width: 80, height: 40 }, 200, 100, false));
    const corners = cropOutline(theta).map((p) => toPixels(p, 200, 100));
    const expected = [
      { x: 50, y: 20 },
      { x: 130, y: 20 },
      { x: 130, y: 60 },
      { x: 50, y: 60 },
    ];
    corners.forEach((c, i) => {
      expect(c.x).toBeCloseTo(expected[i].x, 9);
      expect(c.y).toBeCloseTo(expected[i].y, 9);
    });
    expect(svgPoints(cropOutline(theta), 200, 100)).toBe('50,20 130,20 130,60 50,60');
  });

  it('mirrors the outline of a flipped view (its top-left comes from the box top-right)', () => {
    const theta = toTheta(cropTheta({ left: 50, top: 20, width: 80, height: 40 }, 200, 100, true));
    const [topLeft] = cropOutline(theta).map((p) => toPixels(p, 200, 100));
    expect(topLeft.x).toBeCloseTo(130, 9);
    expect(topLeft.y).toBeCloseTo(20, 9);
  });

  it('identity is the whole image and an untransformed tile', () => {
    expect(svgPoints(cropOutline([1, 0, 0, 0, 1, 0]), 64, 48)).toBe('0,0 64,0 64,48 0,48');
    expect(viewTransformCss([1, 0, 0, 0, 1, 0])).toBe('translate(0%, 0%) matrix(1, 0, 0, 1, 0, 0)');
  });

  it('CSS transform shows each source point where the view samples it', () => {
    const css = viewTransformCss(learned)!;
    const side = 96;
    for (const u of [
      { x: -1, y: -1 },
      { x: 1, y: -1 },
      { x: 0.25, y: 0.6 },
    ]) {
      // The source point that output position u samples, in px from the centre of the stretched image…
      const s = applyTheta(learned, u);
      const shown = applyCss(css, side, { x: (s.x * side) / 2, y: (s.y * side) / 2 });
      // …must land at u in the square tile.
      expect(shown.x).toBeCloseTo((u.x * side) / 2, 2);
      expect(shown.y).toBeCloseTo((u.y * side) / 2, 2);
    }
  });

  it('refuses a degenerate θ and a malformed one', () => {
    expect(viewTransformCss([0, 0, 0, 0, 0, 0])).toBeNull();
    expect(() => toTheta([1, 0, 0, 1])).toThrow(/six finite numbers/);
    expect(() => toTheta([1, 0, 0, 0, Number.NaN, 0])).toThrow(/six finite numbers/);
  });
});
