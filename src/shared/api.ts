// The workbench API: the one contract between the renderer and the backend, whatever carries it
// (Electron IPC or serve mode's HTTP + WebSocket). Every call's input is validated against its schema
// at the backend boundary; outputs are plain JSON-compatible data (typed arrays become number arrays).
import { z } from 'zod';
import { ADAPT_METHODS } from './domain/adaptation.js';
import type { ClassDefinition, ClassSet } from './domain/class-sets.js';
import { LABEL_KINDS } from './domain/evaluation.js';
import {
  EXPORT_FORMATS,
  EXPORT_INCLUDES,
  IMPORT_FORMATS,
  LINK_MODES,
  UNLABELED_MODES,
  type ExportSummary,
  type ImportSummary,
} from './domain/export.js';
import {
  GRID_SORT_KEYS,
  maxGridPageSize,
  REVIEW_STATES,
  type GridItem,
  type GridPage,
  type GridQuery,
} from './domain/grid.js';
import type { LabelAction, LabelState } from './domain/labels.js';
import {
  IMAGE_STATUSES,
  type CollectionSummary,
  type DemoOpened,
  type ScanProgress,
  type ScanSummary,
} from './domain/library.js';
import type { ModelRecord } from './domain/models.js';
import type { ImageDetail } from './domain/results.js';
import {
  RUN_ITEM_STATES,
  type Run,
  type RunEvaluation,
  type RunInfo,
  type RunItem,
  type RunProgress,
  type SettingValue,
} from './domain/runs.js';
import type { LearnedPromptSummary, LearnProgress, Stage2Status } from './domain/learned-prompts.js';
import { scaleOutInputSchema, type ScaleOutState } from './domain/scale-out.js';

const id = z.number().int().positive();
const imageIds = z.array(id).min(1).max(100_000);
const range = z.object({ min: z.number().optional(), max: z.number().optional() }).strict();
const reviewScope = z.object({ collectionId: id, classSetId: id }).strict();
const classDefinition = z.object({
  name: z.string().min(1).max(500),
  prompt: z.string().max(1000).nullable().optional(),
});
const classSetInput = z
  .object({
    name: z.string().min(1).max(200),
    classes: z.array(classDefinition).min(1).max(10_000),
    template: z.string().max(500).optional(),
    contextInit: z.string().max(500).optional(),
  })
  .strict();

const labelKind = z.enum(LABEL_KINDS);

export const methodSchema = z.enum(ADAPT_METHODS);
/** Methods whose prompt is learned from labels (and stored as a learned prompt). */
export const learnMethodSchema = z.enum(['coop', 'selftpt']);

/** Adaptation settings of a run; runs.start checks them against adaptParamsSchema (shared/domain). */
const runParams = z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]));

export const runScopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('collection') }).strict(),
  z.object({ kind: z.literal('images'), imageIds }).strict(),
  z.object({ kind: z.literal('uncertain'), baseRunId: id, minZeroShotEntropy: z.number().min(0) }).strict(),
]);

export const gridQuerySchema = z
  .object({
    collectionId: id,
    runId: id.optional(),
    layered: z.boolean().optional(),
    classSetId: id.optional(),
    hasPrediction: z.boolean().optional(),
    predictedClass: z.number().int().min(0).optional(),
    labelClass: z.number().int().min(0).optional(),
    reviewState: z.enum(REVIEW_STATES).optional(),
    confidence: range.optional(),
    entropy: range.optional(),
    disagreement: z.boolean().optional(),
    versusZeroShot: z
      .object({ outcome: z.enum(['fixed', 'broken']), against: labelKind.optional() })
      .strict()
      .optional(),
    statuses: z.array(z.enum(IMAGE_STATUSES)).optional(),
    sort: z
      .object({
        key: z.enum(GRID_SORT_KEYS),
        direction: z.enum(['asc', 'desc']).optional(),
      })
      .strict()
      .optional(),
    offset: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(maxGridPageSize).optional(),
  })
  .strict();

export const exportFormatSchema = z.enum(EXPORT_FORMATS);

/** Typed arrays in backend results travel as number arrays. */
export type Plain<T> = T extends Float32Array | Float64Array | Int32Array
  ? number[]
  : T extends (infer U)[]
    ? Plain<U>[]
    : T extends object
      ? { [K in keyof T]: Plain<T[K]> }
      : T;

export interface AppInfo {
  version: string;
  /** Where the database, thumbnails and installed models live. */
  dataDir: string;
  /** 'electron' or 'browser' (serve mode): the renderer adapts its file pickers to it. */
  shell: 'electron' | 'browser';
  /** The execution provider new runs will use, as the engine chose it. */
  device: string;
  /** The demo collection that ships with the app, when it is not added yet (open it: collections.openDemo). */
  demoFolder: string | null;
}

/** Every call: its input schema and its output type. */
export const apiSchemas = {
  'app.info': z.object({}).strict(),
  'app.pickFolder': z.object({ title: z.string().max(200).optional() }).strict(),

  'collections.list': z.object({}).strict(),
  'collections.add': z
    .object({
      folder: z.string().min(1).max(4096),
      name: z.string().max(200).optional(),
      /** Follow symbolic links that lead out of the folder (default: skip and report them). */
      followLinks: z.boolean().optional(),
    })
    .strict(),
  'collections.rescan': z.object({ collectionId: id, followLinks: z.boolean().optional() }).strict(),
  /** Adds the demo folder with its class set and its ground truth as imported labels. */
  'collections.openDemo': z.object({}).strict(),
  'collections.rename': z.object({ collectionId: id, name: z.string().min(1).max(200) }).strict(),
  'collections.remove': z.object({ collectionId: id }).strict(),

  'classSets.list': z.object({}).strict(),
  'classSets.get': z.object({ classSetId: id }).strict(),
  'classSets.create': classSetInput,
  'classSets.update': z.object({ classSetId: id, patch: classSetInput.partial() }).strict(),
  'classSets.remove': z.object({ classSetId: id }).strict(),
  'classSets.readFile': z.object({ path: z.string().min(1).max(4096) }).strict(),
  'classSets.readFolders': z.object({ root: z.string().min(1).max(4096) }).strict(),

  'models.list': z.object({}).strict(),
  'models.import': z
    .object({ folder: z.string().min(1).max(4096), name: z.string().max(200).optional() })
    .strict(),
  'models.download': z
    .object({ repoId: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'a repository id looks like owner/name') })
    .strict(),

  'runs.start': z
    .object({
      collectionId: id,
      classSetId: id,
      modelId: id,
      method: methodSchema,
      params: runParams.optional(),
      scope: runScopeSchema,
      /** Adds the (adapted) run as a layer on this run's view; an 'uncertain' scope implies its run. */
      baseRunId: id.nullable().optional(),
    })
    .strict(),
  /** A zero-shot run scored at once from cached image features; uncached images are queued. */
  'runs.rescore': z
    .object({
      collectionId: id,
      classSetId: id,
      modelId: id,
      method: z.enum(['zeroshot', 'coop', 'selftpt']).optional(),
      params: runParams.optional(),
    })
    .strict(),
  'runs.pause': z.object({ runId: id }).strict(),
  'runs.resume': z.object({ runId: id }).strict(),
  'runs.cancel': z.object({ runId: id }).strict(),
  'runs.retryFailed': z.object({ runId: id }).strict(),
  'runs.rename': z.object({ runId: id, name: z.string().max(200).nullable() }).strict(),
  'runs.list': z.object({ collectionId: id.optional() }).strict(),
  'runs.get': z.object({ runId: id }).strict(),
  'runs.items': z
    .object({
      runId: id,
      state: z.enum(RUN_ITEM_STATES).optional(),
      offset: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
  /** The run against labels of a kind (default 'all'), compared with its zero-shot predictions. */
  'runs.evaluate': z.object({ runId: id, against: labelKind.optional() }).strict(),

  /** Learns a prompt from the class set's labelled images; progress arrives as 'prompts.learnProgress'. */
  'prompts.learn': z
    .object({
      classSetId: id,
      modelId: id,
      method: learnMethodSchema,
      settings: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
    })
    .strict(),
  'prompts.cancelLearn': z.object({ classSetId: id }).strict(),
  'prompts.list': z.object({ classSetId: id }).strict(),
  /** How many labelled images "Learn" would use now. */
  'prompts.labelCount': z.object({ classSetId: id, modelId: id }).strict(),
  /** The class set's Self-TPT stage 2 under the model (null: it uses no Self-TPT prompt there); changes arrive as 'prompts.stage2'. */
  'prompts.stage2': z.object({ classSetId: id, modelId: id }).strict(),
  /** Cancels the class set's background stage-2 jobs (not one a run start waits for). */
  'prompts.cancelStage2': z.object({ classSetId: id }).strict(),

  'review.assign': z.object({ imageIds, classSetId: id, classOrdinal: z.number().int().min(0) }).strict(),
  'review.accept': z.object({ imageIds, runId: id }).strict(),
  'review.reject': z.object({ imageIds, runId: id }).strict(),
  'review.skip': z.object({ imageIds, classSetId: id }).strict(),
  'review.clear': z.object({ imageIds, classSetId: id }).strict(),
  'review.undo': reviewScope,
  'review.redo': reviewScope,
  'review.history': reviewScope.extend({ limit: z.number().int().min(1).max(500).optional() }),
  'review.labelOf': z.object({ imageId: id, classSetId: id }).strict(),

  'browse.grid': gridQuerySchema,
  'browse.image': z.object({ imageId: id }).strict(),

  'export.run': z
    .object({
      runId: id,
      /** The run's view (its layers' results where they have one; the default), or the run alone. */
      layered: z.boolean().optional(),
      format: exportFormatSchema,
      outDir: z.string().min(1).max(4096),
      /** 'reviewed' (the default, as in the app and the CLI): the expert's labels, else imported ones. */
      include: z.enum(EXPORT_INCLUDES).optional(),
      minConfidence: z.number().min(0).max(1).optional(),
      split: z
        .object({
          train: z.number().min(0),
          val: z.number().min(0),
          test: z.number().min(0).optional(),
          seed: z.number().int(),
        })
        .strict()
        .optional(),
      link: z.enum(LINK_MODES).optional(),
      unlabeled: z.enum(UNLABELED_MODES).optional(),
    })
    .strict(),
  'export.importLabels': z
    .object({
      collectionId: id,
      classSetId: id,
      /** export: one of our export folders, or a Label Studio JSON/JSON_MIN/CSV export file. */
      format: z.enum(IMPORT_FORMATS),
      path: z.string().min(1).max(4096),
    })
    .strict(),

  /** The scale-out settings saved and in use (never a Redis password). */
  'scaleOut.get': z.object({}).strict(),
  /** Saves them (the desktop app; they apply at its next start); null: every image runs here. */
  'scaleOut.save': z.object({ settings: scaleOutInputSchema }).strict(),
} as const;

export interface ApiOutputs {
  'app.info': AppInfo;
  /** The chosen folder, or null when cancelled or when the shell has no native dialog (browser). */
  'app.pickFolder': string | null;
  'collections.list': CollectionSummary[];
  'collections.add': { collection: CollectionSummary; scan: ScanSummary };
  'collections.rescan': ScanSummary;
  'collections.openDemo': DemoOpened;
  'collections.rename': CollectionSummary;
  'collections.remove': null;
  'classSets.list': ClassSet[];
  'classSets.get': ClassSet;
  'classSets.create': ClassSet;
  'classSets.update': ClassSet;
  'classSets.remove': null;
  'classSets.readFile': { classes: ClassDefinition[]; warnings: string[] };
  'classSets.readFolders': ClassDefinition[];
  'models.list': ModelRecord[];
  'models.import': ModelRecord;
  'models.download': ModelRecord;
  'runs.start': RunInfo;
  'runs.rescore': RunInfo;
  'runs.pause': null;
  'runs.resume': null;
  'runs.cancel': null;
  'runs.retryFailed': number;
  'runs.rename': RunInfo;
  'runs.list': RunInfo[];
  'runs.get': RunInfo;
  'runs.items': RunItem[];
  'runs.evaluate': RunEvaluation;
  'prompts.learn': LearnedPromptSummary;
  'prompts.cancelLearn': boolean;
  'prompts.list': LearnedPromptSummary[];
  'prompts.labelCount': number;
  'prompts.stage2': Stage2Status | null;
  'prompts.cancelStage2': boolean;
  'review.assign': LabelAction | null;
  'review.accept': LabelAction | null;
  'review.reject': LabelAction | null;
  'review.skip': LabelAction | null;
  'review.clear': LabelAction | null;
  'review.undo': LabelAction | null;
  'review.redo': LabelAction | null;
  'review.history': LabelAction[];
  'review.labelOf': LabelState | null;
  'browse.grid': GridPage;
  'browse.image': Plain<ImageDetail>;
  'export.run': ExportSummary;
  'export.importLabels': ImportSummary;
  'scaleOut.get': ScaleOutState;
  'scaleOut.save': ScaleOutState;
}

export type ApiMethod = keyof typeof apiSchemas;
export type ApiInput<M extends ApiMethod> = z.input<(typeof apiSchemas)[M]>;
export type ApiOutput<M extends ApiMethod> = ApiOutputs[M];

/** Events the backend pushes to every connected renderer. */
export interface ApiEvents {
  'run.progress': RunProgress;
  'scan.progress': ScanProgress;
  /**
   * A collection's images changed (added, rescanned, files found changed or gone): views showing it
   * re-read its images and counts. `scan` is the scan's summary where a scan did it.
   */
  'collection.changed': { collectionId: number; scan: ScanSummary | null };
  'export.progress': { runId: number; done: number; total: number; currentFile: string | null };
  'model.download': { repoId: string; file: string; receivedBytes: number; totalBytes: number | null };
  /** Labels changed (by review or import) — views showing them refresh. */
  'labels.changed': { collectionId: number; classSetId: number };
  /** A prompt being learned: encoding the labelled images, then one report per epoch. */
  'prompts.learnProgress': { classSetId: number; method: 'coop' | 'selftpt' } & LearnProgress;
  /** A class set's Self-TPT stage 2 changed state or made progress. */
  'prompts.stage2': Stage2Status;
  /** A command from the desktop shell's menu, for the renderer to carry out (never sent in a browser). */
  'app.command': { command: AppCommand };
}

/** Menu commands: File ▸ Add folder… and Help ▸ Keyboard shortcuts. */
export type AppCommand = 'add-folder' | 'show-shortcuts';

export type ApiEventName = keyof ApiEvents;

/** What the renderer holds: one typed function per call, and event subscriptions. */
export interface WorkbenchApi {
  call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>>;
  on<E extends ApiEventName>(event: E, listener: (payload: ApiEvents[E]) => void): () => void;
  /** URL of an image file or its thumbnail, served only for images of registered collections. */
  imageUrl(imageId: number, kind: 'full' | 'thumb'): string;
}

export { ApiError, type ApiErrorPayload, type ApiResponse } from './api-error.js';

export type {
  ExportSummary,
  ImportSummary,
  ClassDefinition,
  ClassSet,
  CollectionSummary,
  GridItem,
  GridPage,
  GridQuery,
  ImageDetail,
  LabelAction,
  LearnedPromptSummary,
  ModelRecord,
  Run,
  RunEvaluation,
  RunInfo,
  RunProgress,
  ScanSummary,
  SettingValue,
  DemoOpened,
  Stage2Status,
};
