// Decoding any image file sharp reads into 8-bit RGB pixels, robust to what real photo folders hold.
import { stat } from 'node:fs/promises';
import sharp from 'sharp';

export interface DecodedImage {
  width: number;
  height: number;
  /** RGB, 8 bits per channel, row-major HWC: pixel (y, x) channel c at (y * width + x) * 3 + c. */
  data: Uint8Array;
}

export interface DecodeOptions {
  /** Downscale (antialiased) so that the longer side is at most this many pixels; never upscales. */
  maxSide?: number;
  /**
   * Downscale (antialiased, keeping the aspect ratio) so that width × height is at most this; the
   * decoder shrinks while loading where the format allows (JPEG, WebP), so memory follows the output.
   */
  maxPixels?: number;
}

/** Images larger than this are refused with their size: sharp's own default, 16383 × 16383. */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;

const megapixels = (pixels: number) => `${(pixels / 1e6).toFixed(1)} MP`;

/** Throws an ImageDecodeError naming the size and the limit when an image is over MAX_INPUT_PIXELS. */
export function checkPixelLimit(path: string, width: number, height: number): void {
  if (width * height <= MAX_INPUT_PIXELS) return;
  throw new ImageDecodeError(
    path,
    `${width}×${height} pixels (${megapixels(width * height)}) is over the limit of ` +
      `${megapixels(MAX_INPUT_PIXELS)} per image; downscale it first`,
  );
}

/** The file could not be turned into pixels; the message names the file and why. */
export class ImageDecodeError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: cannot decode image: ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

const WHITE = { r: 255, g: 255, b: 255 };

// libvips caches decoded files by name for the life of the process: a file replaced on disk would
// then be classified from its old pixels (the app is one long-lived process). Decode every time.
sharp.cache(false);

async function checkReadableFile(path: string): Promise<void> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ImageDecodeError(path, 'not a regular file');
    size = info.size;
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(path, code === 'ENOENT' ? 'file not found' : (err as Error).message);
  }
  if (size === 0) throw new ImageDecodeError(path, 'empty file (0 bytes)');
}

/**
 * Decodes an image file to RGB: EXIF orientation applied, first frame of animations, alpha flattened
 * onto white, grayscale/CMYK/16-bit converted to 8-bit sRGB. Truncated or corrupt files are rejected
 * with an ImageDecodeError rather than decoded to grey.
 */
export async function decodeImage(path: string, options: DecodeOptions = {}): Promise<DecodedImage> {
  const { maxSide } = options;
  if (maxSide !== undefined && !(Number.isInteger(maxSide) && maxSide > 0)) {
    throw new RangeError(`maxSide must be a positive integer, got ${maxSide}`);
  }
  await checkReadableFile(path);
  let header: { width?: number; height?: number };
  try {
    const metadata = await sharp(path, { limitInputPixels: false }).metadata();
    header = metadata.autoOrient ?? metadata;
  } catch (err) {
    throw new ImageDecodeError(path, (err as Error).message);
  }
  const { width = 0, height = 0 } = header;
  checkPixelLimit(path, width, height);
  try {
    // failOn 'error': truncated and corrupt data abort; mere warnings (e.g. extraneous bytes) do not.
    let pipeline = sharp(path, { failOn: 'error', autoOrient: true }).flatten({ background: WHITE });
    if (maxSide !== undefined) {
      pipeline = pipeline.resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true });
    } else if (options.maxPixels !== undefined && width * height > options.maxPixels) {
      const scale = Math.sqrt(options.maxPixels / (width * height));
      pipeline = pipeline.resize(
        Math.max(1, Math.floor(width * scale)),
        Math.max(1, Math.floor(height * scale)),
        {
          fit: 'fill',
        },
      );
    }
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (err) {
    throw new ImageDecodeError(path, (err as Error).message);
  }
}
