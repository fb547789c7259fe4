// The renderer's API over a real backend in this process: calls go through the backend's dispatcher
// (validation included) and results through JSON, as over either transport; events come from its hub.
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import { createApp } from 'vue';
import type { Backend } from '../../src/backend/app.js';
import type { ApiOutput, WorkbenchApi } from '../../src/shared/api.js';
import { apiKey } from '../../src/renderer/src/api.js';

export function inProcessApi(backend: Backend): WorkbenchApi {
  return {
    async call(method, input) {
      const result = await backend.dispatch(method, input);
      return JSON.parse(JSON.stringify(result ?? null)) as ApiOutput<typeof method>;
    },
    on: (event, listener) => backend.events.on(event, listener),
    imageUrl: (imageId, kind) => `/files/${kind}/${imageId}`,
  };
}

/** A Pinia whose stores reach `api` through inject(), as in the app; also the active one. */
export function piniaWith(api: WorkbenchApi): Pinia {
  const app = createApp({});
  app.provide(apiKey, api);
  const pinia = createPinia();
  app.use(pinia);
  setActivePinia(pinia);
  return pinia;
}
