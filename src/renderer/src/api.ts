// The one way the renderer reaches the backend: the typed WorkbenchApi, over Electron IPC when the
// preload exposed it, otherwise over serve mode's HTTP + WebSocket. Stores and views get it by inject().
import { inject, type InjectionKey } from 'vue';
import type { WorkbenchApi } from '../../shared/api.js';
import { createHttpClientForPage } from '../../shared/client-http.js';

export const apiKey: InjectionKey<WorkbenchApi> = Symbol('workbench-api');

export function useApi(): WorkbenchApi {
  const api = inject(apiKey, null);
  if (!api) throw new Error('the workbench API was not provided to the app (apiKey)');
  return api;
}

/** What the page knows at start: the preload's API (Electron) and its own URL (browser). */
export interface PageContext {
  workbench?: WorkbenchApi;
  location: { origin: string; search: string };
}

/** The transport for this page, or null in a browser page opened without serve mode's token. */
export function connectApi(page: PageContext): WorkbenchApi | null {
  return page.workbench ?? createHttpClientForPage(page.location);
}
