// What the index records about a file's contents: a hash to recognise it after a move, and its size
// in pixels from the header.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import sharp from 'sharp';
import { checkPixelLimit } from '../../engine/image/decode.js';
import { explainDecodeFailure, imageTypeOf } from '../../shared/domain/image-types.js';

/**
 * SHA-1 of the file bytes. Hashing runs at over 1 GB/s with the CPU's SHA instructions, so reading the
 * file is the cost, not the hash; it is built into Node (no native dependency) and its collisions are
 * no concern for recognising moved files. (xxhash would only matter for files already in memory.)
 */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface ImageHeader {
  width: number;
  height: number;
}

/**
 * Width and height as displayed (after EXIF orientation), read from the header only. For a type the
 * decoder may not read (HEIC with HEVC, BMP) a tiny shrink-on-load decode proves that it can, so such a
 * file is an error at indexing time rather than at its first run.
 */
export async function readImageHeader(path: string): Promise<ImageHeader> {
  const metadata = await sharp(path, { limitInputPixels: false }).metadata();
  const { width, height } = metadata.autoOrient ?? metadata;
  if (!width || !height) throw new Error(`${path}: the image header has no size`);
  checkPixelLimit(path, width, height);
  if (imageTypeOf(path)?.remedy) await sharp(path, { failOn: 'error' }).resize(8, 8).raw().toBuffer();
  return { width, height };
}

export interface Inspection {
  contentHash: string | null;
  width: number | null;
  height: number | null;
  error: string | null;
}

/** Hash and header of one file; an unreadable or undecodable file becomes an error, not a throw. */
export async function inspectFile(path: string): Promise<Inspection> {
  let contentHash: string | null = null;
  try {
    contentHash = await hashFile(path);
    const { width, height } = await readImageHeader(path);
    return { contentHash, width, height, error: null };
  } catch (error) {
    return {
      contentHash,
      width: null,
      height: null,
      error: explainDecodeFailure(path, error instanceof Error ? error.message : String(error)),
    };
  }
}
