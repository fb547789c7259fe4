// What the engine host sends its worker threads and gets back.
import type { ExecutionProvider } from '../../engine/runtime.js';
import type { ImageResult, RunParams } from '../jobs/types.js';

export interface EngineWorkerInit {
  modelDir: string;
  classNames: string[];
  /** Per-class prompt text overriding the template (null where the template applies). */
  prompts?: (string | null)[];
  template?: string;
  /** Words that initialise the learned context (default: the template's words before {}). */
  contextInit?: string | null;
  provider: ExecutionProvider | 'auto';
}

export interface EngineJob {
  path: string;
  /** Adaptation settings (validated in the worker by resolveAdaptOptions). */
  params: RunParams;
  /** A stable key for the image (its path): with the run's seed it fixes the image's views. */
  seedKey: string;
}

export interface EngineJobResult extends ImageResult {
  /** The execution provider the worker's engine runs on. */
  device: string;
}
