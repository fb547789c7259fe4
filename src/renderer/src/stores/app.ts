// The shell: which view is open (kept in the page address), the theme, the "saved" indicator, the
// connection to the backend and the messages shown to the user.
import { useLocalStorage } from '@vueuse/core';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AppInfo } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { urlString } from '../lib/url-state.js';

export type ViewName = 'library' | 'review' | 'inspector' | 'runs' | 'classes' | 'models';
export type ThemeChoice = 'system' | 'light' | 'dark';
export type SaveState = 'idle' | 'saving' | 'saved' | 'failed' | 'offline';

const viewNames: readonly ViewName[] = ['library', 'review', 'inspector', 'runs', 'classes', 'models'];

/** Something the user can do about a notice (undo what it reports). */
export interface NoticeAction {
  label: string;
  run: () => unknown;
}

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
  action?: NoticeAction;
}

/** How often the backend is asked whether it is still there, in ms (and while it is away). */
const heartbeatMs = 4000;
const reconnectMs = 1500;

const themeChoices: readonly ThemeChoice[] = ['system', 'light', 'dark'];

export const useAppStore = defineStore('app', () => {
  const api = useApi();
  const info = ref<AppInfo | null>(null);
  const infoError = ref<string | null>(null);
  const tab = urlString('tab');
  const view = computed<ViewName>({
    get: () => viewNames.find((name) => name === tab.value) ?? 'library',
    set: (next) => (tab.value = next === 'library' ? null : next),
  });
  const exportOpen = ref(false);
  // Kept in local storage (where there is none, the choice lasts for the session); an unknown stored
  // value reads as 'system'.
  const theme = useLocalStorage<ThemeChoice>('workbench.theme', 'system', {
    serializer: {
      read: (stored) => themeChoices.find((choice) => choice === stored) ?? 'system',
      write: (choice) => choice,
    },
  });
  const notices = ref<Notice[]>([]);
  let nextNoticeId = 1;

  const pendingWrites = ref(0);
  const lastSaveFailed = ref<string | null>(null);
  const lastSavedAt = ref<number | null>(null);
  /** False while the backend does not answer (serve mode stopped, network gone). */
  const connected = ref(true);
  /** Called when the backend answers again after being away: stores re-read what they show. */
  const reconnectListeners = new Set<() => void>();
  const saveState = computed<SaveState>(() => {
    if (!connected.value) return 'offline';
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

  /** Shows a message; information fades on its own (later when it offers an action), errors stay. */
  function notify(kind: Notice['kind'], text: string, action?: NoticeAction): void {
    const notice: Notice = { id: nextNoticeId++, kind, text, ...(action && { action }) };
    notices.value = [...notices.value.slice(-4), notice];
    if (kind === 'info') setTimeout(() => dismiss(notice.id), action ? 10_000 : 4000);
  }

  function dismiss(id: number): void {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  /**
   * Runs a change to the user's work (labels, class sets, names) that the backend persists, driving
   * the saved indicator; a failure becomes a notice and "Not saved".
   */
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
      void checkConnection();
      return undefined;
    } finally {
      pendingWrites.value -= 1;
    }
  }

  /**
   * Runs a command (import a model, start a run, rescan, export); a failure becomes a notice and
   * leaves the saved indicator alone: nothing of the user's work was lost.
   */
  async function attempt<T>(command: () => Promise<T>): Promise<T | undefined> {
    try {
      return await command();
    } catch (error) {
      notify('error', errorMessage(error));
      void checkConnection();
      return undefined;
    }
  }

  let heartbeat: ReturnType<typeof setTimeout> | null = null;
  /** Asks the backend whether it is there; schedules the next check. */
  async function checkConnection(): Promise<void> {
    if (heartbeat) clearTimeout(heartbeat);
    heartbeat = null;
    try {
      await api.call('app.info', {});
      if (!connected.value) {
        connected.value = true;
        for (const listener of reconnectListeners) listener();
      }
    } catch {
      connected.value = false;
    }
    heartbeat = setTimeout(() => void checkConnection(), connected.value ? heartbeatMs : reconnectMs);
  }

  /** Starts watching the connection (once the app is up). */
  function watchConnection(): void {
    if (heartbeat === null) heartbeat = setTimeout(() => void checkConnection(), heartbeatMs);
  }

  function onReconnect(listener: () => void): void {
    reconnectListeners.add(listener);
  }

  function setTheme(choice: ThemeChoice): void {
    theme.value = choice;
  }

  function cycleTheme(): void {
    setTheme(themeChoices[(themeChoices.indexOf(theme.value) + 1) % themeChoices.length]);
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
    connected,
    loadInfo,
    notify,
    dismiss,
    save,
    attempt,
    watchConnection,
    checkConnection,
    onReconnect,
    setTheme,
    cycleTheme,
    canPickFolder,
    pickFolder,
    open,
  };
});
