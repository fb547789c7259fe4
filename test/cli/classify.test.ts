// `metatpt classify` on the tiny golden model: run in-process through runCli, and once as a
// child process for exit codes and a clean stdout.
import { execFile } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands.js';
import { GOLDEN_MODEL_DIR } from '../fixtures/golden/load.js';
import { captureIo, makeImageFolder, type ImageFolder } from './fixtures.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const CLASSES = ['cat', 'dog', 'bird'];
const MODEL = ['--model', GOLDEN_MODEL_DIR, '--device', 'cpu'];
const BASE = [...MODEL, '--classes', CLASSES.join(',')];

interface ImageLine {
  path: string;
  label: string;
  classes: string[];
  probs: number[];
  entropy: number;
  method: string;
  adapted: boolean;
  zeroShotLabel: string;
  zeroShotProbs: number[];
  timings: Record<string, number>;
  seed?: number;
  losses?: { inner: number[]; outer: number[] };
  views?: { theta: number[]; entropy: number; selected: boolean }[];
  nearestTokens?: { token: string; distance: number }[][];
  error?: string;
}

let folder: ImageFolder;

beforeAll(async () => {
  folder = await makeImageFolder();
});

afterAll(async () => {
  await rm(folder.root, { recursive: true, force: true });
});

async function classify(args: string[], io = captureIo()) {
  const code = await runCli(commands, ['classify', ...args], io);
  const stdout = io.out.join('');
  return { code, stdout, stderr: io.err.join(''), io };
}

async function classifyJson(args: string[]) {
  const run = await classify([...args, '--json']);
  const lines = run.stdout
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ImageLine);
  return { ...run, lines, byPath: new Map(lines.map((l) => [l.path, l])) };
}

const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('metatpt classify, zero-shot', () => {
  it('prints one JSON line per image of a folder, errors included, in sorted order', async () => {
    const { code, lines, stderr } = await classifyJson([...BASE, folder.images]);
    expect(code).toBe(0);
    expect(lines.map((l) => path.relative(folder.images, l.path))).toEqual([
      'corrupt.png',
      'shapes.png',
      path.join('sub', 'stripes.png'),
    ]);
    expect(lines[0].error).toMatch(/corrupt|header|truncat/i);
    for (const line of lines.slice(1)) {
      expect(line.classes).toEqual(CLASSES);
      expect(line.probs).toHaveLength(3);
      expect(sum(line.probs)).toBeCloseTo(1, 6);
      expect(line.label).toBe(CLASSES[argmax(line.probs)]);
      expect(line).toMatchObject({ method: 'zeroshot', adapted: false, zeroShotLabel: line.label });
      expect(line.zeroShotProbs).toEqual(line.probs);
      expect(line.entropy).toBeCloseTo(-sum(line.probs.map((p) => p * Math.log(p))), 6);
      expect(line.timings.prepare).toBeGreaterThan(0);
      expect(line).not.toHaveProperty('views');
    }
    // The two images are different, so are their predictions.
    expect(lines[1].probs).not.toEqual(lines[2].probs);
    expect(stderr).toMatch(/^engine: execution provider cpu/m);
  });

  it('prints an aligned table on stdout and per-file errors on stderr', async () => {
    const { code, stdout, stderr } = await classify([...BASE, folder.images, folder.text]);
    expect(code).toBe(0);
    const rows = stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^PATH\s+LABEL\s+CONF$/);
    const labelColumn = rows[0].indexOf('LABEL');
    for (const row of rows.slice(1)) {
      expect(row.slice(labelColumn).split(/\s+/)[0]).toMatch(/^(cat|dog|bird)$/);
      expect(row).toMatch(/ 0\.\d{3}$|1\.000$/);
    }
    expect(stdout).not.toContain('corrupt');
    expect(stderr).toContain(`metatpt: ${folder.corrupt}: `);
    expect(stderr).toContain(`metatpt: ${folder.text}: `);
  });

  it('exits 1 when no image could be classified, listing each error as JSON', async () => {
    const { code, lines, stderr } = await classifyJson([...BASE, folder.text, folder.corrupt]);
    expect(code).toBe(1);
    expect(lines.map((l) => l.path)).toEqual([folder.text, folder.corrupt]);
    expect(lines.every((l) => typeof l.error === 'string' && !('label' in l))).toBe(true);
    expect(stderr).toMatch(/none of the images could be classified/);
  });
});

describe('metatpt classify, class files', () => {
  it('reads one class per line, skipping blank lines and # comments', async () => {
    const file = path.join(folder.root, 'classes.txt');
    await writeFile(file, '# animals\ncat\n\n  dog  \n# birds next\nbird\n');
    const fromFile = await classifyJson([...MODEL, '--classes-file', file, folder.shapes]);
    const inline = await classifyJson([...BASE, folder.shapes]);
    expect(fromFile.lines[0].classes).toEqual(CLASSES);
    expect(fromFile.lines[0].probs).toEqual(inline.lines[0].probs);
  });

  it('reads a CSV with a name column and per-class prompt overrides', async () => {
    const file = path.join(folder.root, 'classes.csv');
    await writeFile(file, 'name,prompt\ncat,a blurry photo of a cat.\ndog,\nbird,\n');
    const withPrompt = await classifyJson([...MODEL, '--classes-file', file, folder.shapes]);
    const plain = await classifyJson([...BASE, folder.shapes]);
    const [line] = withPrompt.lines;
    expect(line.classes).toEqual(CLASSES);
    // Only the cat prompt changed: the dog/bird ratio stays, the cat probability moves.
    expect(line.probs[0]).not.toBeCloseTo(plain.lines[0].probs[0], 6);
    expect(line.probs[1] / line.probs[2]).toBeCloseTo(plain.lines[0].probs[1] / plain.lines[0].probs[2], 4);
  });

  it('rejects duplicate, empty and malformed class files with the file named', async () => {
    const cases: [string, string, RegExp][] = [
      ['dup.txt', 'cat\ndog\nCat\n', /dup\.txt:3: duplicate class "Cat" \(first at .*dup\.txt:1\)/],
      ['empty.txt', '# nothing\n\n', /empty\.txt: no classes in the file/],
      ['noname.csv', 'title,prompt\ncat,x\n', /noname\.csv: the CSV has no "name" column/],
      ['blank.csv', 'name\ncat\n" "\n', /blank\.csv:3: empty class name/],
    ];
    for (const [name, content, message] of cases) {
      const file = path.join(folder.root, name);
      await writeFile(file, content);
      const { code, stderr } = await classify([...MODEL, '--classes-file', file, folder.shapes]);
      expect(code, name).toBe(1);
      expect(stderr, name).toMatch(message);
    }
  });
});

describe('metatpt classify, adapted', () => {
  const adaptedArgs = (method: string, ...extra: string[]) => [
    ...BASE,
    '--method',
    method,
    '--views',
    '8',
    ...extra,
    folder.shapes,
  ];

  it('--method tpt reports the 8 views, the selected one, losses and the nearest tokens', async () => {
    const { code, lines } = await classifyJson(adaptedArgs('tpt'));
    expect(code).toBe(0);
    const [line] = lines;
    expect(line).toMatchObject({ method: 'tpt', adapted: true });
    expect(line.views).toHaveLength(8);
    expect(line.views![0].theta).toEqual([1, 0, 0, 0, 1, 0]);
    expect(line.views!.every((v) => v.theta.length === 6 && Number.isFinite(v.entropy))).toBe(true);
    // TPT keeps int(0.1 · 8) = 0 → at least one view, the most confident one.
    const selected = line.views!.filter((v) => v.selected);
    expect(selected).toHaveLength(1);
    expect(selected[0].entropy).toBe(Math.min(...line.views!.map((v) => v.entropy)));
    expect(line.losses).toEqual({ inner: [], outer: [expect.any(Number)] });
    expect(line.nearestTokens).toHaveLength(4); // "a photo of a"
    expect(line.nearestTokens!.every((tokens) => tokens.length === 3)).toBe(true);
    expect(line.seed).toEqual(expect.any(Number));
    expect(sum(line.probs)).toBeCloseTo(1, 6);
    expect(line.probs).not.toEqual(line.zeroShotProbs);
  });

  it('--method metatpt --inner-steps 1 learns the views with one inner step', async () => {
    const { code, lines } = await classifyJson(adaptedArgs('metatpt', '--inner-steps', '1'));
    expect(code).toBe(0);
    const [line] = lines;
    expect(line).toMatchObject({ method: 'metatpt', adapted: true });
    expect(line.views).toHaveLength(8);
    expect(line.views!.filter((v) => v.selected).length).toBeGreaterThanOrEqual(1);
    expect(line.losses!.inner).toHaveLength(1);
    expect(line.losses!.outer).toHaveLength(1);
  });

  it('gives an image the same result alone or within its folder (the seed follows the path)', async () => {
    const alone = await classifyJson(adaptedArgs('tpt'));
    const inFolder = await classifyJson([
      ...BASE,
      ...['--method', 'tpt', '--views', '8', folder.images, folder.shapes],
    ]);
    // Named twice (in its folder and on its own), classified once.
    expect(inFolder.lines).toHaveLength(3);
    const [line] = alone.lines;
    const sameImage = inFolder.lines.find((l) => l.path === folder.shapes)!;
    expect(sameImage.seed).toBe(line.seed);
    expect(sameImage.views).toEqual(line.views);
    expect(sameImage.probs).toEqual(line.probs);
  });

  it('--views 1 adapts on the original alone, whatever the seed; more views depend on it', async () => {
    const run = (views: string, seed: string) =>
      classifyJson([...BASE, '--method', 'tpt', '--views', views, '--seed', seed, folder.shapes]);
    const [one0, one7, many0, many7] = await Promise.all([
      run('1', '0'),
      run('1', '7'),
      run('8', '0'),
      run('8', '7'),
    ]);
    expect(one0.lines[0].seed).not.toBe(one7.lines[0].seed);
    expect(one0.lines[0].probs).toEqual(one7.lines[0].probs);
    expect(one0.lines[0].views).toEqual(one7.lines[0].views);
    expect(many0.lines[0].views).not.toEqual(many7.lines[0].views);
  });

  it('--min-entropy above every entropy leaves the image zero-shot', async () => {
    const { lines } = await classifyJson(adaptedArgs('tpt', '--min-entropy', '100'));
    expect(lines[0]).toMatchObject({ method: 'tpt', adapted: false });
    expect(lines[0].probs).toEqual(lines[0].zeroShotProbs);
    expect(lines[0]).not.toHaveProperty('views');
  });

  it('shows the zero-shot label in the table only where adaptation changed it', async () => {
    const { code, stdout } = await classify([...BASE, '--method', 'tpt', '--views', '8', folder.images]);
    expect(code).toBe(0);
    const rows = stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^PATH\s+LABEL\s+CONF\s+ZERO-SHOT$/);
    const json = await classifyJson([...BASE, '--method', 'tpt', '--views', '8', folder.images]);
    for (const line of json.lines.filter((l) => !l.error)) {
      const row = rows.find((r) => r.startsWith(line.path))!;
      const cells = row.slice(line.path.length).trim().split(/\s+/);
      expect(cells).toEqual(
        line.zeroShotLabel === line.label
          ? [line.label, expect.any(String)]
          : [line.label, expect.any(String), line.zeroShotLabel],
      );
    }
  });

  it('--dump-views writes each view as PNG, the selected ones marked', async () => {
    const dumpDir = path.join(folder.root, 'views');
    const { code, lines } = await classifyJson([...adaptedArgs('tpt'), '--dump-views', dumpDir]);
    expect(code).toBe(0);
    const files = (await readdir(path.join(dumpDir, 'shapes'))).sort();
    const expected = lines[0].views!.map(
      (v, i) => `view-${String(i).padStart(2, '0')}${v.selected ? '-selected' : ''}.png`,
    );
    expect(files).toEqual(expected.sort());
    const read = (file: string) =>
      sharp(path.join(dumpDir, 'shapes', file))
        .raw()
        .toBuffer({ resolveWithObject: true });
    const first = await read(files[0]);
    expect([first.info.width, first.info.height]).toEqual([32, 32]);
    // View 0 is the centre crop of the orange picture with its blue circle: un-normalised, not grey.
    const pixel = (x: number, y: number) => [...first.data.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3)];
    expect(pixel(1, 1)[0]).toBeGreaterThan(150);
    expect(pixel(1, 1)[2]).toBeLessThan(100);
    expect(pixel(10, 16)[2]).toBeGreaterThan(150);
    // The warped views show the picture's own colours (edges blend two of them).
    const palette = [
      [0xcc, 0x88, 0x33],
      [0x11, 0x44, 0xcc],
      [0xee, 0xee, 0xee],
    ];
    for (const file of files.slice(1)) {
      const { data } = await read(file);
      let onPalette = 0;
      for (let i = 0; i < data.length; i += 3) {
        const near = palette.some((c) => c.every((value, k) => Math.abs(value - data[i + k]) <= 12));
        if (near) onPalette++;
      }
      expect(onPalette / (data.length / 3), file).toBeGreaterThan(0.7);
    }
  });

  it('--method tpt --augmix --views 16 --dump-views: the views AugMix rendered and the dumped ones share one graph', async () => {
    // Both render 15 warped views of one source; two graphs once shared a cache key here and crashed.
    const dumpDir = path.join(folder.root, 'augmix-views');
    const args = [...BASE, '--method', 'tpt', '--augmix', '--views', '16', '--dump-views', dumpDir];
    const { code, lines } = await classifyJson([...args, folder.shapes]);
    expect(code).toBe(0);
    expect(lines[0].views).toHaveLength(16);
    expect(await readdir(path.join(dumpDir, 'shapes'))).toHaveLength(16);
  });
});

describe('metatpt classify, the command line', () => {
  it('classifies with the embedded model when no --model is named', async () => {
    const { code, lines, stderr } = await classifyJson([
      ...['--device', 'cpu', '--classes', 'circle,square,triangle'],
      folder.shapes,
    ]);
    expect(stderr).not.toMatch(/model/);
    expect(code).toBe(0);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0].classes).toEqual(['circle', 'square', 'triangle']);
  });

  it('answers mistakes with a message, the usage and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [[...BASE, '--bogus', folder.shapes], /unknown option '--bogus'/],
      [[...MODEL, folder.shapes], /either --classes or --classes-file/],
      [[...BASE], /at least one image file or folder/],
      [
        [...BASE, '--method', 'fancy', folder.shapes],
        /option '--method <m>' argument 'fancy' is invalid. Allowed choices are zeroshot, tpt, metatpt/,
      ],
      [[...BASE, '--views', '0', folder.shapes], /--views "0": Too small: expected number to be >=1/],
      [
        [...BASE, '--lr', 'fast', folder.shapes],
        /option '--lr <x>' argument 'fast' is invalid. It must be a number./,
      ],
      [[...MODEL, '--classes', 'cat,,dog', folder.shapes], /--classes entry 2: empty/],
      [[...BASE, '--template', '{}', '--method', 'tpt', folder.shapes], /"\{\}" has none/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await classify(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr, args.join(' ')).toMatch(message);
      expect(stderr).toContain('Usage: metatpt classify');
      expect(stdout).toBe('');
    }
  });

  it('names the missing model file and exits 1', async () => {
    const { code, stderr } = await classify(['--model', folder.images, '--classes', 'a,b', folder.shapes]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/not a CLIP model folder: missing config\.json/);
    expect(stderr).not.toContain('Usage:');
  });

  it('notes options that do nothing for zero-shot', async () => {
    const { code, stderr } = await classify([...BASE, '--views', '8', '--inner-steps', '2', folder.shapes]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/note: --views, --inner-steps change nothing with --method zeroshot/);
  });

  it('stops after the image in flight when interrupted, exit 130', async () => {
    const controller = new AbortController();
    const io = captureIo({ interrupt: controller.signal });
    const stdout = io.stdout;
    io.stdout = (text) => {
      stdout(text);
      controller.abort();
    };
    const args = [...BASE, '--json', folder.shapes, folder.stripes];
    const { code, stdout: printed, stderr } = await classify(args, io);
    expect(code).toBe(130);
    expect(printed.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/interrupted after 1 of 2 images/);
  });

  it('shows progress on stderr with --progress, never on stdout', async () => {
    const { code, stdout, stderr } = await classifyJson([...BASE, '--progress', folder.images]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^\[1\/3\] .*corrupt\.png$/m);
    expect(stderr).toMatch(/^\[3\/3\] [\d.]+ img\/s ETA \d+s .*stripes\.png$/m);
    expect(stdout).not.toContain('[1/3]');
  });
});

describe('metatpt classify as a process', () => {
  const exec = promisify(execFile);
  const cli = (args: string[]) =>
    exec(process.execPath, [path.join(REPO_ROOT, 'bin', 'metatpt.mjs'), 'classify', ...args], {
      cwd: REPO_ROOT,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  it('writes only JSON lines to stdout and the engine line to stderr', async () => {
    const { code, stdout, stderr } = await cli([...BASE, '--json', folder.images, folder.text]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const parsed = lines.map((line) => JSON.parse(line) as ImageLine);
    expect(parsed.filter((l) => l.error).map((l) => l.path)).toEqual([folder.corrupt, folder.text]);
    expect(stderr).toMatch(/engine: execution provider cpu/);
  });

  it('exits 2 on a usage mistake and 1 when nothing could be classified', async () => {
    expect((await cli([...BASE, '--bogus', folder.shapes])).code).toBe(2);
    const failed = await cli([...BASE, folder.text]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^PATH/);
    expect(failed.stderr).toContain(`${folder.text}: `);
  });
});
