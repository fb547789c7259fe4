// CLIP models: installed ones, importing a folder, downloading from the hub with progress.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { ApiEvents, ModelRecord } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { useAppStore } from './app.js';

export type DownloadProgress = ApiEvents['model.download'];

export const useModelsStore = defineStore('models', () => {
  const api = useApi();
  const app = useAppStore();
  const models = ref<ModelRecord[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const importing = ref(false);
  /** Downloads in progress, by repository id, with the file being received. */
  const downloads = ref<Record<string, DownloadProgress | null>>({});

  api.on('model.download', (progress) => {
    if (progress.repoId in downloads.value)
      downloads.value = { ...downloads.value, [progress.repoId]: progress };
  });

  async function load(): Promise<void> {
    loading.value = true;
    try {
      models.value = await api.call('models.list', {});
      error.value = null;
    } catch (cause) {
      error.value = errorMessage(cause);
    } finally {
      loading.value = false;
    }
  }

  function added(model: ModelRecord): void {
    models.value = [...models.value.filter((m) => m.id !== model.id), model];
    app.notify('info', `Installed the model “${model.name}”`);
  }

  async function importFolder(folder: string, name?: string): Promise<void> {
    importing.value = true;
    try {
      const model = await app.attempt(() => api.call('models.import', { folder, ...(name ? { name } : {}) }));
      if (model) added(model);
    } finally {
      importing.value = false;
    }
  }

  async function download(repoId: string): Promise<void> {
    downloads.value = { ...downloads.value, [repoId]: null };
    try {
      const model = await app.attempt(() => api.call('models.download', { repoId }));
      if (model) added(model);
    } finally {
      const { [repoId]: _done, ...rest } = downloads.value;
      downloads.value = rest;
    }
  }

  const byId = (id: number | null | undefined) => models.value.find((m) => m.id === id) ?? null;

  return { models, loading, error, importing, downloads, load, importFolder, download, byId };
});
