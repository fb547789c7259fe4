// @vitest-environment happy-dom
// Case 23-nonsquare-inspector: the Inspector drew a 344×1165 photo stretched to its clamped box, so
// the original and the view outlines did not show what the model saw. The original keeps its own
// aspect ratio and the outlines are drawn in its coordinates.
import { join } from 'node:path';
import { mount } from '@vue/test-utils';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import CropOverlay from '../../src/renderer/src/components/CropOverlay.vue';

// happy-dom gives modules http URLs, so the fixture is found from the project root.
const CASES = join(process.cwd(), 'test', 'fixtures', 'cases');

describe('the Inspector original (case 23)', () => {
  it('keeps a non-square photo at its aspect ratio, outlines in its pixel frame', async () => {
    const { width, height } = await sharp(join(CASES, '23-nonsquare-inspector', 'ñandú 0464.JPG')).metadata();
    expect([width, height]).toEqual([344, 1165]);
    // View 1: the left half, full height (θ maps the view square to x∈[-1, 0], y∈[-1, 1]).
    const theta = [0.5, 0, -0.5, 0, 1, 0];
    const wrapper = mount(CropOverlay, {
      props: {
        src: 'img://full/1',
        width: width!,
        height: height!,
        views: [{ viewIndex: 1, theta, selected: true, color: '#f00' }],
        highlighted: null,
      },
    });
    const svg = wrapper.get('[data-testid="crop-outlines"]');
    expect(svg.attributes('viewBox')).toBe('0 0 344 1165');
    expect(svg.attributes('preserveAspectRatio')).toBe('xMidYMid meet');
    const image = svg.get('image');
    expect([image.attributes('width'), image.attributes('height')]).toEqual(['344', '1165']);
    expect(wrapper.find('img').exists()).toBe(false); // nothing stretched to the box
    const points = svg
      .get('polygon')
      .attributes('points')!
      .trim()
      .split(/\s+/)
      .map((p) => p.split(',').map(Number));
    const xs = points.map(([x]) => x);
    const ys = points.map(([, y]) => y);
    expect(Math.min(...xs)).toBeCloseTo(0, 3);
    expect(Math.max(...xs)).toBeCloseTo(172, 3);
    expect(Math.min(...ys)).toBeCloseTo(0, 3);
    expect(Math.max(...ys)).toBeCloseTo(1165, 3);
  });
});
