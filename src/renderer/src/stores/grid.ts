// The library grid: the query (filters and sort, kept in the page address) over the active collection
// and the shown run's view, its items read lazily in pages and kept current from backend events, the
// selection (click, Shift-range, Ctrl/Cmd toggle, select all; kept for the browser tab) and bulk
// "classify selected as…" with undo.
import { useSessionStorage } from '@vueuse/core';
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { ApiInput, GridItem, GridPage, LabelAction } from '../../../shared/api.js';
import { GRID_SORT_KEYS, REVIEW_STATES } from '../../../shared/domain/grid.js';
import { useApi } from '../api.js';
import { createPagedList } from '../lib/paged-list.js';
import { urlParams } from '../lib/url-state.js';
import { useAppStore } from './app.js';
import { useClassSetsStore } from './class-sets.js';
import { useLibraryStore } from './library.js';
import { useRunsStore } from './runs.js';

export type GridQuery = ApiInput<'browse.grid'>;
export type { GridItem };

export interface GridFilters {
  predictedClass: number | null;
  reviewState: NonNullable<GridQuery['reviewState']> | null;
  confidence: { min: number | null; max: number | null };
  entropy: { min: number | null; max: number | null };
  disagreement: boolean | null;
  /** Labelled images the viewed run fixed or broke against its zero-shot predictions. */
  versusZeroShot: NonNullable<GridQuery['versusZeroShot']> | null;
  sort: NonNullable<GridQuery['sort']>;
}

export function defaultFilters(): GridFilters {
  return {
    predictedClass: null,
    reviewState: null,
    confidence: { min: null, max: null },
    entropy: { min: null, max: null },
    disagreement: null,
    versusZeroShot: null,
    sort: { key: 'id', direction: 'asc' },
  };
}

/** Filters as page-address parameters (only those that differ from the defaults). */
export function filtersToParams(filters: GridFilters): Record<string, string> {
  const params: Record<string, string> = {};
  const put = (key: string, value: number | string | null) => {
    if (value !== null) params[key] = String(value);
  };
  put('class', filters.predictedClass);
  put('review', filters.reviewState);
  put('cmin', filters.confidence.min);
  put('cmax', filters.confidence.max);
  put('hmin', filters.entropy.min);
  put('hmax', filters.entropy.max);
  put('changed', filters.disagreement === null ? null : filters.disagreement ? 'yes' : 'no');
  if (filters.sort.key !== 'id' || filters.sort.direction === 'desc')
    params.sort = `${filters.sort.key}:${filters.sort.direction ?? 'asc'}`;
  return params;
}

/** Filters from page-address parameters; what is missing or unreadable takes its default. */
export function filtersFromParams(params: Record<string, string | undefined>): GridFilters {
  const number = (key: string) => {
    const value = Number(params[key] ?? NaN);
    return Number.isFinite(value) ? value : null;
  };
  const filters = defaultFilters();
  const predicted = number('class');
  if (predicted !== null && Number.isInteger(predicted) && predicted >= 0) filters.predictedClass = predicted;
  filters.reviewState = REVIEW_STATES.find((state) => state === params.review) ?? null;
  filters.confidence = { min: number('cmin'), max: number('cmax') };
  filters.entropy = { min: number('hmin'), max: number('hmax') };
  filters.disagreement = params.changed === 'yes' ? true : params.changed === 'no' ? false : null;
  const [key, direction] = (params.sort ?? '').split(':');
  const sortKey = GRID_SORT_KEYS.find((k) => k === key);
  if (sortKey) filters.sort = { key: sortKey, direction: direction === 'desc' ? 'desc' : 'asc' };
  return filters;
}

const filterParamKeys = ['class', 'review', 'cmin', 'cmax', 'hmin', 'hmax', 'changed', 'sort'];

/**
 * The browse.grid query for filters; null when there is no collection to show. `layered`: the run is
 * shown as its view (with the runs layered on it).
 */
export function gridQuery(
  collectionId: number | null,
  runId: number | null,
  classSetId: number | null,
  filters: GridFilters,
  layered = false,
): Omit<GridQuery, 'offset' | 'limit'> | null {
  if (collectionId === null) return null;
  const range = (r: { min: number | null; max: number | null }) =>
    r.min === null && r.max === null
      ? undefined
      : { ...(r.min !== null && { min: r.min }), ...(r.max !== null && { max: r.max }) };
  const query: Omit<GridQuery, 'offset' | 'limit'> = { collectionId, sort: filters.sort };
  if (runId !== null) query.runId = runId;
  if (runId !== null && layered) query.layered = true;
  if (classSetId !== null) query.classSetId = classSetId;
  // Prediction filters mean nothing without a run.
  if (runId !== null) {
    if (filters.predictedClass !== null) query.predictedClass = filters.predictedClass;
    const confidence = range(filters.confidence);
    if (confidence) query.confidence = confidence;
    const entropy = range(filters.entropy);
    if (entropy) query.entropy = entropy;
    if (filters.disagreement !== null) query.disagreement = filters.disagreement;
    if (filters.versusZeroShot !== null) query.versusZeroShot = filters.versusZeroShot;
  }
  if (filters.reviewState !== null && classSetId !== null) query.reviewState = filters.reviewState;
  return query;
}

const imageCount = (n: number) => `${n.toLocaleString('en-US')} image${n === 1 ? '' : 's'}`;

export interface SelectModifiers {
  shift: boolean;
  toggle: boolean;
}

export const useGridStore = defineStore('grid', () => {
  const api = useApi();
  const app = useAppStore();
  const library = useLibraryStore();
  const runs = useRunsStore();
  const classSets = useClassSetsStore();
  const url = urlParams();
  const filters = ref<GridFilters>(filtersFromParams(url));
  // The selection lasts for the browser tab (an address holding 100,000 ids would not).
  const stored = useSessionStorage<{ collectionId: number | null; imageIds: number[] }>(
    'workbench.selection',
    { collectionId: null, imageIds: [] },
  );
  const selection = ref<ReadonlySet<number>>(new Set());
  const anchor = ref<number | null>(null);
  const selecting = ref(false);

  const classSetId = computed(() => runs.viewed?.classSetId ?? classSets.activeId);
  const query = computed(() =>
    gridQuery(library.activeId, runs.viewed?.id ?? null, classSetId.value, filters.value, runs.layered),
  );
  const emptyPage: GridPage = { total: 0, offset: 0, items: [] };
  const fetchPage = (offset: number, limit: number): Promise<GridPage> =>
    query.value ? api.call('browse.grid', { ...query.value, offset, limit }) : Promise.resolve(emptyPage);
  const items = createPagedList<GridItem>(fetchPage, { pageSize: 200, maxPages: 40 });

  watch(
    () => JSON.stringify(query.value),
    () => {
      anchor.value = null;
      void items.reset();
    },
    { immediate: true },
  );
  watch(
    filters,
    (next) => {
      for (const key of filterParamKeys) delete url[key];
      Object.assign(url, filtersToParams(next));
      clearSelection();
    },
    { deep: true },
  );
  watch(
    () => library.activeId,
    (id, before) => {
      if (id !== null && stored.value.collectionId === id) selection.value = new Set(stored.value.imageIds);
      else if (before !== null && before !== undefined) clearSelection();
    },
    { immediate: true },
  );
  watch(selection, (ids) => {
    if (library.activeId !== null) stored.value = { collectionId: library.activeId, imageIds: [...ids] };
  });

  // What is on screen follows the backend: labels changed (review, import, another window), the
  // collection was rescanned, or a run in the view wrote results.
  let refreshTimer: ReturnType<typeof setTimeout> | null = null;
  function refreshSoon(): void {
    refreshTimer ??= setTimeout(() => {
      refreshTimer = null;
      void items.refresh();
    }, 500);
  }
  api.on('labels.changed', (change) => {
    if (change.collectionId === library.activeId) void items.refresh();
  });
  api.on('collection.changed', ({ collectionId }) => {
    if (collectionId !== library.activeId) return;
    // Images came and went: the selection keeps only what still exists at the next read.
    void items.refresh();
  });
  api.on('run.progress', ({ runId }) => {
    if (runId === runs.viewed?.id || runs.layers.some((layer) => layer.id === runId)) refreshSoon();
  });

  async function select(index: number, modifiers: SelectModifiers): Promise<void> {
    const item = items.at(index);
    if (!item) return;
    if (modifiers.shift && anchor.value !== null) {
      const [from, to] = anchor.value < index ? [anchor.value, index] : [index, anchor.value];
      selecting.value = true;
      try {
        const range = await items.slice(from, to + 1);
        const next = new Set(modifiers.toggle ? selection.value : []);
        for (const i of range) next.add(i.imageId);
        selection.value = next;
      } finally {
        selecting.value = false;
      }
      return;
    }
    if (modifiers.toggle) {
      const next = new Set(selection.value);
      if (next.has(item.imageId)) next.delete(item.imageId);
      else next.add(item.imageId);
      selection.value = next;
    } else {
      selection.value = new Set([item.imageId]);
    }
    anchor.value = index;
  }

  async function selectAll(): Promise<void> {
    selecting.value = true;
    try {
      const all = await items.slice(0, items.total.value);
      selection.value = new Set(all.map((i) => i.imageId));
    } finally {
      selecting.value = false;
    }
  }

  function clearSelection(): void {
    if (selection.value.size > 0) selection.value = new Set();
    anchor.value = null;
  }

  /** Gives every selected image the class, as one undoable action (Undo on the notice, or Ctrl+Z). */
  async function assignSelection(classOrdinal: number): Promise<void> {
    const targetSet = classSetId.value;
    if (targetSet === null || selection.value.size === 0) return;
    const imageIds = [...selection.value];
    const action = await app.save(() =>
      api.call('review.assign', { imageIds, classSetId: targetSet, classOrdinal }),
    );
    if (action === undefined) return;
    const chosen = new Set(imageIds);
    items.patch(
      (item) => chosen.has(item.imageId),
      (item) => ({ ...item, decision: 'label', labelClass: classOrdinal, labelSource: 'human' }),
    );
    const name = classSets.classNames(targetSet)[classOrdinal] ?? `#${classOrdinal}`;
    app.notify('info', `${imageCount(imageIds.length)} labeled ${name}`, {
      label: 'Undo',
      run: () => undoOrRedo('undo'),
    });
  }

  /**
   * Undoes (or redoes) the newest label decision of the collection under the shown class set, as
   * review does; the grid re-reads and a notice says what changed.
   */
  async function undoOrRedo(kind: 'undo' | 'redo'): Promise<LabelAction | null> {
    const targetSet = classSetId.value;
    if (targetSet === null || library.activeId === null) return null;
    const scope = { collectionId: library.activeId, classSetId: targetSet };
    const action = await app.save(() => api.call(kind === 'undo' ? 'review.undo' : 'review.redo', scope));
    if (action === undefined) return null;
    if (action === null) {
      app.notify('info', kind === 'undo' ? 'Nothing to undo' : 'Nothing to redo');
      return null;
    }
    await items.refresh();
    app.notify(
      'info',
      `${kind === 'undo' ? 'Undone' : 'Redone'}: ${action.kind} of ${imageCount(action.imageCount)}`,
      { label: kind === 'undo' ? 'Redo' : 'Undo', run: () => undoOrRedo(kind === 'undo' ? 'redo' : 'undo') },
    );
    return action;
  }

  function resetFilters(): void {
    filters.value = defaultFilters();
  }

  /** Shows only the labelled images a run fixed or broke, with no other filter in the way. */
  function showVersusZeroShot(
    runId: number,
    versusZeroShot: NonNullable<GridFilters['versusZeroShot']>,
  ): void {
    runs.choose(runId);
    filters.value = { ...defaultFilters(), versusZeroShot };
  }

  return {
    filters,
    selection,
    selecting,
    classSetId,
    query,
    items,
    select,
    selectAll,
    clearSelection,
    assignSelection,
    undoOrRedo,
    resetFilters,
    showVersusZeroShot,
  };
});
