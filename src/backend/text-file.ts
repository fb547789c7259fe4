// Reading text files that users bring (classes files, label CSVs): the encoding is detected from a
// byte-order mark (UTF-8, UTF-16 LE/BE), otherwise the text must be valid UTF-8. Anything else is
// refused with the byte offset and line of the first bad byte, instead of decoding to U+FFFD and
// silently changing names (a Latin-1 "café" would become "caf\uFFFD").
import { readRegularFile } from './regular-file.js';
import { InvalidRequestError } from './store/errors.js';

export class TextEncodingError extends InvalidRequestError {
  constructor(
    readonly file: string,
    readonly byteOffset: number,
    readonly line: number,
  ) {
    super(
      `${file}: not valid UTF-8 at byte ${byteOffset} (line ${line}); it looks like another encoding ` +
        '(Latin-1 / Windows-1252?): save it as UTF-8 (Excel: "CSV UTF-8"), then try again',
    );
    this.name = 'TextEncodingError';
  }
}

export interface DecodedText {
  text: string;
  /** 'utf-8', 'utf-16le' or 'utf-16be'. */
  encoding: string;
}

/** Offset of the first byte that is not part of a valid UTF-8 sequence, or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    const length =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    // TextDecoder's fatal mode checks the sequence exactly (overlongs, surrogates, range).
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return -1;
}

/** Decodes bytes as described above; `file` names the source in errors. */
export function decodeText(bytes: Uint8Array, file: string): DecodedText {
  if (bytes[0] === 0xff && bytes[1] === 0xfe)
    return { text: new TextDecoder('utf-16le').decode(bytes.subarray(2)), encoding: 'utf-16le' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return { text: new TextDecoder('utf-16be').decode(bytes.subarray(2)), encoding: 'utf-16be' };
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(body), encoding: 'utf-8' };
  } catch {
    const offset = firstInvalidUtf8(body) + (body === bytes ? 0 : 3);
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    throw new TextEncodingError(file, offset, line);
  }
}

/** Label and Label Studio files: large exports fit (a million rows of 256 bytes). */
export const MAX_TEXT_FILE_BYTES = 256 * 1024 * 1024;

/**
 * Reads and decodes a user's text file: a regular file of at most `maxBytes` (FileRefusedError
 * otherwise: a FIFO, device or folder is refused at once, never waited on), in the encoding its bytes
 * show (decodeText: TextEncodingError on invalid UTF-8). Errors name the file; `what` names its role.
 */
export async function readTextFile(
  file: string,
  what = 'file',
  maxBytes = MAX_TEXT_FILE_BYTES,
): Promise<string> {
  return decodeText(await readRegularFile(file, maxBytes, what), file).text;
}

/**
 * The field delimiter of a delimited text: the one of `,` `;` tab `|` that splits the header line
 * (outside quotes) into the most fields (Excel writes `;` where the decimal separator is a comma).
 */
export function sniffDelimiter(text: string): string {
  const header = text.split(/\r?\n/, 1)[0].replace(/"[^"]*"/g, '');
  let best = ',';
  let bestCount = 0;
  for (const delimiter of [',', ';', '\t', '|']) {
    const count = header.split(delimiter).length - 1;
    if (count > bestCount) [best, bestCount] = [delimiter, count];
  }
  return best;
}
