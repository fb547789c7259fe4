// The library grid: the query (filters and sort) over the active collection and viewed run, its items
// read lazily in pages, and the selection (click, Shift-range, Ctrl/Cmd toggle, select all).
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { ApiInput, GridPage } from '../../../shared/api.js';
import type { GridItem } from '../../../backend/store/grid.js';
import { useApi } from '../api.js';
import { createPagedList } from '../lib/paged-list.js';
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

/** The browse.grid query for filters; null when there is no collection to show. */
export function gridQuery(
  collectionId: number | null,
  runId: number | null,
  classSetId: number | null,
  filters: GridFilters,
): Omit<GridQuery, 'offset' | 'limit'> | null {
  if (collectionId === null) return null;
  const range = (r: { min: number | null; max: number | null }) =>
    r.min === null && r.max === null
      ? undefined
      : { ...(r.min !== null && { min: r.min }), ...(r.max !== null && { max: r.max }) };
  const query: Omit<GridQuery, 'offset' | 'limit'> = { collectionId, sort: filters.sort };
  if (runId !== null) query.runId = runId;
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
  const filters = ref<GridFilters>(defaultFilters());
  const selection = ref<ReadonlySet<number>>(new Set());
  const anchor = ref<number | null>(null);
  const selecting = ref(false);

  const classSetId = computed(() => runs.viewed?.classSetId ?? classSets.activeId);
  const query = computed(() =>
    gridQuery(library.activeId, runs.viewed?.id ?? null, classSetId.value, filters.value),
  );
  const emptyPage: GridPage = { total: 0, offset: 0, items: [] };
  const fetchPage = (offset: number, limit: number): Promise<GridPage> =>
    query.value ? api.call('browse.grid', { ...query.value, offset, limit }) : Promise.resolve(emptyPage);
  const items = createPagedList<GridItem>(fetchPage, { pageSize: 200, maxPages: 40 });

  watch(
    () => JSON.stringify(query.value),
    () => {
      selection.value = new Set();
      anchor.value = null;
      void items.reset();
    },
    { immediate: true },
  );
  // Labels changed elsewhere (review, import, another window): re-read what is on screen.
  api.on('labels.changed', (change) => {
    if (change.collectionId === library.activeId) void items.refresh();
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
    selection.value = new Set();
    anchor.value = null;
  }

  /** Gives every selected image the class, as one undoable action. */
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
    app.notify('info', `${imageIds.length} image${imageIds.length === 1 ? '' : 's'} labeled`);
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
    resetFilters,
    showVersusZeroShot,
  };
});
