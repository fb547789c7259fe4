// Scale-out settings: the Redis a run's images go through to `metatpt worker` processes (README,
// "Scaling out"). Saved by the desktop app and applied at its next start; read-only in serve mode.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { apiSchemas } from '../../../shared/api.js';
import { describeIssues } from '../../../shared/domain/issues.js';
import type { ScaleOutInput, ScaleOutState } from '../../../shared/domain/scale-out.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { useAppStore } from './app.js';

export const useScaleOutStore = defineStore('scaleOut', () => {
  const api = useApi();
  const app = useAppStore();
  const state = ref<ScaleOutState | null>(null);
  const error = ref<string | null>(null);
  /** Why the form's values cannot be saved (checked against the API's own schema first). */
  const invalid = ref<string | null>(null);
  const saving = ref(false);

  async function load(): Promise<void> {
    try {
      state.value = await api.call('scaleOut.get', {});
      error.value = null;
    } catch (cause) {
      error.value = errorMessage(cause);
    }
  }

  /** Saves the settings (null: run every image here); false when they are invalid or not saved. */
  async function save(settings: ScaleOutInput): Promise<boolean> {
    const parsed = apiSchemas['scaleOut.save'].safeParse({ settings });
    invalid.value = parsed.success ? null : describeIssues(parsed.error, { root: 'settings' });
    if (!parsed.success) return false;
    saving.value = true;
    try {
      const saved = await app.attempt(() => api.call('scaleOut.save', parsed.data));
      if (!saved) return false;
      state.value = saved;
      app.notify('info', saved.restartNeeded ? 'Saved: restart the workbench to apply' : 'Saved');
      return true;
    } finally {
      saving.value = false;
    }
  }

  return { state, error, invalid, saving, load, save };
});
