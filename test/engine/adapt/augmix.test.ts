import { describe, expect, it } from 'vitest';
import {
  affineTransform,
  augmix,
  autocontrast,
  equalize,
  posterize,
  rotate,
  solarize,
} from '../../../src/engine/adapt/augmix.js';
import { Random } from '../../../src/engine/random.js';

/** A 3-channel square image of 8-bit values from a function of (channel, x, y). */
function image(size: number, value: (c: number, x: number, y: number) => number) {
  const data = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) data[c * size * size + y * size + x] = value(c, x, y);
  return { data, size };
}

describe('AugMix operations (PIL semantics on 8-bit values)', () => {
  const ramp = image(8, (c, x) => 50 + 10 * x + c);

  it('autocontrast stretches each channel to 0..255', () => {
    const out = autocontrast(ramp).data;
    expect(Math.min(...out.subarray(0, 64))).toBe(0);
    expect(Math.max(...out.subarray(0, 64))).toBe(255);
  });

  it('equalize spreads a narrow histogram (and leaves images too small for it, as PIL does)', () => {
    const wide = image(64, (c, x) => 50 + Math.floor(x / 8) + c);
    const out = equalize(wide).data.subarray(0, 64 * 64);
    expect([...equalize(ramp).data]).toEqual([...ramp.data]);
    expect(Math.max(...out) - Math.min(...out)).toBeGreaterThan(150);
    expect([...equalize(image(4, () => 7)).data]).toEqual(new Array(48).fill(7));
  });

  it('posterize keeps the top bits and solarize inverts above the threshold', () => {
    expect(
      posterize(
        image(1, () => 0b10110111),
        4,
      ).data[0],
    ).toBe(0b10110000);
    expect(
      solarize(
        image(1, () => 240),
        231,
      ).data[0],
    ).toBe(15);
    expect(
      solarize(
        image(1, () => 100),
        231,
      ).data[0],
    ).toBe(100);
  });

  it('affine maps and rotations: identity, a translation, a quarter turn', () => {
    expect([...affineTransform(ramp, [1, 0, 0, 0, 1, 0]).data]).toEqual([...ramp.data]);
    const shifted = affineTransform(ramp, [1, 0, 2, 0, 1, 0]).data;
    expect(shifted[0]).toBe(ramp.data[2]);
    expect(shifted[7]).toBe(0);
    const dot = image(4, (_c, x, y) => (x === 3 && y === 0 ? 200 : 0));
    const turned = rotate(dot, 90).data;
    // Counter-clockwise: the top-right corner goes to the top-left.
    expect(turned[0]).toBe(200);
  });

  it('mixes deterministically for a seed and stays in range', () => {
    const view = new Float32Array(3 * 16 * 16).map((_, i) => (i % 37) / 36);
    const a = augmix(view, 16, new Random(3));
    expect([...augmix(view, 16, new Random(3))]).toEqual([...a]);
    expect([...augmix(view, 16, new Random(4))]).not.toEqual([...a]);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(1);
  });
});
