import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClipPreprocessConfig } from '../../../src/engine/clip/config.js';
import { decodeImage, ImageDecodeError, type DecodedImage } from '../../../src/engine/image/decode.js';
import { clipPreprocess, imageToSourceTensor, writePng } from '../../../src/engine/image/preprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'image-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

function pixel(image: DecodedImage, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return Array.from(image.data.subarray(i, i + 3));
}

/** An RGB image from a function of (x, y). */
function rgbImage(width: number, height: number, color: (x: number, y: number) => number[]): DecodedImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(color(x, y), (y * width + x) * 3);
  return { width, height, data };
}

function raw(image: DecodedImage) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

describe('decodeImage', () => {
  beforeAll(async () => {
    // 16x8, left half red, right half blue, stored with EXIF orientation 6 (display rotated 90° clockwise).
    await raw(rgbImage(16, 8, (x) => (x < 8 ? [255, 0, 0] : [0, 0, 255])))
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toFile(at('rotated.jpg'));
    await sharp(new Uint8Array(6).fill(100), { raw: { width: 3, height: 2, channels: 1 } })
      .png()
      .toFile(at('gray.png'));
    const rgba = new Uint8Array([255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 128]);
    await sharp(rgba, { raw: { width: 3, height: 1, channels: 4 } })
      .png()
      .toFile(at('rgba.png'));
    const deep = new Uint16Array([2570, 1000, 65535, 0, 32896, 51400]);
    await sharp(deep, { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toFile(at('16bit.png'));
    // Two 4x4 frames: black, then white.
    const frames = new Uint8Array(2 * 16 * 4);
    for (let i = 0; i < 32; i++) frames.set(i < 16 ? [0, 0, 0, 255] : [255, 255, 255, 255], i * 4);
    await sharp(frames, { raw: { width: 4, height: 8, channels: 4, pageHeight: 4 } })
      .gif({ delay: [100, 100] })
      .toFile(at('animated.gif'));
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } })
      .toColourspace('cmyk')
      .jpeg()
      .toFile(at('cmyk.jpg'));
    await raw(rgbImage(100, 50, (x, y) => [x * 2, y * 4, 128]))
      .png()
      .toFile(at('big.png'));
  });

  it('applies the EXIF orientation', async () => {
    expect((await sharp(at('rotated.jpg')).metadata()).orientation).toBe(6);
    const image = await decodeImage(at('rotated.jpg'));
    expect([image.width, image.height]).toEqual([8, 16]);
    // The stored left (red) half is on top after a 90° clockwise rotation.
    const [r0, , b0] = pixel(image, 4, 2);
    const [r1, , b1] = pixel(image, 4, 13);
    expect(r0).toBeGreaterThan(200);
    expect(b0).toBeLessThan(50);
    expect(b1).toBeGreaterThan(200);
    expect(r1).toBeLessThan(50);
  });

  it('expands grayscale to RGB', async () => {
    const image = await decodeImage(at('gray.png'));
    expect([image.width, image.height, image.data.length]).toEqual([3, 2, 18]);
    expect(Array.from(image.data)).toEqual(new Array(18).fill(100));
  });

  it('flattens alpha onto white', async () => {
    const image = await decodeImage(at('rgba.png'));
    expect(pixel(image, 0, 0)).toEqual([255, 0, 0]);
    expect(pixel(image, 1, 0)).toEqual([255, 255, 255]);
    const [r, g, b] = pixel(image, 2, 0);
    expect([r, g]).toEqual([g, r]);
    expect(Math.abs(r - 127)).toBeLessThanOrEqual(1);
    expect(b).toBe(255);
  });

  it('reduces 16-bit PNG to 8 bits', async () => {
    expect((await sharp(at('16bit.png')).metadata()).depth).toBe('ushort');
    const image = await decodeImage(at('16bit.png'));
    const expected = [2570, 1000, 65535, 0, 32896, 51400].map((v) => v / 257);
    Array.from(image.data).forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(1));
  });

  it('takes the first frame of an animated GIF', async () => {
    expect((await sharp(at('animated.gif')).metadata()).pages).toBe(2);
    const image = await decodeImage(at('animated.gif'));
    expect([image.width, image.height]).toEqual([4, 4]);
    expect(Math.max(...image.data)).toBe(0);
  });

  it('converts CMYK to RGB', async () => {
    expect((await sharp(at('cmyk.jpg')).metadata()).space).toBe('cmyk');
    const [r, g, b] = pixel(await decodeImage(at('cmyk.jpg')), 4, 4);
    expect(r).toBeGreaterThan(200);
    expect(g).toBeLessThan(60);
    expect(b).toBeLessThan(60);
  });

  it('downscales to maxSide keeping the aspect ratio, never upscaling', async () => {
    const small = await decodeImage(at('big.png'), { maxSide: 40 });
    expect([small.width, small.height]).toEqual([40, 20]);
    const same = await decodeImage(at('big.png'), { maxSide: 400 });
    expect([same.width, same.height]).toEqual([100, 50]);
    expect(pixel(same, 10, 5)).toEqual([20, 20, 128]);
    await expect(decodeImage(at('big.png'), { maxSide: 0 })).rejects.toThrow(RangeError);
  });

  describe('bad files give an ImageDecodeError naming the file', () => {
    beforeAll(async () => {
      const full = await sharp({
        create: {
          width: 128,
          height: 128,
          channels: 3,
          background: 'white',
          noise: { type: 'gaussian', mean: 128, sigma: 40 },
        },
      })
        .jpeg()
        .toBuffer();
      writeFileSync(at('truncated.jpg'), full.subarray(0, full.length >> 1));
      writeFileSync(at('text.png'), 'this is a text file, not a PNG');
      writeFileSync(at('empty.jpg'), '');
      mkdirSync(at('folder.png'));
    });

    it.each([
      ['truncated.jpg', /premature end/i],
      ['text.png', /unsupported image format/],
      ['empty.jpg', /empty file/],
      ['missing.jpg', /file not found/],
      ['folder.png', /not a regular file/],
    ])('%s', async (name, reason) => {
      const error = await decodeImage(at(name)).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ImageDecodeError);
      expect((error as ImageDecodeError).file).toBe(at(name));
      expect((error as Error).message).toContain(`${at(name)}: cannot decode image: `);
      expect((error as Error).message).toMatch(reason);
    });
  });
});

describe('clipPreprocess', () => {
  const cfg = (size: number, shortestEdge = size): ClipPreprocessConfig => ({
    imageSize: size,
    shortestEdge,
    mean: CLIP_MEAN,
    std: CLIP_STD,
    resample: 'bicubic',
  });

  it('only normalises an image that is already S×S, into CHW', async () => {
    const image = rgbImage(2, 2, (x, y) => [x * 255, y * 255, 51]);
    const out = await clipPreprocess(image, cfg(2));
    const norm = (v: number, c: number) => Math.fround((v / 255 - CLIP_MEAN[c]) / CLIP_STD[c]);
    // channel R = x*255, G = y*255, B = 51; plane order CHW, row-major within a plane
    // prettier-ignore
    expect(Array.from(out)).toEqual([
      norm(0, 0), norm(255, 0), norm(0, 0), norm(255, 0),
      norm(0, 1), norm(0, 1), norm(255, 1), norm(255, 1),
      norm(51, 2), norm(51, 2), norm(51, 2), norm(51, 2),
    ]);
  });

  it('centre-crops the longer side (left offset floor((W - S) / 2))', async () => {
    const image = rgbImage(5, 2, (x) => [x * 50, 0, 0]);
    const out = await clipPreprocess(image, { ...cfg(2), mean: [0, 0, 0], std: [1, 1, 1] });
    // columns 1 and 2 of 0..4 survive
    expect(Array.from(out.subarray(0, 4)).map((v) => Math.round(v * 255))).toEqual([50, 100, 50, 100]);
  });

  it('resizes the shorter side to shortestEdge then crops', async () => {
    const image = rgbImage(64, 32, (x, y) => (x < 32 ? [200, 10, 30] : [10, 200, 30 + y]));
    const out = await clipPreprocess(image, cfg(8, 12));
    expect(out.length).toBe(3 * 8 * 8);
    // 64x32 → 24x12, crop 8x8 at (8, 2): left half of the crop is the red side, right half the green side.
    const red = (out[0] * CLIP_STD[0] + CLIP_MEAN[0]) * 255;
    const green = (out[64 + 7] * CLIP_STD[1] + CLIP_MEAN[1]) * 255;
    expect(red).toBeCloseTo(200, 0);
    expect(green).toBeCloseTo(200, 0);
  });

  it('keeps a uniform image uniform through any resize', async () => {
    const out = await clipPreprocess(
      rgbImage(37, 53, () => [90, 160, 220]),
      cfg(16, 20),
    );
    const expected = [90, 160, 220].map((v, c) => Math.fround((v / 255 - CLIP_MEAN[c]) / CLIP_STD[c]));
    for (let c = 0; c < 3; c++) {
      for (const v of out.subarray(c * 256, (c + 1) * 256)) expect(v).toBe(expected[c]);
    }
  });
});

describe('imageToSourceTensor', () => {
  it('resizes the shorter side without cropping, CHW in 0..1', async () => {
    const source = await imageToSourceTensor(
      rgbImage(40, 20, () => [255, 51, 0]),
      10,
    );
    expect([source.width, source.height, source.data.length]).toEqual([20, 10, 600]);
    expect(source.data[0]).toBe(1);
    expect(source.data[200]).toBe(Math.fround(0.2));
    expect(source.data[599]).toBe(0);
  });

  it('keeps the pixels when no resize is needed', async () => {
    const image = rgbImage(3, 4, (x, y) => [x * 80, y * 60, 7]);
    const source = await imageToSourceTensor(image, 3);
    expect([source.width, source.height]).toEqual([3, 4]);
    expect(source.data[2 * 3 + 1]).toBe(Math.fround(80 / 255)); // R at (y 2, x 1)
    expect(source.data[12 + 3 * 3]).toBe(Math.fround(180 / 255)); // G at (y 3, x 0)
  });
});

describe('writePng', () => {
  it('undoes the normalisation and clamps', async () => {
    const image = rgbImage(4, 3, (x, y) => [x * 60, y * 100, 255 - x * 10]);
    const chw = await clipPreprocess(image, {
      imageSize: 3,
      shortestEdge: 3,
      mean: CLIP_MEAN,
      std: CLIP_STD,
      resample: 'bicubic',
    });
    chw[0] = 100; // far above 1 after un-normalising → 255
    chw[1] = -100; // → 0
    await writePng(at('view.png'), chw, 3, 3, { mean: CLIP_MEAN, std: CLIP_STD });
    const back = await decodeImage(at('view.png'));
    expect([back.width, back.height]).toEqual([3, 3]);
    expect(pixel(back, 0, 0)[0]).toBe(255);
    expect(pixel(back, 1, 0)[0]).toBe(0);
    // the rest is the centre crop (columns 0..2 of 4) of the original
    expect(pixel(back, 2, 2)).toEqual(pixel(image, 2, 2));
    expect(pixel(back, 0, 1)).toEqual(pixel(image, 0, 1));
  });

  it('rejects data of the wrong size', async () => {
    await expect(writePng(at('bad.png'), new Float32Array(10), 2, 2)).rejects.toThrow(/\[3, 2, 2\]/);
  });
});
