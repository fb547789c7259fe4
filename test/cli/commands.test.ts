// The headless commands as a user scripts them: real child processes of the `metatpt` entry point,
// JSON on stdout, on a generated folder and the golden tiny model.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/backend/store/index.js';
import { CLASS_NAMES, GOLDEN_MODEL_DIR, makeWorkspace, type Workspace } from '../backend/app-fixtures.js';

const ENTRY = fileURLToPath(new URL('../../bin/metatpt.mjs', import.meta.url));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; finished: Promise<Finished> } {
  const child = spawn(process.execPath, [ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const finished = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, finished };
}

const metatpt = (args: string[]) => start(args).finished;
const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

let workspace: Workspace;
let db: string;
let collectionId: number;
const classes = CLASS_NAMES.join(',');

beforeAll(async () => {
  workspace = await makeWorkspace(12);
  db = join(workspace.dataDir, 'headless.db');
  const indexed = await metatpt(['index', '--db', db, workspace.photos, '--json']);
  expect(indexed.code, indexed.stderr).toBe(0);
  const summary = JSON.parse(indexed.stdout) as Record<string, number>;
  expect(summary).toMatchObject({ collectionId: 1, added: 12, changed: 0, removed: 0, errors: 0 });
  collectionId = summary.collectionId;
});

afterAll(() => workspace?.remove());

describe('headless commands', () => {
  it('run executes a zero-shot run; status and predictions report it as JSON', async () => {
    const ran = await metatpt([
      'run',
      ...['--db', db, '--collection', String(collectionId), '--model', GOLDEN_MODEL_DIR],
      ...['--classes', classes, '--method', 'zeroshot', '--device', 'cpu', '--json'],
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout) as Record<string, unknown>;
    expect(result).toEqual({ runId: 1, status: 'done', total: 12, done: 12, failed: 0 });

    const status = await metatpt(['status', '--db', db, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const overview = JSON.parse(status.stdout) as { runs: Record<string, unknown>[] };
    expect(overview.runs).toEqual([
      expect.objectContaining({
        id: 1,
        method: 'zeroshot',
        status: 'done',
        total: 12,
        done: 12,
        device: 'cpu',
      }),
    ]);
    const detail = JSON.parse((await metatpt(['status', '--db', db, '--run', '1', '--json'])).stdout) as {
      run: Record<string, unknown>;
      failedItems: unknown[];
    };
    expect(detail.run).toMatchObject({ id: 1, status: 'done' });
    expect(detail.failedItems).toEqual([]);

    const printed = await metatpt(['predictions', '--db', db, '--run', '1', '--json']);
    expect(printed.code, printed.stderr).toBe(0);
    const lines = jsonLines(printed.stdout);
    expect(lines).toHaveLength(12);
    const root = realpathSync(workspace.photos);
    for (const line of lines) {
      expect(String(line.path).startsWith(root)).toBe(true);
      expect(CLASS_NAMES).toContain(line.label);
      const probs = line.probs as Record<string, number>;
      expect(Object.keys(probs)).toEqual(CLASS_NAMES);
      expect(Object.values(probs).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(line.label).toBe(Object.entries(probs).sort((a, b) => b[1] - a[1])[0][0]);
      expect(line.entropy).toBeGreaterThan(0);
      expect(line.adapted).toBe(false);
    }
    expect(new Set(lines.map((l) => l.path)).size).toBe(12);
  });

  it('run stops cleanly on SIGTERM and one of two --resume at once finishes it, no image lost or done twice', async () => {
    const { child, finished } = start([
      'run',
      ...['--db', db, '--collection', String(collectionId), '--model', GOLDEN_MODEL_DIR],
      ...['--classes', classes, '--method', 'metatpt', '--views', '16', '--device', 'cpu', '--json'],
    ]);
    // Wait (reading the store as another process would) until a few images are through.
    const store = openStore(db);
    try {
      const runId = 2;
      while (child.exitCode === null && (store.runs.get(runId)?.done ?? 0) < 2) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.kill('SIGTERM');
      const stopped = await finished;
      expect(stopped.code, stopped.stderr).toBe(130);
      const paused = JSON.parse(stopped.stdout) as { status: string; done: number; total: number };
      expect(paused.status).toBe('paused');
      expect(paused.done).toBeGreaterThanOrEqual(2);
      expect(paused.done).toBeLessThan(12);
      expect(store.runs.require(runId)).toMatchObject({ status: 'paused', method: 'metatpt' });

      // Two resumes at once (a script and a user): one executes it, the other leaves it to that one
      // (or, if it came too late, finds it done); neither reports a failure that did not happen.
      const resumeArgs = ['run', '--db', db, '--resume', String(runId), '--device', 'cpu', '--json'];
      const both = await Promise.all([metatpt(resumeArgs), metatpt(resumeArgs)]);
      const winner = both.find((r) => r.code === 0);
      const loser = both.find((r) => r !== winner);
      expect(winner, both.map((r) => r.stderr).join('\n')).toBeDefined();
      expect(JSON.parse(winner!.stdout)).toEqual({ runId, status: 'done', total: 12, done: 12, failed: 0 });
      expect(loser!.code).toBe(1);
      expect(loser!.stderr).toMatch(/is being executed by process \d+|run 2 is done/);
      expect(store.runs.require(runId)).toMatchObject({ status: 'done', failed: 0, error: null });
      const items = store.runs.items(runId, { limit: 100 });
      expect(items.map((item) => item.state)).toEqual(Array(12).fill('done'));
      // An image abandoned at the pause is started again, but only one result per image is stored.
      const lines = jsonLines(
        (await metatpt(['predictions', '--db', db, '--run', String(runId), '--json'])).stdout,
      );
      expect(lines).toHaveLength(12);
      expect(lines.every((line) => line.adapted === true)).toBe(true);
    } finally {
      store.close();
    }
  });

  it('refuses to resume a finished run and explains bad options with the usage', async () => {
    const finishedRun = await metatpt(['run', '--db', db, '--resume', '1']);
    expect(finishedRun.code).toBe(1);
    expect(finishedRun.stderr).toMatch(
      /run 1 is done; only queued, paused, interrupted or failed runs with images left can be started/,
    );
    const badViews = await metatpt([
      'run',
      ...['--db', db, '--collection', '1', '--model', GOLDEN_MODEL_DIR, '--classes', classes],
      ...['--method', 'tpt', '--views', '0'],
    ]);
    expect(badViews.code).toBe(2);
    expect(badViews.stderr).toMatch(/--views "0"/);
    expect(badViews.stderr).toMatch(/Usage: metatpt run/);
    // A run over a collection that does not exist writes nothing: no class set of its classes.
    const before = openStore(db);
    const classSetCount = before.classSets.list().length;
    before.close();
    const noCollection = await metatpt(['run', '--db', db, '--collection', '99', '--classes', 'x,y,z']);
    expect(noCollection.code).toBe(1);
    expect(noCollection.stderr).toMatch(/collection 99 does not exist/);
    const after = openStore(db);
    expect(after.classSets.list()).toHaveLength(classSetCount);
    after.close();
  });

  it('learn stores a CoOp prompt from the labels; run and classify use it', async () => {
    const store = openStore(db);
    const classSet = store.classSets.list()[0];
    const images = store.images.pageAfter(collectionId, 0, 100);
    store.labels.apply(
      { collectionId, classSetId: classSet.id },
      'assign',
      images.map((image, i) => ({
        imageId: image.id,
        after: {
          decision: 'label',
          classOrdinal: i % 4,
          rejectedOrdinal: null,
          source: 'human',
          runId: null,
        },
      })),
    );
    store.close();
    const learned = await metatpt([
      'learn',
      ...['--db', db, '--class-set', classSet.name, '--model', GOLDEN_MODEL_DIR, '--device', 'cpu'],
      ...['--epochs', '3', '--json'],
    ]);
    expect(learned.code, learned.stderr).toBe(0);
    const prompt = JSON.parse(learned.stdout) as { id: number; labelCount: number; method: string };
    expect(prompt).toMatchObject({ method: 'coop', labelCount: 12 });

    const ran = await metatpt([
      'run',
      ...['--db', db, '--collection', String(collectionId), '--model', GOLDEN_MODEL_DIR],
      ...['--classes', classes, '--method', 'coop', '--device', 'cpu', '--json'],
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ status: 'done', total: 12, done: 12 });

    const classified = await metatpt([
      'classify',
      ...['--db', db, '--model', GOLDEN_MODEL_DIR, '--classes', classes, '--device', 'cpu'],
      ...['--method', 'coop', '--learned-prompt', String(prompt.id), '--json', workspace.photos],
    ]);
    expect(classified.code, classified.stderr).toBe(0);
    const lines = jsonLines(classified.stdout);
    expect(lines).toHaveLength(12);
    expect(lines[0]).toMatchObject({ method: 'coop', adapted: true });

    const missing = await metatpt([
      'classify',
      '--model',
      GOLDEN_MODEL_DIR,
      '--classes',
      classes,
      '--method',
      'coop',
      workspace.photos,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/give --learned-prompt ID/);
  });

  it('two runs started together with new classes create one class set between them, and both finish', async () => {
    // The probe's race (issue 17): 1 of 6 such pairs failed with "exists already".
    const newClasses = CLASS_NAMES.slice(0, 3).reverse();
    const args = [
      'run',
      ...['--db', db, '--collection', String(collectionId), '--model', GOLDEN_MODEL_DIR],
      ...['--classes', newClasses.join(','), '--device', 'cpu', '--json'],
    ];
    for (let trial = 0; trial < 3; trial++) {
      const both = await Promise.all([metatpt(args), metatpt(args)]);
      for (const run of both) expect(run.code, run.stderr).toBe(0);
    }
    const store = openStore(db);
    try {
      const sets = store.classSets
        .list()
        .filter((set) => set.classes.map((c) => c.name).join() === newClasses.join());
      expect(sets).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});
