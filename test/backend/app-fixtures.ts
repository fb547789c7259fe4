// Shared set-up for the backend assembly, serve-mode and headless-command tests: a data folder, a
// small generated image folder, the golden tiny model as the embedded model, and a backend over them.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeImageFolder } from '../../scripts/make-image-folder.js';
import { createBackend, type Backend, type BackendOptions } from '../../src/backend/app.js';
import { ENGINE_WORKER_SCRIPT } from '../../src/backend/engine-host/host.js';
import type { ApiEventName, ApiEvents, ApiInput, ApiMethod, ApiOutput, Run } from '../../src/shared/api.js';
import { GOLDEN_MODEL_DIR, goldenIndex } from '../fixtures/golden/load.js';

export { GOLDEN_MODEL_DIR };
/** Classes the golden model knows by name. */
export const CLASS_NAMES = goldenIndex.class_names.slice(0, 4);

export interface Workspace {
  root: string;
  dataDir: string;
  resourcesDir: string;
  /** A folder of generated images (d0000/img-000000N.png). */
  photos: string;
  remove(): void;
}

/** A temporary workspace: `resources/models/tiny` is a copy of the golden model, `resources/demo` a folder. */
export async function makeWorkspace(imageCount = 4): Promise<Workspace> {
  const root = mkdtempSync(join(tmpdir(), 'metatpt-app-'));
  const resourcesDir = join(root, 'resources');
  cpSync(GOLDEN_MODEL_DIR, join(resourcesDir, 'models', 'tiny'), { recursive: true });
  mkdirSync(join(resourcesDir, 'demo'), { recursive: true });
  const photos = join(root, 'photos');
  await makeImageFolder({ out: photos, count: imageCount, size: 40 });
  return {
    root,
    dataDir: join(root, 'data'),
    resourcesDir,
    photos,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function startBackend(workspace: Workspace, options: Partial<BackendOptions> = {}): Promise<Backend> {
  return createBackend({
    dataDir: workspace.dataDir,
    resourcesDir: workspace.resourcesDir,
    provider: 'cpu',
    workerScript: ENGINE_WORKER_SCRIPT,
    shell: 'browser',
    version: '0.0.0-test',
    log: () => {},
    ...options,
  });
}

/** A typed call through the backend's dispatcher, as a transport makes it. */
export function call<M extends ApiMethod>(
  backend: Backend,
  method: M,
  input: ApiInput<M>,
): Promise<ApiOutput<M>> {
  return backend.dispatch(method, input) as Promise<ApiOutput<M>>;
}

/** Resolves with the first event payload that satisfies `accept`. */
export function nextEvent<E extends ApiEventName>(
  backend: Backend,
  event: E,
  accept: (payload: ApiEvents[E]) => boolean = () => true,
): Promise<ApiEvents[E]> {
  return new Promise((resolve) => {
    const off = backend.events.on(event, (payload) => {
      if (!accept(payload)) return;
      off();
      resolve(payload);
    });
  });
}

/** Resolves with the run once it is done or failed (at once if it already is done). */
export async function runToEnd(backend: Backend, run: Run): Promise<Run> {
  if (run.status !== 'done') {
    await nextEvent(
      backend,
      'run.progress',
      (p) => p.runId === run.id && (p.status === 'done' || p.status === 'failed'),
    );
  }
  return call(backend, 'runs.get', { runId: run.id });
}

/**
 * Creates the class set of the golden model's CLASS_NAMES and scores collection `collectionId`
 * zero-shot with the embedded model; resolves once the run is done.
 */
export async function scoreZeroShot(backend: Backend, collectionId: number) {
  const classSet = await call(backend, 'classSets.create', {
    name: 'golden',
    classes: CLASS_NAMES.map((name) => ({ name })),
  });
  const [model] = await call(backend, 'models.list', {});
  const finished = nextEvent(backend, 'run.progress', (p) => p.status === 'done');
  const run = await call(backend, 'runs.start', {
    collectionId,
    classSetId: classSet.id,
    modelId: model.id,
    method: 'zeroshot',
    scope: { kind: 'collection' },
  });
  await finished;
  return { classSet, model, run };
}

/**
 * Starts a run over the first collection with the first model and the first class set (a class set
 * of CLASS_NAMES is made if there is none); resolves with the queued run.
 */
export async function startCollectionRun(
  backend: Backend,
  method: ApiInput<'runs.start'>['method'],
  params: ApiInput<'runs.start'>['params'] = {},
): Promise<ApiOutput<'runs.start'>> {
  const [collection] = await call(backend, 'collections.list', {});
  const [model] = await call(backend, 'models.list', {});
  const classSet =
    (await call(backend, 'classSets.list', {}))[0] ??
    (await call(backend, 'classSets.create', {
      name: 'golden',
      classes: CLASS_NAMES.map((name) => ({ name })),
    }));
  return call(backend, 'runs.start', {
    collectionId: collection.id,
    classSetId: classSet.id,
    modelId: model.id,
    method,
    params,
    scope: { kind: 'collection' },
  });
}
