// The shell: which view is open, the theme, the "saved" indicator and the messages shown to the user.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AppInfo } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';

export type ViewName = 'library' | 'review' | 'inspector' | 'runs' | 'classes' | 'models';
export type ThemeChoice = 'system' | 'light' | 'dark';
export type SaveState = 'idle' | 'saving' | 'saved' | 'failed';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

const themeStorageKey = 'workbench.theme';

export const useAppStore = defineStore('app', () => {
  const api = useApi();
  const info = ref<AppInfo | null>(null);
  const infoError = ref<string | null>(null);
  const view = ref<ViewName>('library');
  const exportOpen = ref(false);
  const theme = ref<ThemeChoice>(readTheme());
  const notices = ref<Notice[]>([]);
  let nextNoticeId = 1;

  const pendingWrites = ref(0);
  const lastSaveFailed = ref<string | null>(null);
  const lastSavedAt = ref<number | null>(null);
  const saveState = computed<SaveState>(() => {
    if (pendingWrites.value > 0) return 'saving';
    if (lastSaveFailed.value) return 'failed';
    return lastSavedAt.value === null ? 'idle' : 'saved';
  });

  async function loadInfo(): Promise<void> {
    try {
      info.value = await api.call('app.info', {});
      infoError.value = null;
    } catch (error) {
      infoError.value = errorMessage(error);
    }
  }

  function notify(kind: Notice['kind'], text: string): void {
    const notice = { id: nextNoticeId++, kind, text };
    notices.value = [...notices.value.slice(-4), notice];
    if (kind === 'info') setTimeout(() => dismiss(notice.id), 4000);
  }

  function dismiss(id: number): void {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  /** Runs a change the backend persists, driving the saved indicator; failures become a notice. */
  async function save<T>(write: () => Promise<T>): Promise<T | undefined> {
    pendingWrites.value += 1;
    try {
      const result = await write();
      lastSaveFailed.value = null;
      lastSavedAt.value = Date.now();
      return result;
    } catch (error) {
      lastSaveFailed.value = errorMessage(error);
      notify('error', errorMessage(error));
      return undefined;
    } finally {
      pendingWrites.value -= 1;
    }
  }

  function setTheme(choice: ThemeChoice): void {
    theme.value = choice;
    try {
      localStorage.setItem(themeStorageKey, choice);
    } catch {
      // Storage can be unavailable (private windows); the choice then lasts for this session.
    }
  }

  function cycleTheme(): void {
    const order: ThemeChoice[] = ['system', 'light', 'dark'];
    setTheme(order[(order.indexOf(theme.value) + 1) % order.length]);
  }

  /** True where a native folder dialog exists (Electron); the browser build types paths instead. */
  const canPickFolder = computed(() => info.value?.shell === 'electron');

  async function pickFolder(title: string): Promise<string | null> {
    try {
      return await api.call('app.pickFolder', { title });
    } catch (error) {
      notify('error', errorMessage(error));
      return null;
    }
  }

  function open(next: ViewName): void {
    view.value = next;
  }

  return {
    info,
    infoError,
    view,
    exportOpen,
    theme,
    notices,
    saveState,
    lastSavedAt,
    lastSaveFailed,
    loadInfo,
    notify,
    dismiss,
    save,
    setTheme,
    cycleTheme,
    canPickFolder,
    pickFolder,
    open,
  };
});

function readTheme(): ThemeChoice {
  try {
    const stored = localStorage.getItem(themeStorageKey);
    if (stored === 'light' || stored === 'dark' || stored === 'system') return stored;
  } catch {
    // No storage: fall back to the system theme.
  }
  return 'system';
}
