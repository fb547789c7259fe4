// Images, class files and an in-memory output for the classify command tests.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { CommandIo } from '../../src/cli/format.js';

export interface ImageFolder {
  root: string;
  /** Folder with two decodable images (one in a subfolder) and a corrupt PNG. */
  images: string;
  shapes: string;
  stripes: string;
  corrupt: string;
  /** A text file that is not an image, outside the image folder. */
  text: string;
}

const svgPng = (svg: string, file: string) => sharp(Buffer.from(svg)).png().toFile(file);

export async function makeImageFolder(): Promise<ImageFolder> {
  const root = await mkdtemp(path.join(tmpdir(), 'classify-'));
  const images = path.join(root, 'images');
  await mkdir(path.join(images, 'sub'), { recursive: true });
  const shapes = path.join(images, 'shapes.png');
  const stripes = path.join(images, 'sub', 'stripes.png');
  const corrupt = path.join(images, 'corrupt.png');
  const text = path.join(root, 'notes.txt');
  await svgPng(
    '<svg width="90" height="60"><rect width="90" height="60" fill="#c83"/><circle cx="30" cy="30" r="18" fill="#14c"/><rect x="55" y="10" width="25" height="40" fill="#eee"/></svg>',
    shapes,
  );
  await svgPng(
    '<svg width="48" height="64"><rect width="48" height="64" fill="#2a2"/><rect width="16" height="64" fill="#fe2"/><rect x="32" width="8" height="64" fill="#222"/></svg>',
    stripes,
  );
  // A PNG signature and a cut-off header.
  await writeFile(corrupt, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  await writeFile(text, 'not an image\n');
  return { root, images, shapes, stripes, corrupt, text };
}

/** An io that keeps what a command writes. */
export function captureIo(overrides: Partial<CommandIo> = {}): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    stderrIsTTY: false,
    ...overrides,
  };
}
