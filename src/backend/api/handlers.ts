// Every API call, implemented over the services. Inputs arrive validated (dispatch.ts); here ids
// that name nothing become 'not-found' errors, settings are checked before a run is created, and
// the calls that change what others show emit their events.
import { adaptParamsSchema } from '../../shared/domain/adaptation.js';
import { describeIssues } from '../../shared/domain/issues.js';
import { ApiError, type AppInfo } from '../../shared/api.js';
import { exportRun, importLabelsIntoStore } from '../export/from-store.js';
import { importFromExport, importLabels } from '../export/index.js';
import { hashFile } from '../library/inspect.js';
import { recordInstalledModel } from '../model-registry.js';
import { downloadModel, type DownloadOptions } from '../models/download.js';
import { ModelManagerError } from '../models/errors.js';
import { importModelFolder } from '../models/import.js';
import { evaluateRun } from '../services/evaluation.js';
import { openDemo } from '../services/demo.js';
import type { Services } from '../services/index.js';
import type { LabelAction, Store } from '../store/index.js';
import { toPlain, type ApiHandlers } from './dispatch.js';
import type { EventHub } from './events.js';
import type { ScanProgress, ScanSummary } from '../../shared/domain/library.js';
import type { ScaleOutSettingsService } from '../scale-out/settings.js';

export interface ApiHandlerDeps {
  store: Store;
  services: Services;
  events: EventHub;
  info: () => Promise<AppInfo>;
  /** Where imported and downloaded models are installed. */
  modelsRoot: string;
  /** Written into export manifests. */
  app: { name: string; version: string };
  pickFolder?: (title?: string) => Promise<string | null>;
  download?: Pick<DownloadOptions, 'baseUrl' | 'fetch'>;
  /** Called after a collection was added or rescanned (the backend fills its thumbnails). */
  onCollectionScanned?: (collectionId: number) => void;
  /** The demo folder that ships with the app; null where there is none. */
  demoDir?: string | null;
  scaleOut: ScaleOutSettingsService;
}

/** The records an input refers to by id, checked up front so that a wrong id reads "not found". */
interface References {
  collectionId?: number;
  classSetId?: number;
  runId?: number;
  /** The run a new run is layered on. */
  baseRunId?: number | null;
  modelId?: number;
  imageId?: number;
  imageIds?: number[];
}

function requireReferences(store: Store, input: References): void {
  const missing = (what: string, id: number) => new ApiError(`${what} ${id} does not exist`, 'not-found');
  const { collectionId, classSetId, runId, baseRunId, modelId, imageId, imageIds } = input;
  if (collectionId !== undefined && !store.collections.get(collectionId))
    throw missing('collection', collectionId);
  if (classSetId !== undefined && !store.classSets.get(classSetId)) throw missing('class set', classSetId);
  for (const id of [runId, baseRunId]) if (id != null && !store.runs.get(id)) throw missing('run', id);
  if (modelId !== undefined && !store.models.get(modelId)) throw missing('model', modelId);
  for (const id of imageId !== undefined ? [imageId, ...(imageIds ?? [])] : (imageIds ?? [])) {
    if (!store.images.get(id)) throw missing('image', id);
  }
}

/** The handler with its input's references checked first. */
function checked<I extends References, O>(store: Store, handler: (input: I) => O): (input: I) => O {
  return (input) => {
    requireReferences(store, input);
    return handler(input);
  };
}

function modelError(error: unknown): unknown {
  if (!(error instanceof ModelManagerError)) return error;
  // The folder a caller names is not a model, or is one already installed: the caller's to fix.
  const code = { 'not-found': 'not-found', 'invalid-model': 'invalid-input', exists: 'conflict' } as const;
  return new ApiError(error.message, code[error.kind as keyof typeof code] ?? 'failed');
}

export function createApiHandlers(deps: ApiHandlerDeps): ApiHandlers {
  const { store, services, events, modelsRoot } = deps;
  const { collections, classSets, runs, review, browse, learnedPrompts, stage2 } = services;
  /** Self-TPT stage 2 of a created or edited class set starts in the background (never awaited). */
  const adapting = <T extends { id: number }>(classSet: T): T => {
    stage2.schedule(classSet.id);
    return classSet;
  };

  /** Emits labels.changed when a review command changed something. */
  const labelsChanged = (collectionId: number, classSetId: number, action: LabelAction | null) => {
    if (action) events.emit('labels.changed', { collectionId, classSetId });
    return action;
  };
  const collectionOfImage = (imageId: number) => store.images.require(imageId).collectionId;
  /** After a scan: thumbnails are filled and every view showing the collection hears of it. */
  const scanned = <T>(collectionId: number, result: T, scan: ScanSummary): T => {
    deps.onCollectionScanned?.(collectionId);
    events.emit('collection.changed', { collectionId, scan });
    return result;
  };
  const onScanProgress = { onProgress: (progress: ScanProgress) => events.emit('scan.progress', progress) };

  return {
    'app.info': () => deps.info(),
    'app.pickFolder': ({ title }) => deps.pickFolder?.(title) ?? null,

    'collections.list': () => collections.list(),
    'collections.add': async ({ folder, name, followLinks }) => {
      const added = await collections.addFolder(folder, {
        name,
        followLinksOutside: followLinks,
        ...onScanProgress,
      });
      return scanned(added.collection.id, added, added.scan);
    },
    'collections.rescan': checked(store, async ({ collectionId, followLinks }) => {
      const scan = await collections.rescan(collectionId, {
        followLinksOutside: followLinks,
        ...onScanProgress,
      });
      return scanned(collectionId, scan, scan);
    }),
    'collections.openDemo': async () => {
      if (!deps.demoDir) throw new ApiError('this installation has no demo collection', 'not-found');
      const opened = await openDemo({ store, collections, classSets }, deps.demoDir, onScanProgress);
      if (opened.groundTruth && opened.groundTruth.applied > 0)
        events.emit('labels.changed', { collectionId: opened.collection.id, classSetId: opened.classSet.id });
      return scanned(opened.collection.id, opened, opened.scan);
    },
    'collections.rename': checked(store, ({ collectionId, name }) => collections.rename(collectionId, name)),
    'collections.remove': checked(store, async ({ collectionId }) => {
      await collections.remove(collectionId);
      return null;
    }),

    'classSets.list': () => classSets.list(),
    'classSets.get': checked(store, ({ classSetId }) => classSets.get(classSetId)),
    'classSets.create': (input) => adapting(classSets.create(input)),
    'classSets.update': checked(store, ({ classSetId, patch }) =>
      adapting(classSets.update(classSetId, patch)),
    ),
    'classSets.remove': checked(store, ({ classSetId }) => {
      classSets.remove(classSetId);
      return null;
    }),
    'classSets.readFile': ({ path }) => classSets.readClassFile(path),
    'classSets.readFolders': ({ root }) => classSets.readClassFolders(root),

    'models.list': () => store.models.list(),
    'models.import': async ({ folder, name }) => {
      try {
        return recordInstalledModel(
          store,
          await importModelFolder(folder, modelsRoot, { name }),
          'installed',
        );
      } catch (error) {
        throw modelError(error);
      }
    },
    'models.download': async ({ repoId }) => {
      try {
        const installed = await downloadModel(repoId, modelsRoot, {
          ...deps.download,
          onProgress: ({ file, receivedBytes, totalBytes }) =>
            events.emit('model.download', { repoId, file, receivedBytes, totalBytes: totalBytes ?? null }),
        });
        return recordInstalledModel(store, installed, 'installed');
      } catch (error) {
        throw modelError(error);
      }
    },

    'runs.start': checked(store, ({ params = {}, method, ...rest }) => {
      // Bad settings fail here, once, rather than on every image of the run.
      const settings = adaptParamsSchema.safeParse({ ...params, method });
      if (!settings.success) {
        const problems = describeIssues(settings.error, { root: 'params' });
        throw new ApiError(`runs.start: invalid settings: ${problems}`, 'invalid-input');
      }
      return runs.start({ ...rest, method, params });
    }),
    'runs.rescore': checked(store, (input) => runs.rescore(input)),

    'prompts.learn': checked(store, async (input) => {
      const learned = await learnedPrompts.learn(input, (progress) =>
        events.emit('prompts.learnProgress', {
          classSetId: input.classSetId,
          method: input.method,
          ...progress,
        }),
      );
      // Other class sets using the new Self-TPT prompt need stage 2 on their own classes.
      if (learned.method === 'selftpt') stage2.scheduleUsersOf(learned.id);
      return learned;
    }),
    'prompts.cancelLearn': checked(store, ({ classSetId }) => learnedPrompts.cancel(classSetId)),
    'prompts.list': checked(store, ({ classSetId }) => learnedPrompts.list(classSetId)),
    'prompts.stage2': checked(store, ({ classSetId, modelId }) => stage2.status(classSetId, modelId)),
    'prompts.cancelStage2': checked(store, ({ classSetId }) => stage2.cancel(classSetId)),
    'prompts.labelCount': checked(store, ({ classSetId, modelId }) =>
      learnedPrompts.labelCount(classSetId, modelId),
    ),
    'runs.pause': checked(store, async ({ runId }) => {
      await runs.pause(runId);
      return null;
    }),
    'runs.resume': checked(store, ({ runId }) => {
      runs.resume(runId);
      return null;
    }),
    'runs.cancel': checked(store, async ({ runId }) => {
      await runs.cancel(runId);
      return null;
    }),
    'runs.retryFailed': checked(store, ({ runId }) => runs.retryFailed(runId)),
    'runs.rename': checked(store, ({ runId, name }) => runs.rename(runId, name)),
    'runs.list': checked(store, ({ collectionId }) => runs.list(collectionId)),
    'runs.get': checked(store, ({ runId }) => runs.get(runId)),
    'runs.items': checked(store, ({ runId, ...page }) => runs.items(runId, page)),
    'runs.evaluate': checked(store, ({ runId, against }) => evaluateRun(store, runId, against)),

    'review.assign': checked(store, ({ imageIds, classSetId, classOrdinal }) =>
      labelsChanged(
        collectionOfImage(imageIds[0]),
        classSetId,
        review.assign(imageIds, classSetId, classOrdinal),
      ),
    ),
    'review.accept': checked(store, ({ imageIds, runId }) => {
      const run = store.runs.require(runId);
      return labelsChanged(run.collectionId, run.classSetId, review.accept(imageIds, runId));
    }),
    'review.reject': checked(store, ({ imageIds, runId }) => {
      const run = store.runs.require(runId);
      return labelsChanged(run.collectionId, run.classSetId, review.reject(imageIds, runId));
    }),
    'review.skip': checked(store, ({ imageIds, classSetId }) =>
      labelsChanged(collectionOfImage(imageIds[0]), classSetId, review.skip(imageIds, classSetId)),
    ),
    'review.clear': checked(store, ({ imageIds, classSetId }) =>
      labelsChanged(collectionOfImage(imageIds[0]), classSetId, review.clear(imageIds, classSetId)),
    ),
    'review.undo': checked(store, (scope) =>
      labelsChanged(scope.collectionId, scope.classSetId, review.undo(scope)),
    ),
    'review.redo': checked(store, (scope) =>
      labelsChanged(scope.collectionId, scope.classSetId, review.redo(scope)),
    ),
    'review.history': checked(store, ({ limit, ...scope }) => review.history(scope, limit)),
    'review.labelOf': checked(store, ({ imageId, classSetId }) => review.labelOf(imageId, classSetId)),

    'browse.grid': checked(store, (query) => browse.grid(query)),
    'browse.image': checked(store, ({ imageId }) => toPlain(browse.imageDetail(imageId))),

    'export.run': checked(
      store,
      async ({ runId, layered = true, include = 'reviewed', minConfidence, ...options }) => {
        const { outDir, manifest } = await exportRun(
          store,
          { runId, layered, include, minConfidence },
          { ...options, app: deps.app },
          {
            onProgress: ({ done, total, currentFile }) =>
              events.emit('export.progress', { runId, done, total, currentFile }),
          },
        );
        return { outDir, counts: { ...manifest.counts } };
      },
    ),
    'export.importLabels': checked(store, async ({ collectionId, classSetId, format, path }) => {
      const imported =
        format === 'export' || format === 'labelstudio'
          ? await importFromExport(path)
          : await importLabels(path, format, {
              hashFile,
              collectionRoot: store.collections.require(collectionId).root,
            });
      const summary = importLabelsIntoStore(store, { collectionId, classSetId }, imported.labels);
      if (summary.applied > 0) events.emit('labels.changed', { collectionId, classSetId });
      return { ...summary, warnings: [...imported.warnings, ...summary.warnings] };
    }),

    'scaleOut.get': () => deps.scaleOut.state(),
    'scaleOut.save': ({ settings }) => deps.scaleOut.save(settings),
  };
}
