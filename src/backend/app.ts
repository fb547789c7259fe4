// The backend, assembled: store, library, jobs on engine workers, services, events and the API
// dispatcher. The Electron main process, serve mode and the headless commands each create one and
// put their transport in front of it.
import { existsSync } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ExecutionProvider } from '../engine/runtime.js';
import { Engine } from '../engine/runtime.js';
import { CLIP_MODEL_FILES } from '../engine/clip/model-files.js';
import { ApiError, type AppInfo } from '../shared/api.js';
import { imageTypeOf } from '../shared/domain/image-types.js';
import { createDispatcher, type Dispatch } from './api/dispatch.js';
import { createEventHub, type EventHub } from './api/events.js';
import { createApiHandlers } from './api/handlers.js';
import { RunExecutor } from './jobs/executor.js';
import { PathRefusedError, resolveCollectionFile } from './library/paths.js';
import { createThumbnailCache } from './library/thumbnails.js';
import { registerModelsIn } from './model-registry.js';
import type { DownloadOptions } from './models/download.js';
import { DATABASE_FILE } from './paths.js';
import { createRunProcessors } from './run-processors.js';
import {
  createQueueProcessors,
  type QueueProcessors,
  type ScaleOutOptions,
} from './scale-out/queue-processors.js';
import { createScaleOutSettingsService } from './scale-out/settings.js';
import { createServices, type Services } from './services/index.js';
import { createStage2Service } from './services/stage2.js';
import { openStore, type Store } from './store/index.js';

export interface BackendOptions {
  /** Thumbnails, installed models and (by default) the database live here. */
  dataDir: string;
  /** Default: dataDir/workbench.db. */
  databasePath?: string;
  /** The app's resources: `models/*` (the embedded model) and `demo/` (the demo collection). */
  resourcesDir?: string | null;
  provider?: ExecutionProvider | 'auto';
  /** The engine worker module (ENGINE_WORKER_SCRIPT from engine-host/host.ts, or a bundled file). */
  workerScript: string | URL;
  /** better-sqlite3's binding built for this runtime (Electron's ABI in the desktop app). */
  nativeBinding?: string;
  shell: AppInfo['shell'];
  version: string;
  /** The shell's native folder dialog; without one, app.pickFolder answers null. */
  pickFolder?: (title?: string) => Promise<string | null>;
  /**
   * Take over the queue: requeue the runs a previous process left running or queued, and leave them
   * queued at close (default true; a headless run executes only its own).
   */
  resumeRuns?: boolean;
  /** Where models are downloaded from (tests point it at a local hub). */
  download?: Pick<DownloadOptions, 'baseUrl' | 'fetch'>;
  /** Notes for the log (broken model folders and the like); default stderr. */
  log?: (line: string) => void;
  /**
   * Scale-out: runs' images go as jobs to `metatpt worker` processes through a BullMQ queue on this
   * Redis instead of the local engine workers (re-scoring's text features stay local).
   */
  scaleOut?: ScaleOutOptions | null;
  /**
   * Where the scale-out settings are saved (the desktop app's scale-out.json; saved ones apply at the
   * next start); absent where the command line sets them (serve), which the settings card then shows.
   */
  scaleOutFile?: string | null;
}

export interface ImageFile {
  path: string;
  contentType: string;
}

export interface Backend {
  dispatch: Dispatch;
  events: EventHub;
  store: Store;
  services: Services;
  executor: RunExecutor;
  info(): Promise<AppInfo>;
  /** The file to serve for an image or its thumbnail; only files inside a registered collection. */
  imageFile(imageId: number, kind: 'full' | 'thumb'): Promise<ImageFile>;
  /** One file of a registered model (config, weights, tokenizer, preprocessor) for a scale-out worker. */
  modelFile(modelId: number, name: string): Promise<ImageFile>;
  /** Self-TPT stage-2 jobs the engine workers completed in this process (workers run it nowhere else). */
  stage2Runs(): number;
  /** Stops the runs (they stay queued and resume at the next start), the workers and the store. */
  close(): Promise<void>;
}

const MODEL_FILE_NAMES: ReadonlySet<string> = new Set(Object.values(CLIP_MODEL_FILES));

export async function createBackend(options: BackendOptions): Promise<Backend> {
  const { dataDir, resourcesDir = null, provider = 'auto', shell, version } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const modelsRoot = join(dataDir, 'models');
  const databasePath = options.databasePath ?? join(dataDir, DATABASE_FILE);
  await mkdir(dirname(databasePath), { recursive: true });
  const store = openStore(databasePath, {
    nativeBinding: options.nativeBinding,
  });
  const events = createEventHub();
  const thumbnails = createThumbnailCache({ store, cacheDir: join(dataDir, 'thumbnails') });
  const processors = createRunProcessors({ provider, workerScript: options.workerScript, log });
  let queueProcessors: QueueProcessors | null;
  try {
    queueProcessors = options.scaleOut ? await createQueueProcessors(options.scaleOut) : null;
  } catch (error) {
    store.close();
    throw error;
  }
  const stage2 = createStage2Service({
    store,
    stage2: processors.stage2,
    onStatus: (status) => events.emit('prompts.stage2', status),
  });
  const open = queueProcessors?.open ?? processors.open;
  const executor = new RunExecutor({
    store,
    // Self-TPT runs of an edited class set get stage 2's context here, once, for every worker.
    openProcessor: async (spec, signal) => open(await stage2.adaptedSpec(spec, signal), signal),
    onProgress: (progress) => events.emit('run.progress', progress),
  });
  const services = createServices({
    store,
    executor,
    thumbnails,
    zeroShotText: async (spec) => processors.zeroShotText(await stage2.adaptedSpec(spec)),
    learn: processors.learn,
    stage2,
  });
  // Background thumbnail filling after scans; aborted on close.
  const background = new AbortController();
  const fillThumbnails = (collectionId: number) => {
    services.collections
      .fillThumbnails(collectionId, { signal: background.signal })
      .catch((error: unknown) => {
        if (!background.signal.aborted) log(`thumbnails of collection ${collectionId}: ${String(error)}`);
      });
  };

  try {
    for (const [root, origin] of [
      ...(resourcesDir ? [[join(resourcesDir, 'models'), 'embedded'] as const] : []),
      [modelsRoot, 'installed'] as const,
    ]) {
      for (const problem of await registerModelsIn(store, root, origin)) log(problem);
    }
  } catch (error) {
    await queueProcessors?.close();
    store.close();
    throw error;
  }

  // The engine decides the provider from what is installed; reported before any run starts.
  const device = new Engine({ provider, log: () => {} }).executionProvider;
  const demoDir = resourcesDir ? join(resourcesDir, 'demo') : null;

  async function info(): Promise<AppInfo> {
    let demoFolder: string | null = null;
    if (demoDir && existsSync(demoDir)) {
      const root = await realpath(demoDir);
      if (!store.collections.getByRoot(root)) demoFolder = demoDir;
    }
    return { version, dataDir, shell, device, demoFolder };
  }

  async function imageFile(imageId: number, kind: 'full' | 'thumb'): Promise<ImageFile> {
    const image = store.images.get(imageId);
    if (!image) throw new ApiError(`image ${imageId} does not exist`, 'not-found');
    let path: string;
    try {
      // Checked for thumbnails too: a file replaced by a link out of the collection is not read.
      path = await resolveCollectionFile(store, image.collectionId, image.relPath);
      if (kind === 'thumb') return { path: await thumbnails.thumbnailOf(imageId), contentType: 'image/webp' };
    } catch (error) {
      const reason = error instanceof PathRefusedError ? error.reason : (error as Error).message;
      throw new ApiError(`image ${imageId} cannot be served: ${reason}`, 'not-found');
    }
    const type = imageTypeOf(path);
    if (!type) throw new ApiError(`image ${imageId} is not of a type that can be shown`, 'not-found');
    return { path, contentType: type.mediaType };
  }

  async function modelFile(modelId: number, name: string): Promise<ImageFile> {
    const model = store.models.get(modelId);
    if (!model) throw new ApiError(`model ${modelId} is not registered`, 'not-found');
    if (!MODEL_FILE_NAMES.has(name)) throw new ApiError(`"${name}" is not a file of a model`, 'not-found');
    return { path: join(model.dir, name), contentType: 'application/octet-stream' };
  }

  const dispatch = createDispatcher(
    createApiHandlers({
      store,
      services,
      events,
      info,
      modelsRoot,
      app: { name: 'MetaTPT Workbench', version },
      pickFolder: options.pickFolder,
      download: options.download,
      onCollectionScanned: fillThumbnails,
      demoDir,
      scaleOut: createScaleOutSettingsService(options.scaleOutFile ?? null, options.scaleOut ?? null),
    }),
  );

  const resumeRuns = options.resumeRuns ?? true;
  if (resumeRuns) executor.resumeInterruptedRuns();

  let closing: Promise<void> | null = null;
  async function shutdown(): Promise<void> {
    background.abort();
    // Take the waiting runs out of the queue first, so pausing the active one does not start the next.
    // A backend that did not take over the queue at start (a headless run) leaves the others' alone.
    const interrupted = resumeRuns ? store.runs.withStatus('queued').map((run) => run.id) : [];
    for (const runId of interrupted) await executor.pause(runId);
    const active = executor.activeRunId();
    if (active !== null) {
      interrupted.push(active);
      await executor.pause(active);
    }
    await executor.idle();
    stage2.close();
    // Paused by the shutdown, not by the user: queued again, they resume at the next start.
    for (const runId of interrupted) store.runs.setStatus(runId, 'queued');
    await processors.close();
    await queueProcessors?.close();
    store.close();
  }

  return {
    dispatch,
    events,
    store,
    services,
    executor,
    info,
    imageFile,
    modelFile,
    stage2Runs: () => processors.stage2Runs,
    close: () => (closing ??= shutdown()),
  };
}
