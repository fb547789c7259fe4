// Collections: the folders the user added, the one being looked at (kept in the page address), their
// scans and what the last scan found. Backend events keep the list and counts current.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ApiEvents, CollectionSummary, DemoOpened, ScanSummary } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { scanSummaryText } from '../lib/scan-summary.js';
import { urlNumber } from '../lib/url-state.js';
import { useAppStore } from './app.js';

export type ScanProgress = ApiEvents['scan.progress'];

export const useLibraryStore = defineStore('library', () => {
  const api = useApi();
  const app = useAppStore();
  const collections = ref<CollectionSummary[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const chosenId = urlNumber('c');
  /** Folders being added or rescanned, with the scan's latest progress. */
  const scans = ref<Record<number, ScanProgress>>({});
  const adding = ref<string | null>(null);

  const active = computed(() => collections.value.find((c) => c.id === chosenId.value) ?? null);
  /** The collection on screen: the chosen one while it exists. */
  const activeId = computed(() => active.value?.id ?? null);
  const imageCount = (c: CollectionSummary) => c.imageCounts.ok + (c.imageCounts.error ?? 0);

  api.on('scan.progress', (progress) => {
    scans.value = { ...scans.value, [progress.collectionId]: progress };
  });
  // A scan finished (here, in another window or from the CLI): counts and the grid follow at once.
  api.on('collection.changed', ({ collectionId }) => {
    forgetScan(collectionId);
    void load();
  });

  async function load(): Promise<void> {
    loading.value = true;
    try {
      collections.value = await api.call('collections.list', {});
      error.value = null;
      if (!active.value) chosenId.value = collections.value[0]?.id ?? null;
    } catch (cause) {
      error.value = errorMessage(cause);
    } finally {
      loading.value = false;
    }
  }

  function replace(summary: CollectionSummary): void {
    const others = collections.value.filter((c) => c.id !== summary.id);
    collections.value = [...others, summary].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Adds a folder (or the demo, with its classes and ground truth) and shows it. */
  async function addWith<T extends { collection: CollectionSummary; scan: ScanSummary }>(
    what: string,
    command: () => Promise<T>,
  ): Promise<T | null> {
    adding.value = what;
    try {
      const added = await app.attempt(command);
      if (!added) return null;
      replace(added.collection);
      chosenId.value = added.collection.id;
      app.notify('info', `${added.collection.name}: ${scanSummaryText(added.scan)}`);
      return added;
    } finally {
      adding.value = null;
      // The new collection's id is unknown when adding failed: forget every scan's progress (a rescan
      // still going shows again at its next progress event).
      scans.value = {};
    }
  }

  async function addFolder(folder: string, name?: string): Promise<CollectionSummary | null> {
    const added = await addWith(folder, () =>
      api.call('collections.add', { folder, ...(name ? { name } : {}) }),
    );
    return added?.collection ?? null;
  }

  /** Opens the demo: its collection, class set and ground-truth labels. */
  function openDemo(): Promise<DemoOpened | null> {
    return addWith('the demo', () => api.call('collections.openDemo', {}));
  }

  async function rescan(collectionId: number): Promise<ScanSummary | null> {
    try {
      const scan = await app.attempt(() => api.call('collections.rescan', { collectionId }));
      if (!scan) return null;
      app.notify('info', `Rescan: ${scanSummaryText(scan)}`);
      await load();
      return scan;
    } finally {
      forgetScan(collectionId);
    }
  }

  /** A scan is over: its progress is no longer shown. */
  function forgetScan(collectionId: number): void {
    const { [collectionId]: _finished, ...rest } = scans.value;
    scans.value = rest;
  }

  async function remove(collectionId: number): Promise<void> {
    const removed = await app.save(() => api.call('collections.remove', { collectionId }));
    if (removed === undefined) return;
    if (chosenId.value === collectionId) chosenId.value = null;
    await load();
  }

  function select(collectionId: number): void {
    chosenId.value = collectionId;
  }

  return {
    collections,
    loading,
    error,
    activeId,
    active,
    scans,
    adding,
    imageCount,
    load,
    addFolder,
    openDemo,
    rescan,
    remove,
    select,
  };
});
