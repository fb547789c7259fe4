// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { createPagedList, type Page } from '../../src/renderer/src/lib/paged-list.js';

/** A list of `total` numbers served by offset, recording the requests. */
function numbers(total: number) {
  const requests: [number, number][] = [];
  const fetchPage = async (offset: number, limit: number): Promise<Page<number>> => {
    requests.push([offset, limit]);
    const end = Math.min(total, offset + limit);
    return { total, offset, items: Array.from({ length: Math.max(0, end - offset) }, (_, i) => offset + i) };
  };
  return { requests, fetchPage };
}

describe('paged list', () => {
  it('loads only the pages a range needs, once', async () => {
    const source = numbers(100_000);
    const list = createPagedList(source.fetchPage, { pageSize: 100 });
    await list.reset();
    expect(list.total.value).toBe(100_000);
    expect(list.at(50)).toBe(50);
    expect(list.at(150)).toBeUndefined();
    await Promise.all([list.ensure(50_020, 50_180), list.ensure(50_020, 50_180)]);
    expect(list.at(50_179)).toBe(50_179);
    expect(source.requests).toEqual([
      [0, 100],
      [50_000, 100],
      [50_100, 100],
    ]);
  });

  it('keeps at most maxPages pages, dropping the farthest from the last range', async () => {
    const source = numbers(10_000);
    const list = createPagedList(source.fetchPage, { pageSize: 10, maxPages: 3 });
    await list.reset();
    for (const start of [100, 110, 120, 130]) await list.ensure(start, start + 10);
    expect(list.at(0)).toBeUndefined();
    expect(list.at(100)).toBeUndefined();
    expect([110, 120, 130].map((i) => list.at(i))).toEqual([110, 120, 130]);
  });

  it('slices across held and missing pages in calls of at most 1000', async () => {
    const source = numbers(5_000);
    const list = createPagedList(source.fetchPage, { pageSize: 100 });
    await list.reset();
    source.requests.length = 0;
    const all = await list.slice(0, 5_000);
    expect(all).toHaveLength(5_000);
    expect(all[4_999]).toBe(4_999);
    expect(source.requests.every(([, limit]) => limit <= 1000)).toBe(true);
    expect(source.requests[0][0]).toBe(100);
  });

  it('drops answers to a query that was replaced', async () => {
    let release: (() => void) | null = null;
    const slow = (offset: number): Promise<Page<string>> =>
      new Promise((resolve) => (release = () => resolve({ total: 1, offset, items: ['old'] })));
    const list = createPagedList<string>(slow, { pageSize: 10 });
    const first = list.reset();
    const replaced = list.reset(async (offset) => ({ total: 2, offset, items: ['new', 'newer'] }));
    release!();
    await Promise.all([first, replaced]);
    expect(list.at(0)).toBe('new');
    expect(list.total.value).toBe(2);
  });

  it('reports a failed page and recovers on the next reset', async () => {
    let fail = true;
    const list = createPagedList<number>(async (offset) => {
      if (fail) throw new Error('grid query failed');
      return { total: 1, offset, items: [7] };
    });
    await list.reset();
    expect(list.error.value).toBe('grid query failed');
    expect(list.ready.value).toBe(false);
    fail = false;
    await list.reset();
    expect(list.error.value).toBeNull();
    expect(list.at(0)).toBe(7);
  });

  it('patches loaded items in place', async () => {
    const list = createPagedList(numbers(30).fetchPage, { pageSize: 10 });
    await list.reset();
    list.patch(
      (n) => n % 2 === 0,
      (n) => -n,
    );
    expect([0, 1, 2, 3].map((i) => list.at(i))).toEqual([-0, 1, -2, 3]);
  });
});
