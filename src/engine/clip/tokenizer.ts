// CLIP tokenizer: a Hugging Face tokenizer.json run by @huggingface/tokenizers, plus CLIP's fixed-length
// batching (truncate keeping the end-of-text token last, pad with 0).
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelFileError, readModelJson } from './errors.js';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
export const CLIP_CONTEXT_LENGTH = 77;
const PAD_ID = 0;

export interface EncodedBatch {
  /** Row-major [texts.length, contextLength]. */
  ids: Int32Array;
  /** Per row, the position of the end-of-text token (the pooled position). */
  eot: Int32Array;
  /** max(eot) + 1: the text tower can run on this many positions only (causal mask). */
  maxLength: number;
  contextLength: number;
}

export class ClipTokenizer {
  readonly startId: number;
  readonly endId: number;
  readonly vocabSize: number;

  private constructor(
    private readonly tokenizer: Tokenizer,
    source: string,
  ) {
    const startId = tokenizer.token_to_id(START_OF_TEXT);
    const endId = tokenizer.token_to_id(END_OF_TEXT);
    if (startId === undefined || endId === undefined) {
      throw new ModelFileError(source, `not a CLIP tokenizer: ${START_OF_TEXT} or ${END_OF_TEXT} is missing`);
    }
    this.startId = startId;
    this.endId = endId;
    this.vocabSize = tokenizer.get_vocab(true).size;
  }

  /** Builds from the parsed JSON of a tokenizer.json; `source` names it in errors. */
  static fromJson(json: unknown, source: string): ClipTokenizer {
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json as object, {});
    } catch (err) {
      throw new ModelFileError(source, `not a usable tokenizer.json (${(err as Error).message})`);
    }
    return new ClipTokenizer(tokenizer, source);
  }

  static fromFile(path: string): ClipTokenizer {
    return ClipTokenizer.fromJson(readModelJson(path), path);
  }

  /** Token ids with start/end tokens, not truncated. */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  /**
   * Fixed-length batch as CLIP uses it: ids truncated to the first contextLength-1 followed by the
   * end-of-text token, then padded with 0.
   */
  encode(texts: string[], contextLength = CLIP_CONTEXT_LENGTH): EncodedBatch {
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new RangeError(`contextLength must be an integer ≥ 2, got ${contextLength}`);
    }
    const ids = new Int32Array(texts.length * contextLength).fill(PAD_ID);
    const eot = new Int32Array(texts.length);
    texts.forEach((text, row) => {
      let tokens = this.tokenize(text);
      if (tokens.length > contextLength) tokens = [...tokens.slice(0, contextLength - 1), this.endId];
      ids.set(tokens, row * contextLength);
      eot[row] = tokens.indexOf(this.endId);
    });
    const maxLength = texts.length === 0 ? 0 : Math.max(...eot) + 1;
    return { ids, eot, maxLength, contextLength };
  }

  /** The text a token stands for; the end-of-word marker shows as a trailing space ("photo "). */
  decodeToken(id: number): string {
    if (this.tokenizer.id_to_token(id) === undefined)
      throw new RangeError(`token id ${id} is not in the vocabulary`);
    return this.tokenizer.decode([id]);
  }
}
