// What the page's address keeps, so that a reload (or a copied address) comes back to the same place:
// the open view, the collection, the class set, the shown run and the grid's filters and sort. It
// lives after the `#` (`#tab=runs&c=2&k=1&run=5`), which leaves the query — serve mode's token — alone.
import { useUrlSearchParams } from '@vueuse/core';
import { computed, type WritableComputedRef } from 'vue';

type Params = Record<string, string | string[]>;
let params: Params | null = null;

/** The page's hash parameters, reactive; writing one updates the address (replacing, not pushing). */
export function urlParams(): Params {
  params ??= useUrlSearchParams('hash-params', { removeNullishValues: true, removeFalsyValues: true });
  return params;
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** One parameter as a string; null (or the fallback) when absent. Writing null removes it. */
export function urlString(key: string): WritableComputedRef<string | null> {
  const url = urlParams();
  return computed({
    get: () => single(url[key]) ?? null,
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
