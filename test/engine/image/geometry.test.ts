// Kind 2 of issue 13: work derived from an image's geometry is bounded (case 06-huge-and-thin).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { decodeImage, ImageDecodeError } from '../../../src/engine/image/decode.js';
import { clipPreprocess } from '../../../src/engine/image/preprocess.js';
import { tempDir } from '../../backend/helpers.js';
import { pngHeaderOnly } from '../../backend/library/hostile-folder.js';
import { CASES, EMBEDDED_MODEL, metatpt } from '../../cases.js';

const CASE_06 = join(CASES, '06-huge-and-thin');

describe('images of extreme geometry', () => {
  it('preprocesses a 1×60000 image with memory bounded by the output, not the resize', async () => {
    // A 224-px preprocessing (ViT-B/32's), as in the bug report.
    const cfg = { ...ClipModel.load(EMBEDDED_MODEL).preprocess, shortestEdge: 224, imageSize: 224 };
    for (const name of ['thin_1x60000.png', 'wide_60000x1.png', 'wide_3x40000.png']) {
      const image = await decodeImage(join(CASE_06, name));
      const before = process.memoryUsage().rss;
      const chw = await clipPreprocess(image, cfg);
      expect(chw.length).toBe(3 * 224 * 224);
      expect(chw.every(Number.isFinite)).toBe(true);
      // Resizing the whole image first took 9.6 GB; the crop alone is 150 kB.
      expect(process.memoryUsage().rss - before).toBeLessThan(512 * 2 ** 20);
    }
  });

  it('refuses an image over the pixel limit with its size and the limit', async () => {
    const file = join(tempDir('huge-'), 'huge_20000x20000.png');
    writeFileSync(file, pngHeaderOnly(20000, 20000));
    const error = await decodeImage(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as Error).message).toMatch(
      /20000×20000 pixels \(400\.0 MP\) is over the limit of 268\.4 MP/,
    );
  });

  it('classify gives each extreme image a result or an error, and goes on', async () => {
    const dir = tempDir('extreme-');
    writeFileSync(join(dir, 'huge_20000x20000.png'), pngHeaderOnly(20000, 20000));
    const files = ['thin_1x60000.png', 'thin_1x8000.png', 'wide_60000x1.png'].map((f) => join(CASE_06, f));
    const { code, out } = await metatpt([
      ...['classify', '--model', EMBEDDED_MODEL, '--classes', 'line,dot', '--device', 'cpu', '--json'],
      ...files,
      dir,
    ]);
    expect(code).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.label !== undefined)).toHaveLength(3);
    expect(lines.find((l) => l.error)?.error).toMatch(/20000×20000 pixels .* over the limit/);
  });
});
