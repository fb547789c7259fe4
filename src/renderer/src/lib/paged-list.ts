// A long list read lazily in pages by offset (the grid of 100,000 images, the review queue): only the
// pages near what is on screen are held, each page is fetched once at a time, and answers to a query
// that has since been replaced are dropped.
import { ref, shallowReactive, type Ref } from 'vue';

export interface Page<T> {
  total: number;
  offset: number;
  items: T[];
}

export type FetchPage<T> = (offset: number, limit: number) => Promise<Page<T>>;

export interface PagedListOptions {
  pageSize?: number;
  /** Pages kept in memory; the ones farthest from the last requested range are dropped first. */
  maxPages?: number;
}

/** The most items one backend call returns (browse.grid's limit). */
const maxFetch = 1000;

export interface PagedList<T> {
  readonly total: Ref<number>;
  /** True once the first page (and so the total) has arrived. */
  readonly ready: Ref<boolean>;
  readonly error: Ref<string | null>;
  /** The item at index, or undefined while its page is not loaded. */
  at(index: number): T | undefined;
  /** Loads the pages that cover [start, end). */
  ensure(start: number, end: number): Promise<void>;
  /** Every item in [start, end), fetched as needed (for range and select-all operations). */
  slice(start: number, end: number): Promise<T[]>;
  /** Replaces loaded items in place (after a local change the backend also made). */
  patch(match: (item: T) => boolean, change: (item: T) => T): void;
  /** Forgets everything and re-reads from the first page with a new source (or the same one). */
  reset(fetchPage?: FetchPage<T>): Promise<void>;
  /** Re-reads the pages currently held, keeping them on screen until the new ones arrive. */
  refresh(): Promise<void>;
}

export function createPagedList<T>(fetchPage: FetchPage<T>, options: PagedListOptions = {}): PagedList<T> {
  const pageSize = options.pageSize ?? 200;
  const maxPages = Math.max(2, options.maxPages ?? 40);
  const total = ref(0);
  const ready = ref(false);
  const error = ref<string | null>(null);
  const pages = shallowReactive(new Map<number, T[]>());
  const inFlight = new Map<number, Promise<void>>();
  let source = fetchPage;
  // Bumped by reset(): answers from an older generation are stale.
  let generation = 0;
  let focusPage = 0;

  function evict(): void {
    if (pages.size <= maxPages) return;
    const byDistance = [...pages.keys()].sort((a, b) => Math.abs(b - focusPage) - Math.abs(a - focusPage));
    for (const page of byDistance.slice(0, pages.size - maxPages)) pages.delete(page);
  }

  function loadPage(page: number): Promise<void> {
    const pending = inFlight.get(page);
    if (pending) return pending;
    const asked = generation;
    const request = source(page * pageSize, pageSize)
      .then((result) => {
        if (asked !== generation) return;
        total.value = result.total;
        ready.value = true;
        error.value = null;
        pages.set(page, result.items);
        evict();
      })
      .catch((cause: unknown) => {
        if (asked === generation) error.value = cause instanceof Error ? cause.message : String(cause);
      })
      .finally(() => {
        if (inFlight.get(page) === request) inFlight.delete(page);
      });
    inFlight.set(page, request);
    return request;
  }

  function pagesCovering(start: number, end: number): number[] {
    const first = Math.max(0, Math.floor(start / pageSize));
    const last = Math.max(first, Math.floor((Math.max(start, end) - 1) / pageSize));
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  }

  const list: PagedList<T> = {
    total,
    ready,
    error,
    at(index) {
      return pages.get(Math.floor(index / pageSize))?.[index % pageSize];
    },
    async ensure(start, end) {
      const wanted = pagesCovering(start, ready.value ? Math.min(end, total.value) : end);
      focusPage = wanted[Math.floor(wanted.length / 2)];
      await Promise.all(wanted.filter((page) => !pages.has(page)).map(loadPage));
    },
    async slice(start, end) {
      const items: T[] = [];
      for (let offset = start; offset < end;) {
        const held = list.at(offset);
        if (held !== undefined) {
          items.push(held);
          offset += 1;
          continue;
        }
        const limit = Math.min(maxFetch, end - offset);
        const result = await source(offset, limit);
        items.push(...result.items);
        if (result.items.length < limit) break;
        offset += limit;
      }
      return items;
    },
    patch(match, change) {
      for (const [page, items] of pages) {
        if (items.some(match))
          pages.set(
            page,
            items.map((item) => (match(item) ? change(item) : item)),
          );
      }
    },
    async reset(next) {
      if (next) source = next;
      generation += 1;
      inFlight.clear();
      pages.clear();
      ready.value = false;
      error.value = null;
      await loadPage(0);
    },
    async refresh() {
      const held = [...pages.keys()];
      generation += 1;
      inFlight.clear();
      await Promise.all((held.length > 0 ? held : [0]).map(loadPage));
    },
  };
  return list;
}
