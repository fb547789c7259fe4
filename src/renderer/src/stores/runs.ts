// Runs of the active collection: history, what the views show, live progress, and starting /
// re-scoring / pausing / resuming / cancelling / renaming.
//
// What is shown follows what the user did: the run they chose (kept in the page address), else a run
// they started once it has results, else the newest finished run over the whole collection — never a
// cancelled, failed or partial one by itself. A base run is shown as its view: the base with the
// adapted runs layered on it (each image shows the newest layer's result where one has it).
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { ApiInput, RunInfo, RunProgress } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { urlNumber } from '../lib/url-state.js';
import { useAppStore } from './app.js';
import { useLibraryStore } from './library.js';

const liveStatuses: ReadonlySet<string> = new Set(['queued', 'running']);

/** A run worth showing without being asked: finished, over the whole collection, not a layer. */
function completeBase(run: RunInfo): boolean {
  return run.status === 'done' && run.baseRunId === null && run.scope.kind === 'collection' && run.done > 0;
}

export const useRunsStore = defineStore('runs', () => {
  const api = useApi();
  const app = useAppStore();
  const library = useLibraryStore();
  const all = ref<RunInfo[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const starting = ref(false);
  /** The run the user chose to show (page address); null follows the default. */
  const chosenId = urlNumber('run');
  /** A run the user started: shown once it has results. */
  const followId = ref<number | null>(null);
  const progress = ref<Record<number, RunProgress>>({});

  /** Runs of the active collection, newest first (never another collection's, even while switching). */
  const runs = computed(() => all.value.filter((r) => r.collectionId === library.activeId));
  const byId = (id: number | null | undefined) => runs.value.find((r) => r.id === id) ?? null;
  const newestFinished = computed(() => runs.value.find(completeBase) ?? null);
  const viewed = computed(() => {
    const chosen = byId(chosenId.value);
    return chosen && chosen.done > 0 ? chosen : newestFinished.value;
  });
  /** True when the shown run is a base shown with its layers (a layer is shown alone). */
  const layered = computed(() => viewed.value !== null && viewed.value.baseRunId === null);
  /** The runs layered on the shown run, oldest first. */
  const layers = computed(() =>
    layered.value ? runs.value.filter((r) => r.baseRunId === viewed.value!.id).reverse() : [],
  );
  const live = computed(() => runs.value.filter((r) => liveStatuses.has(r.status) || r.status === 'paused'));

  api.on('run.progress', (update) => {
    progress.value = { ...progress.value, [update.runId]: update };
    const run = all.value.find((r) => r.id === update.runId);
    if (!run) {
      // A run started elsewhere (another window, the CLI): listed, not shown.
      void load();
      return;
    }
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
      all.value = [];
      return;
    }
    loading.value = true;
    try {
      const list = await api.call('runs.list', { collectionId });
      // Keep the other collections' runs out: an answer for a collection no longer shown is dropped.
      if (collectionId === library.activeId) all.value = list;
      error.value = null;
    } catch (cause) {
      error.value = errorMessage(cause);
    } finally {
      loading.value = false;
    }
  }

  watch(
    () => library.activeId,
    (id, before) => {
      // A collection switch by the user forgets the run chosen for the previous one; the first
      // load after a reload keeps the run the address names.
      if (before !== null && before !== undefined) chosenId.value = null;
      followId.value = null;
      void load();
    },
  );

  // A run the user started becomes the shown one when it has results; a layer on the shown view
  // shows inside it, a layer on another base brings that base's view.
  watch(
    () => byId(followId.value)?.done ?? 0,
    (done) => {
      const run = byId(followId.value);
      if (!run || done === 0) return;
      followId.value = null;
      const target = run.baseRunId ?? run.id;
      if (target !== viewed.value?.id) chosenId.value = target;
    },
  );

  /** Creates a run through `create`, lists it first and follows it until it has results. */
  async function begin(create: () => Promise<RunInfo>): Promise<RunInfo | null> {
    starting.value = true;
    try {
      const run = await app.attempt(create);
      if (!run) return null;
      all.value = [run, ...all.value.filter((r) => r.id !== run.id)];
      followId.value = run.id;
      return run;
    } finally {
      starting.value = false;
    }
  }

  async function control(action: 'runs.pause' | 'runs.resume' | 'runs.cancel', runId: number): Promise<void> {
    await app.attempt(async () => {
      await api.call(action, { runId });
      replace(await api.call('runs.get', { runId }));
    });
  }

  function replace(updated: RunInfo): void {
    all.value = all.value.map((r) => (r.id === updated.id ? updated : r));
  }

  async function rename(runId: number, name: string): Promise<void> {
    const renamed = await app.save(() => api.call('runs.rename', { runId, name: name.trim() || null }));
    if (renamed) replace(renamed);
  }

  function choose(runId: number | null): void {
    chosenId.value = runId;
    followId.value = null;
  }

  return {
    runs,
    loading,
    error,
    starting,
    progress,
    viewed,
    layered,
    layers,
    live,
    newestFinished,
    byId,
    load,
    start: (spec: ApiInput<'runs.start'>) => begin(() => api.call('runs.start', spec)),
    /** Zero-shot over the collection with the class set's current prompts, at once for cached images. */
    rescore: (spec: ApiInput<'runs.rescore'>) => begin(() => api.call('runs.rescore', spec)),
    pause: (runId: number) => control('runs.pause', runId),
    resume: (runId: number) => control('runs.resume', runId),
    cancel: (runId: number) => control('runs.cancel', runId),
    rename,
    choose,
  };
});
