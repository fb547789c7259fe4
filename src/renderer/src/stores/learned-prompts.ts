// Learned prompts of the active class set under a model: the stored versions, how many labels a new
// one would be learned from, the learning job in progress (progress, cancel, accuracy), and whether
// Self-TPT's adaptation to the class set's current classes (stage 2) is ready, running or stale.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ApiEvents, LearnedPromptSummary, Stage2Status } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { useAppStore } from './app.js';

export type LearnMethod = 'coop' | 'selftpt';

export const useLearnedPromptsStore = defineStore('learnedPrompts', () => {
  const api = useApi();
  const app = useAppStore();
  const prompts = ref<LearnedPromptSummary[]>([]);
  const labelCount = ref(0);
  const scope = ref<{ classSetId: number; modelId: number } | null>(null);
  const learning = ref<LearnMethod | null>(null);
  const progress = ref<ApiEvents['prompts.learnProgress'] | null>(null);
  const error = ref<string | null>(null);
  /** The prompt the last learning job stored (its accuracy before → after is shown). */
  const latest = ref<LearnedPromptSummary | null>(null);
  /** Self-TPT stage 2 of the class set under the model; null when it uses no Self-TPT prompt. */
  const stage2 = ref<Stage2Status | null>(null);

  api.on('prompts.learnProgress', (update) => {
    if (update.classSetId === scope.value?.classSetId) progress.value = update;
  });
  api.on('prompts.stage2', (update) => {
    const current = scope.value;
    if (update.classSetId === current?.classSetId && update.modelId === current.modelId)
      stage2.value = update;
  });
  api.on('labels.changed', ({ classSetId }) => {
    if (classSetId === scope.value?.classSetId) void refresh();
  });

  const newest = (method: LearnMethod) => prompts.value.find((p) => p.method === method) ?? null;
  const underModel = computed(() => prompts.value.filter((p) => p.modelId === scope.value?.modelId));

  async function refresh(): Promise<void> {
    const current = scope.value;
    if (!current) return;
    try {
      const [list, count, adaptation] = await Promise.all([
        api.call('prompts.list', { classSetId: current.classSetId }),
        api.call('prompts.labelCount', current),
        api.call('prompts.stage2', current),
      ]);
      if (scope.value !== current) return;
      prompts.value = list;
      labelCount.value = count;
      stage2.value = adaptation;
      error.value = null;
    } catch (cause) {
      error.value = errorMessage(cause);
    }
  }

  async function load(classSetId: number | null, modelId: number | null): Promise<void> {
    if (classSetId === null || modelId === null) {
      scope.value = null;
      prompts.value = [];
      labelCount.value = 0;
      stage2.value = null;
      return;
    }
    if (scope.value?.classSetId !== classSetId || scope.value.modelId !== modelId) latest.value = null;
    scope.value = { classSetId, modelId };
    await refresh();
  }

  async function learn(method: LearnMethod): Promise<void> {
    const current = scope.value;
    if (!current || learning.value) return;
    learning.value = method;
    progress.value = null;
    error.value = null;
    try {
      latest.value = await api.call('prompts.learn', { ...current, method });
      app.notify('info', `Learned prompt v${latest.value.version} saved`);
      await refresh();
    } catch (cause) {
      error.value = errorMessage(cause);
    } finally {
      learning.value = null;
      progress.value = null;
    }
  }

  async function cancel(): Promise<void> {
    if (scope.value) await api.call('prompts.cancelLearn', { classSetId: scope.value.classSetId });
  }

  async function cancelStage2(): Promise<void> {
    if (scope.value) await api.call('prompts.cancelStage2', { classSetId: scope.value.classSetId });
  }

  return {
    prompts,
    underModel,
    labelCount,
    learning,
    progress,
    error,
    latest,
    stage2,
    newest,
    load,
    refresh,
    learn,
    cancel,
    cancelStage2,
  };
});
