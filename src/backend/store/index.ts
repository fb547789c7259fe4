// openStore: one SQLite connection and the typed repositories over it. All SQL lives in this folder.
import { openDatabase, schemaVersion, type Db, type OpenDatabaseOptions } from './database.js';
import { collectionsRepository } from './collections.js';
import { imagesRepository } from './images.js';
import { classSetsRepository } from './class-sets.js';
import { modelsRepository } from './models.js';
import { runsRepository } from './runs.js';
import { resultsRepository } from './results.js';
import { labelsRepository } from './labels.js';
import { importedLabelsRepository } from './imported-labels.js';
import { gridRepository } from './grid.js';
import { exportsRepository } from './exports.js';
import { imageFeaturesRepository } from './image-features.js';
import { evaluationRepository } from './evaluation.js';
import { learnedPromptsRepository } from './learned-prompts.js';
import { selfTptAdaptationsRepository } from './selftpt-adaptations.js';

export function openStore(path: string, options: OpenDatabaseOptions = {}) {
  const db = openDatabase(path, options);
  return {
    path,
    schemaVersion: () => schemaVersion(db),
    /** Runs fn in one transaction (nested calls become savepoints). */
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    /**
     * Runs fn in one transaction that takes the write lock at once (BEGIN IMMEDIATE): for a read
     * that decides a write while other processes write too, which a deferred transaction would
     * answer with SQLITE_BUSY ("database is locked") instead of waiting.
     */
    writeTransaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    close: () => db.close(),
    /** Refreshes the query planner's statistics where tables changed a lot (after a scan or a run). */
    optimize: () => void db.pragma('optimize = 0x10002'),
    collections: collectionsRepository(db),
    images: imagesRepository(db),
    classSets: classSetsRepository(db),
    models: modelsRepository(db),
    runs: runsRepository(db),
    results: resultsRepository(db),
    labels: labelsRepository(db),
    importedLabels: importedLabelsRepository(db),
    grid: gridRepository(db),
    exports: exportsRepository(db),
    imageFeatures: imageFeaturesRepository(db),
    evaluation: evaluationRepository(db),
    learnedPrompts: learnedPromptsRepository(db),
    selfTptAdaptations: selfTptAdaptationsRepository(db),
    /** The raw connection, for tests and diagnostics only. */
    db: db as Db,
  };
}

export type Store = ReturnType<typeof openStore>;

export type { Collection, ImageRecord, ImageStatus } from '../../shared/domain/library.js';
export type { ScannedFile } from './images.js';
export type { ClassSet, ClassInfo, ClassDefinition } from '../../shared/domain/class-sets.js';
export type { NewClassSet } from './class-sets.js';
export type { ModelRecord } from '../../shared/domain/models.js';
export type { Run, RunStatus, RunItem, RunItemState } from '../../shared/domain/runs.js';
export type { NewRun, WorkItem } from './runs.js';
export type { Prediction, AdaptedPrompt, StoredView } from '../../shared/domain/results.js';
export type { ImageResult, ViewResult } from './results.js';
export type {
  Label,
  LabelState,
  LabelAction,
  LabelHistoryEntry,
  Decision,
  LabelSource,
  ImportedLabelRecord,
} from '../../shared/domain/labels.js';
export type { LabelChange } from './labels.js';
export type { ImportedLabelsWrite } from './imported-labels.js';
export type {
  GridQuery,
  GridPage,
  GridItem,
  GridSortKey,
  ReviewState,
  Range,
} from '../../shared/domain/grid.js';
export type { ExportRecord } from './exports.js';
export type { CachedFeatures } from './image-features.js';
export type { LabelledResult, ResultTiming } from './evaluation.js';
export type { LearnedPrompt, LearnedFromLabel, NewLearnedPrompt } from './learned-prompts.js';
export type { Stage2Adaptation, Stage2Classes } from './selftpt-adaptations.js';
export type { LearnedPromptMethod, LearnedPromptSummary } from '../../shared/domain/learned-prompts.js';
export { float32ToBlob, blobToFloat32 } from './float32.js';
export { migrations } from './migrations.js';
export { InvalidRequestError } from './errors.js';
