// Each finished run of the active collection against the labels of its images, compared with its
// zero-shot predictions (runs.evaluate); re-read when labels change or a run finishes.
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { RunEvaluation } from '../../../shared/api.js';
import type { LabelKind } from '../../../shared/domain/evaluation.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { useLibraryStore } from './library.js';
import { useRunsStore } from './runs.js';

export const useEvaluationsStore = defineStore('evaluations', () => {
  const api = useApi();
  const library = useLibraryStore();
  const runs = useRunsStore();
  const against = ref<LabelKind>('all');
  const evaluations = ref<RunEvaluation[]>([]);
  const error = ref<string | null>(null);

  /** Runs with results that will not change any more, newest first. */
  const finishedIds = computed(() =>
    runs.runs.filter((r) => r.done > 0 && r.status !== 'running' && r.status !== 'queued').map((r) => r.id),
  );
  /** The evaluations with labelled images to compare on. */
  const compared = computed(() => evaluations.value.filter((e) => e.comparison !== null));

  let generation = 0;
  async function load(): Promise<void> {
    const current = ++generation;
    try {
      const loaded = await Promise.all(
        finishedIds.value.map((runId) => api.call('runs.evaluate', { runId, against: against.value })),
      );
      if (current !== generation) return;
      evaluations.value = loaded;
      error.value = null;
    } catch (cause) {
      if (current === generation) error.value = errorMessage(cause);
    }
  }

  watch([() => finishedIds.value.join(','), against], () => void load(), { immediate: true });
  api.on('labels.changed', (change) => {
    if (change.collectionId === library.activeId) void load();
  });

  return { against, evaluations, compared, error, load };
});
