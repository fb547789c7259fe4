// The backend services, wired over one store. Transports (Electron IPC, serve mode, CLI) call these.
import type { RunExecutor } from '../jobs/executor.js';
import type { ZeroShotTextOf } from '../jobs/types.js';
import type { LearnWith } from '../run-processors.js';
import type { ThumbnailCache } from '../library/thumbnails.js';
import type { Store } from '../store/index.js';
import { createBrowseService } from './browse.js';
import { createClassSetsService } from './class-sets.js';
import { createCollectionsService } from './collections.js';
import { createLearnedPromptsService } from './learned-prompts.js';
import { createReviewService } from './review.js';
import { createRunsService } from './runs.js';
import type { Stage2Service } from './stage2.js';

export function createServices(deps: {
  store: Store;
  executor: RunExecutor;
  thumbnails: ThumbnailCache;
  zeroShotText: ZeroShotTextOf;
  learn: LearnWith;
  /** Self-TPT stage 2 ahead of runs (created with the executor, which uses it at run start). */
  stage2: Stage2Service;
}) {
  return {
    collections: createCollectionsService(deps),
    classSets: createClassSetsService(deps),
    runs: createRunsService(deps),
    review: createReviewService(deps),
    browse: createBrowseService(deps),
    learnedPrompts: createLearnedPromptsService(deps),
    stage2: deps.stage2,
  };
}

export type Services = ReturnType<typeof createServices>;
