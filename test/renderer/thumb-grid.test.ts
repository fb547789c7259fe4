// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import ThumbGrid from '../../src/renderer/src/components/ThumbGrid.vue';
import type { GridItem } from '../../src/shared/api.js';
import { giveElementsSize } from './layout.js';

const total = 100_000;
const item = (index: number): GridItem => ({
  imageId: index + 1,
  relPath: `folder/image-${index}.jpg`,
  width: 640,
  height: 480,
  status: 'ok',
  error: null,
  contentHash: `hash-${index}`,
  runId: 1,
  predicted: index % 3,
  confidence: 0.5,
  entropy: 0.7,
  zeroShotLabel: index % 3,
  zeroShotEntropy: 0.7,
  adapted: false,
  decision: null,
  labelClass: null,
  labelSource: null,
  importedClass: null,
});

// The viewport: 1200×800 px, tiles of at least 168 px + 10 px gaps → 6 columns of 188 px, rows of
// 238 px (with the caption): 800 / 238 ≈ 3.4 rows on screen.
let restoreLayout: () => void;
beforeEach(() => {
  restoreLayout = giveElementsSize(1200, 800);
});
afterEach(() => restoreLayout());

function mountGrid(itemAt: (index: number) => GridItem | undefined = item) {
  return mount(ThumbGrid, {
    props: {
      total,
      itemAt,
      selected: new Set<number>(),
      thumbUrl: (item: GridItem) => `thumb/${item.imageId}`,
      classNames: ['a', 'b', 'c'],
    },
    attachTo: document.body,
  });
}

const settle = async () => {
  for (let i = 0; i < 3; i++) await nextTick();
};

describe('ThumbGrid at 100,000 images', () => {
  it('renders only the rows in view plus overscan', async () => {
    const grid = mountGrid();
    await settle();
    const tiles = grid.findAll('[data-testid="tile"]');
    // 6 columns × (4 visible rows + 2 overscan below) — nowhere near 100,000.
    expect(tiles.length).toBeGreaterThanOrEqual(6 * 4);
    expect(tiles.length).toBeLessThanOrEqual(6 * 8);
    expect(tiles[0].attributes('data-index')).toBe('0');
    // The scroll area is as tall as all rows, so the scrollbar reflects 100,000 images.
    const body = grid.find('.grid-body').element as HTMLElement;
    expect(Number.parseFloat(body.style.height)).toBeGreaterThan((total / 6) * 200);
    grid.unmount();
  });

  it('keeps the count bounded after scrolling to the middle and reports the visible range', async () => {
    const grid = mountGrid();
    await settle();
    const scroller = grid.find('[data-testid="thumb-grid"]').element as HTMLElement;
    const body = grid.find('.grid-body').element as HTMLElement;
    scroller.scrollTop = Number.parseFloat(body.style.height) / 2;
    scroller.dispatchEvent(new Event('scroll'));
    await settle();
    const indexes = grid.findAll('[data-testid="tile"]').map((t) => Number(t.attributes('data-index')));
    expect(indexes.length).toBeLessThanOrEqual(6 * 10);
    expect(Math.min(...indexes)).toBeGreaterThan(49_000);
    expect(Math.max(...indexes)).toBeLessThan(51_000);
    const ranges = grid.emitted('range') as [number, number][];
    const [start, end] = ranges[ranges.length - 1];
    expect(start).toBeLessThanOrEqual(Math.min(...indexes));
    expect(end).toBe(Math.max(...indexes) + 1);
    grid.unmount();
  });

  it('shows placeholders for items whose page has not arrived', async () => {
    const grid = mountGrid((index) => (index < 6 ? item(index) : undefined));
    await settle();
    expect(grid.findAll('[data-testid="tile"]')).toHaveLength(6);
    expect(grid.findAll('[data-testid="tile-placeholder"]').length).toBeGreaterThan(0);
    grid.unmount();
  });

  it('emits selection with Shift and Ctrl/Cmd modifiers', async () => {
    const grid = mountGrid();
    await settle();
    const tiles = grid.findAll('[data-testid="tile"]');
    await tiles[2].trigger('click');
    await tiles[5].trigger('click', { shiftKey: true });
    await tiles[7].trigger('click', { metaKey: true });
    expect(grid.emitted('select')).toEqual([
      [2, { shift: false, toggle: false }],
      [5, { shift: true, toggle: false }],
      [7, { shift: false, toggle: true }],
    ]);
    grid.unmount();
  });
});
