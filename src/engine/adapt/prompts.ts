// A class set turned into what the text tower needs: tokens trimmed at the longest prompt, the
// positions the learned context replaces, its initial value, and the zero-shot text features.
import { trimTokens, type ClipEncoder } from '../clip/encoder.js';
import { CLIP_CONTEXT_LENGTH, type EncodedBatch } from '../clip/tokenizer.js';
import { DEFAULT_TEMPLATE } from '../../shared/domain/adaptation.js';
import { normalizeRowsHost } from '../host-math.js';

export interface PromptSetOptions {
  /** Template with `{}` for the class name; the words before `{}` initialise the learned context. */
  template?: string;
  /** Per-class prompt text overriding the template (same order as the class names). */
  prompts?: (string | null | undefined)[];
  /**
   * Words whose embeddings start the learned context, in place of the template's words before {}
   * (same number of tokens).
   */
  contextInit?: string | null;
  /**
   * Learned context vectors [nCtx, D] (a CoOp or Self-TPT prompt) that start the context in place of
   * any words; nCtx must be the number of tokens before {} in the template.
   */
  ctx?: Float32Array | null;
}

export class PromptSet {
  private constructor(
    readonly encoder: ClipEncoder,
    readonly classNames: readonly string[],
    readonly prompts: readonly string[],
    /** Token ids [C, length], trimmed after the longest end-of-text. */
    readonly ids: Int32Array,
    readonly eot: Int32Array,
    readonly length: number,
    /** Initial context vectors [nCtx, D]: a learned context, or the token embeddings of the prefix. */
    readonly ctxInit: Float32Array,
    readonly nCtx: number,
    /** Zero-shot text features [C, P], unit rows. */
    readonly textFeatures: Float32Array,
    /**
     * Text features with the initial context (the same array when it is the template's own words);
     * with a learned context these are the learned prompt's features.
     */
    readonly contextFeatures: Float32Array,
    /** Whether the context is a learned prompt (PromptSetOptions.ctx) rather than words. */
    readonly learnedContext: boolean,
  ) {}

  static async create(
    encoder: ClipEncoder,
    classNames: readonly string[],
    options: PromptSetOptions = {},
  ): Promise<PromptSet> {
    if (classNames.length < 2) {
      // Softmax over one class is 1 whatever the image: no result would mean anything.
      throw new Error(
        `a class set needs at least two classes (got ${classNames.length === 0 ? 'none' : `only "${classNames[0]}"`}); ` +
          'with one, every image gets it with probability 1 — add the alternatives (e.g. "other")',
      );
    }
    const template = options.template ?? DEFAULT_TEMPLATE;
    if (!template.includes('{}'))
      throw new Error(`prompt template "${template}" has no {} for the class name`);
    const prompts = classNames.map((name, i) => options.prompts?.[i]?.trim() || template.replace('{}', name));
    const { tokenizer } = encoder.model;
    prompts.forEach((prompt, i) => {
      // CLIP sees 77 tokens; cutting the rest silently can drop the class name itself (then every
      // class reads the same). OpenAI's clip.tokenize refuses too (truncate=False).
      const length = tokenizer.tokenize(prompt).length;
      if (length > CLIP_CONTEXT_LENGTH) {
        const shown = prompt.length > 80 ? `${prompt.slice(0, 60)}…${prompt.slice(-15)}` : prompt;
        throw new Error(
          `the prompt of class "${classNames[i]}" is ${length} tokens, over CLIP's ${CLIP_CONTEXT_LENGTH} ` +
            `(start and end tokens included): "${shown}"; shorten the template or the class's prompt`,
        );
      }
    });
    const batch = tokenizer.encode(prompts);
    const innerIds = (text: string): number[] => (text ? tokenizer.tokenize(text).slice(1, -1) : []);
    const prefixIds = innerIds(template.slice(0, template.indexOf('{}')).trim());
    const initIds = options.contextInit?.trim() ? innerIds(options.contextInit.trim()) : prefixIds;
    if (initIds.length !== prefixIds.length) {
      throw new Error(
        `the context init "${options.contextInit}" has ${initIds.length} tokens, but the words before {} in "${template}" have ${prefixIds.length}`,
      );
    }
    const textWidth = encoder.model.config.text.hiddenSize;
    if (options.ctx && options.ctx.length !== prefixIds.length * textWidth) {
      throw new Error(
        `the learned context has ${options.ctx.length / textWidth} vectors of width ${textWidth}, but the words before {} in "${template}" have ${prefixIds.length} tokens`,
      );
    }
    const ctxInit = options.ctx ? Float32Array.from(options.ctx) : contextFromTokens(encoder, initIds);
    const width = encoder.projectionDim;
    const textFeatures = normalizeRowsHost(await encoder.encodeText(batch), width);
    const ownWords = !options.ctx && initIds.every((id, i) => id === prefixIds[i]);
    const contextFeatures = ownWords
      ? textFeatures
      : normalizeRowsHost(await encoder.encodeText(batch, { ctx: ctxInit }), width);
    return new PromptSet(
      encoder,
      classNames,
      prompts,
      trimTokens(batch),
      batch.eot,
      batch.maxLength,
      ctxInit,
      prefixIds.length,
      textFeatures,
      contextFeatures,
      Boolean(options.ctx),
    );
  }

  get classCount(): number {
    return this.classNames.length;
  }

  /** The trimmed tokens as a batch the encoder takes. */
  get tokens(): EncodedBatch {
    return { ids: this.ids, eot: this.eot, maxLength: this.length, contextLength: this.length };
  }
}

/** Rows of the token embedding table for `ids`, as one [n, D] array. */
function contextFromTokens(encoder: ClipEncoder, ids: readonly number[]): Float32Array {
  const width = encoder.model.config.text.hiddenSize;
  const table = encoder.model.weightData('text_model.embeddings.token_embedding.weight');
  const ctx = new Float32Array(ids.length * width);
  ids.forEach((id, i) => ctx.set(table.subarray(id * width, (id + 1) * width), i * width));
  return ctx;
}

/**
 * The vocabulary tokens nearest (Euclidean, as CoOp reads its learned prompts) to each context
 * vector: a readable glimpse of what the tuned prompt means.
 */
export function nearestTokens(
  encoder: ClipEncoder,
  ctx: Float32Array,
  count = 3,
): { token: string; distance: number }[][] {
  const width = encoder.model.config.text.hiddenSize;
  const table = encoder.model.weightData('text_model.embeddings.token_embedding.weight');
  const vocab = table.length / width;
  const result: { token: string; distance: number }[][] = [];
  for (let c = 0; c < ctx.length / width; c++) {
    const vector = ctx.subarray(c * width, (c + 1) * width);
    const best: { id: number; distance: number }[] = [];
    for (let id = 0; id < vocab; id++) {
      let d = 0;
      for (let i = 0; i < width; i++) {
        const diff = table[id * width + i] - vector[i];
        d += diff * diff;
      }
      if (best.length < count || d < best[best.length - 1].distance) {
        best.push({ id, distance: d });
        best.sort((a, b) => a.distance - b.distance);
        if (best.length > count) best.pop();
      }
    }
    result.push(
      best.map(({ id, distance }) => ({
        token: encoder.model.tokenizer.decodeToken(id),
        distance: Math.sqrt(distance),
      })),
    );
  }
  return result;
}
