// A class set turned into what the text tower needs: tokens trimmed at the longest prompt, the
// positions the learned context replaces, its initial value, and the zero-shot text features.
import { trimTokens, type ClipEncoder } from '../clip/encoder.js';

export const DEFAULT_TEMPLATE = 'a photo of a {}.';

export interface PromptSetOptions {
  /** Template with `{}` for the class name; the words before `{}` initialise the learned context. */
  template?: string;
  /** Per-class prompt text overriding the template (same order as the class names). */
  prompts?: (string | null | undefined)[];
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
    /** Initial context vectors [nCtx, D]: the token embeddings of the template's prefix. */
    readonly ctxInit: Float32Array,
    readonly nCtx: number,
    /** Zero-shot text features [C, P], unit rows. */
    readonly textFeatures: Float32Array,
  ) {}

  static async create(
    encoder: ClipEncoder,
    classNames: readonly string[],
    options: PromptSetOptions = {},
  ): Promise<PromptSet> {
    if (classNames.length === 0) throw new Error('a class set needs at least one class');
    const template = options.template ?? DEFAULT_TEMPLATE;
    if (!template.includes('{}'))
      throw new Error(`prompt template "${template}" has no {} for the class name`);
    const prompts = classNames.map((name, i) => options.prompts?.[i]?.trim() || template.replace('{}', name));
    const { tokenizer } = encoder.model;
    const batch = tokenizer.encode(prompts);
    const prefix = template.slice(0, template.indexOf('{}')).trim();
    const prefixIds = prefix ? tokenizer.tokenize(prefix).slice(1, -1) : [];
    const ctxInit = contextFromTokens(encoder, prefixIds);
    const features = await encoder.encodeText(batch);
    return new PromptSet(
      encoder,
      classNames,
      prompts,
      trimTokens(batch),
      batch.eot,
      batch.maxLength,
      ctxInit,
      prefixIds.length,
      normalizeRows(features, encoder.projectionDim),
    );
  }

  get classCount(): number {
    return this.classNames.length;
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

/** Rows of a host [n, width] array scaled to unit length. */
export function normalizeRows(x: Float32Array, width: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / width; r++) {
    const row = x.subarray(r * width, (r + 1) * width);
    const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    for (let i = 0; i < width; i++) out[r * width + i] = row[i] / norm;
  }
  return out;
}
