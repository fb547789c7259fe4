// The inspector: everything known about one image, and which run's result is on screen.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ImageDetail, Plain } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';

export type ImageDetails = Plain<ImageDetail>;
export type ImageResult = ImageDetails['results'][number];

export const useInspectorStore = defineStore('inspector', () => {
  const api = useApi();
  const imageId = ref<number | null>(null);
  const detail = ref<ImageDetails | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const chosenRunId = ref<number | null>(null);

  /** The chosen run's result, else the newest adapted one, else the newest. */
  const result = computed<ImageResult | null>(() => {
    const results = detail.value?.results ?? [];
    return (
      results.find((r) => r.run.id === chosenRunId.value) ??
      [...results].reverse().find((r) => r.prediction.adapted || r.views.length > 0) ??
      results[results.length - 1] ??
      null
    );
  });

  let latestRequest = 0;
  async function open(id: number, runId: number | null = null): Promise<void> {
    const request = ++latestRequest;
    imageId.value = id;
    chosenRunId.value = runId;
    loading.value = true;
    try {
      const loaded = await api.call('browse.image', { imageId: id });
      if (request !== latestRequest) return;
      detail.value = loaded;
      error.value = null;
    } catch (cause) {
      if (request === latestRequest) error.value = errorMessage(cause);
    } finally {
      if (request === latestRequest) loading.value = false;
    }
  }

  function chooseRun(runId: number): void {
    chosenRunId.value = runId;
  }

  return { imageId, detail, loading, error, result, open, chooseRun };
});
