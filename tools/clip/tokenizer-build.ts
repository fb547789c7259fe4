// Builds a Hugging Face tokenizer.json for CLIP from OpenAI's BPE merge list (bpe_simple_vocab_16e6.txt.gz),
// reproducing the vocabulary order of CLIP's SimpleTokenizer and the pipeline of the published
// openai/clip-* tokenizer.json files.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { END_OF_TEXT, START_OF_TEXT } from '../../src/engine/clip/tokenizer.js';

/** The merge list shipped in resources/ (MIT, OpenAI). */
export const DEFAULT_CLIP_BPE_PATH = fileURLToPath(
  new URL('../../resources/clip-bpe/bpe_simple_vocab_16e6.txt.gz', import.meta.url),
);

/** CLIP uses the first 49152 - 256 - 2 merges of the file (after its version line). */
const MERGE_COUNT = 49152 - 256 - 2;
const END_OF_WORD = '</w>';

/**
 * GPT-2's reversible byte → printable character table, in CLIP's order: printable Latin-1 bytes map to
 * themselves first, then the remaining bytes to U+0100 onwards.
 */
function byteToUnicodeOrder(): string[] {
  const printable: number[] = [];
  const ranges: [number, number][] = [
    [0x21, 0x7e],
    [0xa1, 0xac],
    [0xae, 0xff],
  ];
  for (const [from, to] of ranges) for (let b = from; b <= to; b++) printable.push(b);
  const chars = printable.map((b) => String.fromCharCode(b));
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) chars.push(String.fromCharCode(256 + next++));
  }
  return chars;
}

function specialToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true };
}

/** The tokenizer.json object (serialise with JSON.stringify). */
export function buildClipTokenizerJson(bpeGzPath: string = DEFAULT_CLIP_BPE_PATH): Record<string, unknown> {
  const lines = gunzipSync(readFileSync(bpeGzPath)).toString('utf8').split('\n');
  const merges = lines.slice(1, MERGE_COUNT + 1);
  if (merges.length !== MERGE_COUNT || merges.some((m) => m.split(' ').length !== 2)) {
    throw new Error(`${bpeGzPath}: expected ${MERGE_COUNT} merges of two symbols after the version line`);
  }
  const bytes = byteToUnicodeOrder();
  const tokens = [...bytes, ...bytes.map((c) => c + END_OF_WORD), ...merges.map((m) => m.replace(' ', ''))];
  tokens.push(START_OF_TEXT, END_OF_TEXT);
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => (vocab[token] = id));
  const startId = vocab[START_OF_TEXT];
  const endId = vocab[END_OF_TEXT];

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [specialToken(startId, START_OF_TEXT), specialToken(endId, END_OF_TEXT)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex:
              "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [END_OF_TEXT, endId],
      cls: [START_OF_TEXT, startId],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: END_OF_TEXT,
      continuing_subword_prefix: '',
      end_of_word_suffix: END_OF_WORD,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}
