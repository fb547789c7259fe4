// Makes the "hostile folder" of issue 13: one folder holding an input of every kind of fault found
// by rebuilding public bug reports, so that one test takes it through classify, index + run, import
// and export. `expected` says what each entry must become: an image with a result, an image with a
// named error, or a skipped entry with its reason.
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { SkipReason } from '../../../src/shared/domain/image-types.js';
import { CASES, DEMO_IMAGES } from '../../cases.js';

/** A PNG whose header claims width × height; its pixel data is cut short. */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface HostileFolder {
  root: string;
  /** Entry (relative path) → what it must become. */
  expected: Record<string, { result: true } | { error: RegExp } | { skipped: SkipReason }>;
}

/** Writes the hostile folder under `parent` (which must exist); `outside` receives a link target. */
export function makeHostileFolder(parent: string, outside: string): HostileFolder {
  const root = join(parent, 'hostile');
  mkdirSync(join(root, 'sub'), { recursive: true });
  const demo = (n: string) => join(DEMO_IMAGES, `shape-${n}.webp`);
  const case03 = (name: string) => join(CASES, '03-extensions', name);
  // Kind 1: spellings one path took and another did not; undecodable types; non-images; links.
  copyFileSync(case03('download.jfif'), join(root, 'download.jfif'));
  copyFileSync(case03('photo.jpe'), join(root, 'sub', 'photo.jpe'));
  copyFileSync(case03('IMG_0003.Png'), join(root, 'IMG_0003.Png'));
  copyFileSync(case03('iphone.heic'), join(root, 'iphone.heic'));
  copyFileSync(case03('photo.bmp'), join(root, 'photo.bmp'));
  writeFileSync(join(root, 'notes.txt'), 'not an image\n');
  writeFileSync(join(root, '._IMG_0003.Png'), 'AppleDouble resource fork');
  writeFileSync(join(outside, 'far.webp'), 'x');
  symlinkSync(join(outside, 'far.webp'), join(root, 'link-out.webp'));
  symlinkSync(join(root, 'gone.webp'), join(root, 'dangling.webp'));
  // Kind 2: geometry; a truncated file.
  copyFileSync(join(CASES, '06-huge-and-thin', 'thin_1x60000.png'), join(root, 'thin_1x60000.png'));
  writeFileSync(join(root, 'huge_20000x20000.png'), pngHeaderOnly(20000, 20000));
  writeFileSync(join(root, 'truncated.png'), Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  // Kind 3 (by name): an NFD file name; a good image to label.
  copyFileSync(demo('0055'), join(root, 'cafe\u0301.webp'));
  copyFileSync(demo('0002'), join(root, 'star.webp'));
  // Kind 6: an earlier export of ours inside the folder.
  mkdirSync(join(root, 'old-export', 'images'), { recursive: true });
  copyFileSync(demo('0003'), join(root, 'old-export', 'images', 'x.webp'));
  writeFileSync(join(root, 'old-export', 'manifest.json'), JSON.stringify({ kind: 'metatpt-export' }));
  return {
    root,
    expected: {
      'download.jfif': { result: true },
      'sub/photo.jpe': { result: true },
      'IMG_0003.Png': { result: true },
      'thin_1x60000.png': { result: true },
      'café.webp': { result: true },
      'star.webp': { result: true },
      'iphone.heic': { error: /^HEIC\/HEIF: .*convert/ },
      'photo.bmp': { error: /^BMP: .*convert/ },
      'huge_20000x20000.png': { error: /20000×20000 pixels .* over the limit/ },
      'truncated.png': { error: /./ },
      'notes.txt': { skipped: 'not-an-image' },
      '._IMG_0003.Png': { skipped: 'hidden' },
      'link-out.webp': { skipped: 'link-outside-folder' },
      'dangling.webp': { skipped: 'broken-link' },
      'old-export': { skipped: 'app-folder' },
    },
  };
}
