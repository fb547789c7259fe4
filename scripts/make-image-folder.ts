// Generates a folder of small, distinct, procedural images (a coloured shape on a coloured ground) for
// tests and benchmarks:  npx tsx scripts/make-image-folder.ts --out DIR --count N [--size 64]
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

export interface MakeImageFolderOptions {
  out: string;
  count: number;
  size?: number;
  /** Images per subfolder, so that huge counts do not land in one directory. */
  perFolder?: number;
  format?: 'png' | 'jpeg';
  /** Called after each folder is written. */
  onProgress?: (written: number) => void;
}

/** The pixels of image `index`: hue, shape and position vary with the index, and the index itself is
 *  written into the first row so that no two images have the same bytes. */
export function renderPixels(index: number, size: number): Buffer {
  const pixels = Buffer.alloc(size * size * 3);
  const hue = (n: number) => [(n * 97) % 256, (n * 57 + 80) % 256, (n * 31 + 160) % 256];
  const [br, bg, bb] = hue(index);
  const [fr, fg, fb] = hue(index * 7 + 3);
  const circle = index % 2 === 0;
  const cx = size * (0.3 + ((index * 13) % 40) / 100);
  const cy = size * (0.3 + ((index * 29) % 40) / 100);
  const radius = size * (0.15 + ((index * 11) % 20) / 100);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = circle
        ? (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2
        : Math.abs(x - cx) <= radius && Math.abs(y - cy) <= radius;
      const o = (y * size + x) * 3;
      pixels[o] = inside ? fr : br;
      pixels[o + 1] = inside ? fg : bg;
      pixels[o + 2] = inside ? fb : bb;
    }
  }
  for (let bit = 0; bit < Math.min(32, size); bit++) {
    pixels[bit * 3] = (index >>> bit) & 1 ? 255 : 0;
  }
  return pixels;
}

export const imageRelPath = (index: number, perFolder: number, format: string): string =>
  `d${String(Math.floor(index / perFolder)).padStart(4, '0')}/img-${String(index).padStart(7, '0')}.${format === 'jpeg' ? 'jpg' : 'png'}`;

export async function makeImageFolder(options: MakeImageFolderOptions): Promise<void> {
  const { out, count, size = 64, perFolder = 1000, format = 'png', onProgress } = options;
  for (let start = 0; start < count; start += perFolder) {
    const end = Math.min(count, start + perFolder);
    await mkdir(join(out, imageRelPath(start, perFolder, format), '..'), { recursive: true });
    // A folder's images at once: sharp encodes them on its own thread pool.
    const writes: Promise<unknown>[] = [];
    for (let index = start; index < end; index++) {
      const image = sharp(renderPixels(index, size), { raw: { width: size, height: size, channels: 3 } });
      const encoded = format === 'jpeg' ? image.jpeg({ quality: 90 }) : image.png({ compressionLevel: 1 });
      writes.push(encoded.toFile(join(out, imageRelPath(index, perFolder, format))));
    }
    await Promise.all(writes);
    onProgress?.(end);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      count: { type: 'string' },
      size: { type: 'string', default: '64' },
      format: { type: 'string', default: 'png' },
    },
  });
  const count = Number(values.count);
  const size = Number(values.size);
  if (!values.out || !Number.isInteger(count) || count < 1 || !Number.isInteger(size) || size < 8) {
    throw new Error('usage: make-image-folder --out DIR --count N [--size 64 (>= 8)] [--format png|jpeg]');
  }
  if (values.format !== 'png' && values.format !== 'jpeg')
    throw new Error(`unknown format "${values.format}"`);
  const started = Date.now();
  await makeImageFolder({
    out: values.out,
    count,
    size,
    format: values.format,
    onProgress: (n) => process.stderr.write(`\r${n}/${count}`),
  });
  process.stderr.write(
    `\nwrote ${count} images to ${values.out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(`make-image-folder: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
