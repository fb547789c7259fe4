// The export and import commands, run in-process against a real store file.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands.js';
import { listFiles, makeTempDir, seedRun, type SeededRun } from '../backend/export/fixtures.js';

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

  it('exports only reviewed labels at or above a confidence when asked', async () => {
    const out = path.join(work, 'reviewed');
    const args = ['--db', dbFile, '--run', String(seeded.runId), '--format', 'csv', '--out', out];
    const { code, stdout } = await runCommand('export', [...args, '--include', 'reviewed']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/exported 2 images as csv/);
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
  it('imports an export back into a collection and reports what it did', async () => {
    const out = path.join(work, 'dataset');
    const exportArgs = [
      '--db',
      dbFile,
      '--run',
      String(seeded.runId),
      '--format',
      'hf-imagefolder',
      '--out',
      out,
    ];
    expect((await runCommand('export', exportArgs)).code).toBe(0);
    const importArgs = [
      '--db',
      dbFile,
      '--collection',
      String(seeded.collectionId),
      '--format',
      'export',
      '--json',
      out,
    ];
    const { code, stdout } = await runCommand('import', importArgs);
    expect(code).toBe(0);
    // img0 and img1 already carry the expert's labels; img3 and img4 get the exported predictions.
    expect(JSON.parse(stdout)).toMatchObject({ read: 4, applied: 2, alreadyLabeled: 2, unmatched: 0 });
  });

  it('imports a CSV by file name', async () => {
    const csv = path.join(work, 'labels.csv');
    await fs.writeFile(csv, 'filepath,class\nelsewhere/img5.png,bird\nmissing.png,cat\n');
    const args = [
      '--db',
      dbFile,
      '--collection',
      String(seeded.collectionId),
      '--format',
      'csv',
      '--class-set',
      'animals',
      csv,
    ];
    const { code, stdout } = await runCommand('import', args);
    expect(code).toBe(0);
    expect(stdout).toMatch(/read 2 labels .* applied 1, .* unmatched 1/);
  });
});
