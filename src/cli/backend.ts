// The backend as the headless commands and serve mode run it: over one database file (--db), with
// the thumbnails and installed models beside it, the engine worker from the sources, and this
// checkout's resources (embedded model, demo collection) and browser build.
import { dirname } from 'node:path';
import { createBackend, type Backend, type BackendOptions } from '../backend/app.js';
import { ENGINE_WORKER_SCRIPT } from '../backend/engine-host/host.js';
import { appInfo } from './commands/export.js';
import { fromRoot, RESOURCES_DIR } from './resources.js';
/** Where `npm run build` puts the renderer's browser build. */
export const RENDERER_BUILD_DIR = fromRoot('out/renderer');

export async function openCliBackend(
  databaseFile: string,
  options: Pick<BackendOptions, 'provider' | 'resumeRuns' | 'log' | 'scaleOut'> & {
    shell?: BackendOptions['shell'];
  },
): Promise<Backend> {
  return createBackend({
    dataDir: dirname(databaseFile),
    databasePath: databaseFile,
    resourcesDir: RESOURCES_DIR,
    workerScript: ENGINE_WORKER_SCRIPT,
    version: (await appInfo()).version,
    shell: options.shell ?? 'browser',
    ...options,
  });
}
