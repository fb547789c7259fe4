// What the engine host sends its worker threads and gets back.
import type { ExecutionProvider } from '../../engine/runtime.js';
import type { AdaptSettings } from '../../shared/domain/adaptation.js';
import type { ZeroShotText } from '../jobs/types.js';
import type { ImageResult } from '../store/index.js';

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

/** Classify one image, or give the class set's zero-shot text features (for re-scoring cached images). */
export type EngineJob = ImageJob | { kind: 'zero-shot-text' };

export interface ImageJob {
  kind: 'image';
  path: string;
  /** The run's method and settings, validated when the run started. */
  settings: AdaptSettings;
  /** A stable key for the image (its path): with the run's seed it fixes the image's views. */
  seedKey: string;
}

export interface ImageJobResult extends ImageResult {
  kind: 'image';
  /** The execution provider the worker's engine runs on. */
  device: string;
}

export type EngineJobResult = ImageJobResult | ({ kind: 'zero-shot-text' } & ZeroShotText);
