// Collections: the folders the user added, the one being looked at, and their scans.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ApiEvents, CollectionSummary } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { useAppStore } from './app.js';

export type ScanProgress = ApiEvents['scan.progress'];

export const useLibraryStore = defineStore('library', () => {
  const api = useApi();
  const app = useAppStore();
  const collections = ref<CollectionSummary[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const activeId = ref<number | null>(null);
  /** Folders being added or rescanned, with the scan's latest progress. */
  const scans = ref<Record<number, ScanProgress>>({});
  const adding = ref<string | null>(null);

  const active = computed(() => collections.value.find((c) => c.id === activeId.value) ?? null);
  const imageCount = (c: CollectionSummary) => c.imageCounts.ok + (c.imageCounts.error ?? 0);

  api.on('scan.progress', (progress) => {
    scans.value = { ...scans.value, [progress.collectionId]: progress };
  });

  async function load(): Promise<void> {
    loading.value = true;
    try {
      collections.value = await api.call('collections.list', {});
      error.value = null;
      if (activeId.value === null || !active.value) activeId.value = collections.value[0]?.id ?? null;
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

  async function addFolder(folder: string, name?: string): Promise<CollectionSummary | null> {
    adding.value = folder;
    try {
      const added = await app.save(() => api.call('collections.add', { folder, ...(name ? { name } : {}) }));
      if (!added) return null;
      replace(added.collection);
      activeId.value = added.collection.id;
      const { scan } = added;
      app.notify(
        'info',
        `${added.collection.name}: ${scan.added} new, ${scan.changed} changed, ${scan.errors} unreadable`,
      );
      return added.collection;
    } finally {
      adding.value = null;
      // The new collection's id is unknown when adding failed: forget every scan's progress (a rescan
      // still going shows again at its next progress event).
      scans.value = {};
    }
  }

  async function rescan(collectionId: number): Promise<void> {
    try {
      const scan = await app.save(() => api.call('collections.rescan', { collectionId }));
      if (scan) await load();
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
    if (activeId.value === collectionId) activeId.value = null;
    await load();
  }

  function select(collectionId: number): void {
    activeId.value = collectionId;
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
    rescan,
    remove,
    select,
  };
});
