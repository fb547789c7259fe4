// What the page's address keeps, so that a reload (or a copied address) comes back to the same place:
// the open view, the collection, the class set, the shown run and the grid's filters and sort. It
// lives after the `#` (`#tab=runs&c=2&k=1&run=5`), which leaves the query — serve mode's token — alone.
//
// Not VueUse's useUrlSearchParams: it pauses its watcher after each write until the next tick, so a
// second change in the same update (clicking a collection writes c=, then the runs store removes
// run=) stayed out of the address until some later change wrote it.
import { computed, reactive, watch, type WritableComputedRef } from 'vue';

type Params = Record<string, string>;
let params: Params | null = null;

const readHash = (): Params => Object.fromEntries(new URLSearchParams(window.location.hash.slice(1)));

/** Writes the parameters to the address's hash, replacing the history entry (no new one). */
function writeHash(state: Params): void {
  const hash = new URLSearchParams(Object.entries(state).filter(([, value]) => value !== '')).toString();
  const url = new URL(window.location.href);
  url.hash = hash;
  if (url.href !== window.location.href) window.history.replaceState(window.history.state, '', url);
}

/**
 * The page's hash parameters, reactive; every change is written to the address at once (replacing,
 * not pushing), and an address changed by hand (`hashchange`) is read back. An empty value is left out.
 */
export function urlParams(): Params {
  if (params) return params;
  const state = reactive<Params>(readHash());
  watch(state, () => writeHash(state), { deep: true, flush: 'sync' });
  window.addEventListener('hashchange', () => {
    const next = readHash();
    for (const key of Object.keys(state)) if (!(key in next)) delete state[key];
    Object.assign(state, next);
  });
  params = state;
  return params;
}

/** One parameter as a string; null when absent. Writing null (or '') removes it. */
export function urlString(key: string): WritableComputedRef<string | null> {
  const url = urlParams();
  return computed({
    get: () => url[key] ?? null,
    set: (value) => {
      if (value === null || value === '') delete url[key];
      else url[key] = value;
    },
  });
}

/** One parameter as a finite number; null when absent or not a number. Writing null removes it. */
export function urlNumber(key: string): WritableComputedRef<number | null> {
  const text = urlString(key);
  return computed({
    get: () => {
      const value = text.value === null ? NaN : Number(text.value);
      return Number.isFinite(value) ? value : null;
    },
    set: (value) => (text.value = value === null ? null : String(value)),
  });
}
