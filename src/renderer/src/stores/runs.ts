// Runs of the active collection: history, the run whose predictions the views show, live progress,
// and starting / re-scoring / pausing / resuming / cancelling.
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { ApiInput, Run, RunProgress } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { useAppStore } from './app.js';
import { useLibraryStore } from './library.js';

const liveStatuses: ReadonlySet<string> = new Set(['queued', 'running']);

export const useRunsStore = defineStore('runs', () => {
  const api = useApi();
  const app = useAppStore();
  const library = useLibraryStore();
  const runs = ref<Run[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const starting = ref(false);
  /** The run whose predictions the grid, review and inspector show; null follows the newest finished one. */
  const chosenId = ref<number | null>(null);
  const progress = ref<Record<number, RunProgress>>({});

  const finished = computed(() => runs.value.filter((r) => r.done > 0 && !liveStatuses.has(r.status)));
  // A run over the whole collection is the better default view than a run over a few images.
  const newestFinished = computed(
    () => finished.value.find((r) => r.scope.kind === 'collection') ?? finished.value[0] ?? null,
  );
  const viewed = computed(() => runs.value.find((r) => r.id === chosenId.value) ?? newestFinished.value);
  const live = computed(() => runs.value.filter((r) => liveStatuses.has(r.status) || r.status === 'paused'));

  api.on('run.progress', (update) => {
    progress.value = { ...progress.value, [update.runId]: update };
    const run = runs.value.find((r) => r.id === update.runId);
    if (!run) return;
    const finishedNow = liveStatuses.has(run.status) && !liveStatuses.has(update.status);
    Object.assign(run, {
      status: update.status,
      done: update.done,
      failed: update.failed,
      total: update.total,
    });
    if (update.device) run.device = update.device;
    if (finishedNow) void load();
  });

  async function load(): Promise<void> {
    const collectionId = library.activeId;
    if (collectionId === null) {
      runs.value = [];
      return;
    }
    loading.value = true;
    try {
      runs.value = await api.call('runs.list', { collectionId });
      error.value = null;
    } catch (cause) {
      error.value = errorMessage(cause);
    } finally {
      loading.value = false;
    }
  }

  watch(
    () => library.activeId,
    () => {
      chosenId.value = null;
      void load();
    },
  );

  /** Creates a run through `create`, saving visibly, and lists it first. */
  async function begin(create: () => Promise<Run>): Promise<Run | null> {
    starting.value = true;
    try {
      const run = await app.save(create);
      if (!run) return null;
      runs.value = [run, ...runs.value.filter((r) => r.id !== run.id)];
      return run;
    } finally {
      starting.value = false;
    }
  }

  async function control(action: 'runs.pause' | 'runs.resume' | 'runs.cancel', runId: number): Promise<void> {
    try {
      await api.call(action, { runId });
      const updated = await api.call('runs.get', { runId });
      runs.value = runs.value.map((r) => (r.id === runId ? updated : r));
    } catch (cause) {
      app.notify('error', errorMessage(cause));
    }
  }

  function choose(runId: number | null): void {
    chosenId.value = runId;
  }

  return {
    runs,
    loading,
    error,
    starting,
    progress,
    viewed,
    live,
    newestFinished,
    load,
    start: (spec: ApiInput<'runs.start'>) => begin(() => api.call('runs.start', spec)),
    /** Zero-shot over the collection with the class set's current prompts, at once for cached images. */
    rescore: (spec: ApiInput<'runs.rescore'>) => begin(() => api.call('runs.rescore', spec)),
    pause: (runId: number) => control('runs.pause', runId),
    resume: (runId: number) => control('runs.resume', runId),
    cancel: (runId: number) => control('runs.cancel', runId),
    choose,
  };
});
