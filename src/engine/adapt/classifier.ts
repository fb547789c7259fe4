// One image's classification, end to end: prepare the image (decode, CLIP preprocessing, the square
// view source) → views → features → method (zero-shot, TPT, MetaTPT) → result. The CLI's classify,
// the engine worker, the benchmarks and the tests all classify through a Classifier, so an image gets
// the same result wherever it is classified.
import type { DecodedImage } from '../image/decode.js';
import {
  adaptImage,
  imageSeed,
  prepareImage,
  type AdaptOptions,
  type AdaptResult,
  type PreparedImage,
} from './adapt.js';
import type { PromptSet } from './prompts.js';

export interface ClassifyCall {
  /** Aborting stops the image between (and inside) its phases; the call rejects with the reason. */
  signal?: AbortSignal;
  /**
   * A stable key for the image: with options.seed it fixes the image's views, whatever else is
   * classified and in whichever order. Default: the path of a file; none for decoded pixels (then
   * options.seed is used as it is).
   */
  seedKey?: string;
}

export interface Classification {
  image: PreparedImage;
  result: AdaptResult;
  /** The seed the image's views were drawn with. */
  seed: number;
  /** Milliseconds spent decoding and preparing the image (result.timings has the rest). */
  prepareMs: number;
}

export class Classifier {
  /** `prompts`: the model's encoder and the class set's prompts, loaded once for many images. */
  constructor(readonly prompts: PromptSet) {}

  /**
   * Decodes (a file) and prepares an image once, for one or more runs of a method over it. Throws
   * ImageDecodeError naming the file when it cannot be read or decoded.
   */
  prepare(input: string | DecodedImage): Promise<PreparedImage> {
    return prepareImage(input, this.prompts);
  }

  /** Runs a method over a prepared image; see ClassifyCall for the seed and cancellation. */
  run(image: PreparedImage, options: AdaptOptions, call: ClassifyCall = {}): Promise<AdaptResult> {
    const seed = call.seedKey === undefined ? options.seed : imageSeed(options.seed, call.seedKey);
    return adaptImage(this.prompts, image, { ...options, seed }, call.signal);
  }

  /** Prepares an image file (or decoded pixels) and classifies it with `options`. */
  async classify(
    input: string | DecodedImage,
    options: AdaptOptions,
    call: ClassifyCall = {},
  ): Promise<Classification> {
    const seedKey = call.seedKey ?? (typeof input === 'string' ? input : undefined);
    const started = performance.now();
    const image = await this.prepare(input);
    const prepareMs = performance.now() - started;
    call.signal?.throwIfAborted();
    const result = await this.run(image, options, { signal: call.signal, seedKey });
    return { image, result, seed: result.options.seed, prepareMs };
  }
}
