// @vitest-environment happy-dom
import { nextTick, watch } from 'vue';
import { describe, expect, it } from 'vitest';

describe('the page address keeps the view state', () => {
  it('writes every change, two in one update included, and leaves the query alone', async () => {
    window.history.replaceState(null, '', '/?token=abc#tab=library&c=1&run=5');
    const { urlParams, urlNumber } = await import('../../src/renderer/src/lib/url-state.js');
    const url = urlParams();
    expect({ ...url }).toEqual({ tab: 'library', c: '1', run: '5' });
    // Clicking another collection: c= changes, and a watcher (the runs store's) drops run= in the
    // same update.
    const collection = urlNumber('c');
    const run = urlNumber('run');
    watch(collection, () => (run.value = null));
    collection.value = 2;
    await nextTick();
    await nextTick();
    expect(window.location.search).toBe('?token=abc');
    expect(window.location.hash).toBe('#tab=library&c=2');
    url.cmin = '0.05';
    url.tab = '';
    expect(window.location.hash).toBe('#c=2&cmin=0.05');
  });

  it('reads an address changed by hand back into the state', async () => {
    const { urlParams } = await import('../../src/renderer/src/lib/url-state.js');
    const url = urlParams();
    window.history.replaceState(null, '', '/?token=abc#tab=review&k=3');
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    expect({ ...url }).toEqual({ tab: 'review', k: '3' });
  });
});
