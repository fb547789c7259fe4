// The export and import commands, run in-process against a real store file.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands.js';
import { openStore } from '../../src/backend/store/index.js';
import { listFiles, makeTempDir, seedRun, writePng, type SeededRun } from '../backend/export/fixtures.js';

let work: string;
let seeded: SeededRun;
let dbFile: string;

beforeEach(async () => {
  work = await makeTempDir('cli');
  seeded = await seedRun(work);
  dbFile = seeded.store.path;
  // The commands open their own connection.
  seeded.store.close();
});

afterEach(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

/** Runs a command, returning its exit code and what it wrote. */
async function runCommand(command: 'export' | 'import', args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    stdout: (t: string) => void out.push(t),
    stderr: (t: string) => void err.push(t),
    stderrIsTTY: false,
  };
  const code = await runCli(commands, [command, ...args], io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('metatpt export', () => {
  it('exports a run with a seeded split and prints JSON', async () => {
    const out = path.join(work, 'dataset');
    const args = ['--db', dbFile, '--run', String(seeded.runId), '--format', 'yolo-cls', '--out', out];
    const { code, stdout } = await runCommand('export', [
      ...args,
      '--include',
      'predictions',
      '--split',
      '0.5,0.5',
      '--seed',
      '3',
      '--json',
    ]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { outDir: string; counts: Record<string, number> };
    expect(result.outDir).toBe(out);
    expect(result.counts).toMatchObject({ reviewed: 1, accepted: 1, predicted: 2 });
    const files = await listFiles(out);
    expect(files.filter((f) => f.endsWith('.png')).length).toBe(4);
    expect(files.some((f) => f.startsWith('val/'))).toBe(true);
  });

  it('exports only reviewed labels by default, as the app does', async () => {
    const out = path.join(work, 'reviewed');
    const args = ['--db', dbFile, '--run', String(seeded.runId), '--format', 'csv', '--out', out];
    const { code, stdout } = await runCommand('export', args);
    expect(code).toBe(0);
    expect(stdout).toMatch(/exported 2 images as csv/);
    expect(stdout).toMatch(/reviewed 1, accepted 1, imported 0, predicted 0/);
  });

  it('links Label Studio tasks to local files below --ls-root', async () => {
    const out = path.join(work, 'ls');
    const args = ['--db', dbFile, '--run', String(seeded.runId), '--format', 'labelstudio', '--out', out];
    expect((await runCommand('export', [...args, '--ls-root', work])).code).toBe(0);
    const tasks = JSON.parse(await fs.readFile(path.join(out, 'tasks.json'), 'utf8')) as {
      data: { image: string };
    }[];
    expect(tasks[0].data.image).toMatch(/^\/data\/local-files\/\?d=ls\/images\//);
  });

  it('answers a bad command line with the usage and exit code 2', async () => {
    const base = ['--db', dbFile, '--run', String(seeded.runId), '--out', path.join(work, 'x')];
    for (const [args, message] of [
      [[...base, '--format', 'zip'], /--format must be one of/],
      [[...base, '--format', 'csv', '--split', '0.8'], /--split takes two or three ratios/],
      [[...base, '--format', 'csv', '--bogus'], /unknown option '--bogus'/],
      [['--db', dbFile, '--format', 'csv', '--out', 'x'], /--run is required/],
    ] as const) {
      const { code, stderr } = await runCommand('export', [...args]);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(stderr).toMatch(/Usage: metatpt export/);
    }
  });

  it('refuses an export into the collection, which its next scan would double', async () => {
    const out = path.join(work, 'photos', 'dataset');
    const args = ['--db', dbFile, '--run', String(seeded.runId), '--format', 'csv', '--out', out];
    const { code, stderr } = await runCommand('export', args);
    expect(code).toBe(1);
    expect(stderr).toMatch(/dataset: inside collection 1 .*choose a folder outside it/);
    await expect(fs.stat(out)).rejects.toThrow();
  });

  it('fails with the reason when the target is not empty', async () => {
    const out = path.join(work, 'taken');
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, 'keep.txt'), 'mine');
    const args = ['--db', dbFile, '--run', String(seeded.runId), '--format', 'csv', '--out', out];
    const { code, stderr } = await runCommand('export', args);
    expect(code).toBe(1);
    expect(stderr).toMatch(/is not empty/);
  });
});

describe('metatpt import', () => {
  /** The command line that imports `source` in `format` into the seeded collection. */
  const importArgs = (source: string, format: string, ...options: string[]) => [
    '--db',
    dbFile,
    '--collection',
    String(seeded.collectionId),
    '--format',
    format,
    ...options,
    source,
  ];

  it('imports an export back into a collection and reports what it did', async () => {
    const out = path.join(work, 'dataset');
    const exportArgs = [
      '--db',
      dbFile,
      '--run',
      String(seeded.runId),
      '--format',
      'hf-imagefolder',
      '--include',
      'predictions',
      '--out',
      out,
    ];
    expect((await runCommand('export', exportArgs)).code).toBe(0);
    const { code, stdout } = await runCommand('import', importArgs(out, 'export', '--json'));
    expect(code).toBe(0);
    // Every exported label becomes an imported label, img0's and img1's too: the expert's decisions on
    // them are kept apart and left as they are.
    expect(JSON.parse(stdout)).toMatchObject({
      read: 4,
      applied: 4,
      replaced: 0,
      unchanged: 0,
      unmatched: 0,
    });
    // Importing again changes nothing (and is no failure).
    const again = await runCommand('import', importArgs(out, 'export', '--json'));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ read: 4, applied: 0, replaced: 0, unchanged: 4 });
    const store = openStore(dbFile);
    try {
      expect(store.labels.get(seeded.imageIds[0], seeded.classSetId)).toMatchObject({ source: 'human' });
      expect(store.labels.get(seeded.imageIds[3], seeded.classSetId)).toBeUndefined();
      expect(store.importedLabels.get(seeded.imageIds[3], seeded.classSetId)?.classOrdinal).toBe(0);
    } finally {
      store.close();
    }
  });

  it('imports a CSV by file name', async () => {
    const csv = path.join(work, 'labels.csv');
    await fs.writeFile(csv, 'filepath,class\nelsewhere/img5.png,bird\nmissing.png,cat\n');
    const { code, stdout } = await runCommand('import', importArgs(csv, 'csv', '--class-set', 'animals'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/read 2 labels .* imported 1 .* unmatched 1/);
  });

  it("finds a CSV's relative paths beside the CSV, else in the collection folder, and names what it could not", async () => {
    const gt = path.join(work, 'ground-truth');
    const photos = path.join(work, 'photos');
    // Written relative to the collection folder, not to the CSV; a/img1.png also exists beside the
    // CSV with other content, and b/gone.png exists nowhere.
    await writePng(path.join(gt, 'a', 'img1.png'), 9);
    const csv = path.join(gt, 'labels.csv');
    await fs.writeFile(
      csv,
      'filepath,label\na/img0.png,cat\na/img1.png,dog\nb/img3.png,bird\nb/gone.png,cat\n',
    );
    const { code, stdout } = await runCommand('import', importArgs(csv, 'csv', '--json'));
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { applied: number; unmatched: number; warnings: string[] };
    expect(result).toMatchObject({ applied: 3, unmatched: 1 });
    const hashing = result.warnings.filter((w) => w.startsWith(`${csv}: `));
    expect(hashing).toEqual([
      `${csv}: could not read 1 listed images to hash them: ` +
        JSON.stringify(
          `b/gone.png (not found: tried ${path.join(gt, 'b', 'gone.png')} and ${path.join(photos, 'b', 'gone.png')})`,
        ),
      `${csv}: 1 listed paths name different files beside it and in the collection folder; the ones beside ` +
        `it were used: ${JSON.stringify(`a/img1.png: used ${path.join(gt, 'a', 'img1.png')}, not ${path.join(photos, 'a', 'img1.png')}`)}`,
    ]);
  });
});
