import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RunExecutor } from '../../../src/backend/jobs/executor.js';
import type { ImageProcessor, RunSpec } from '../../../src/backend/jobs/types.js';
import type { Store } from '../../../src/backend/store/index.js';
import { createCollectionRun, runOnDisk, seedCollection, tempStore } from '../helpers.js';
import { fakeResult, namedPath } from '../fake-results.js';
import type { RunProgress } from '../../../src/shared/domain/runs.js';

/** A processor that takes `delayMs` per image, fails on the images named in `failOn`, and counts calls. */
function testProcessor(
  options: { delayMs?: number; failOn?: Set<string>; onCall?: (name: string) => void } = {},
) {
  const calls: string[] = [];
  const opened: RunSpec[] = [];
  let closed = 0;
  const open = async (spec: RunSpec): Promise<ImageProcessor> => {
    opened.push(spec);
    return {
      device: 'test-cpu',
      close: async () => void closed++,
      async processImage({ path }, _params, signal) {
        const name = basename(path);
        calls.push(name);
        options.onCall?.(name);
        await sleep(options.delayMs ?? 1, undefined, { signal });
        if (options.failOn?.has(name)) throw new Error(`cannot decode ${name}`);
        return fakeResult(calls.length, 3);
      },
    };
  };
  return { open, calls, opened, closedCount: () => closed };
}

function collectionRun(store: Store, count: number) {
  const seeded = seedCollection(store, count);
  const run = createCollectionRun(store, seeded, 'tpt', { steps: 1 });
  return { ...seeded, run };
}

/** The fields to create another run like runId. */
function specOf(store: Store, runId: number) {
  const { collectionId, classSetId, modelId, method, params } = store.runs.require(runId);
  return { collectionId, classSetId, modelId, method, params };
}

const nameOf = (i: number) => `img-${String(i).padStart(6, '0')}.png`;

describe('RunExecutor', () => {
  it('processes every image once, stores each result and reports progress', async () => {
    const store = tempStore();
    const { run, imageIds } = collectionRun(store, 12);
    const processor = testProcessor();
    const events: RunProgress[] = [];
    const executor = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: processor.open,
      concurrency: 3,
      progressIntervalMs: 0,
      onProgress: (p) => events.push(p),
    });
    executor.enqueue(run.id);
    await executor.idle();

    expect(store.runs.require(run.id)).toMatchObject({
      status: 'done',
      done: 12,
      failed: 0,
      device: 'test-cpu',
    });
    expect([...processor.calls].sort()).toEqual(imageIds.map((_, i) => nameOf(i)));
    expect(store.results.prediction(run.id, imageIds[5])!.adapted).toBe(true);
    expect(store.results.views(run.id, imageIds[5])).toHaveLength(3);
    expect(processor.opened[0].classSet.classes.map((c) => c.name)).toEqual(['cat', 'dog', 'bird']);
    expect(processor.opened[0].settings).toMatchObject({ method: 'tpt', steps: 1, views: 64 });
    expect(processor.closedCount()).toBe(1);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ status: 'done', done: 12, total: 12, etaSeconds: 0, device: 'test-cpu' });
    expect(events.some((e) => e.rate > 0 && e.currentImage !== null)).toBe(true);
  });

  it('records per-image failures and goes on', async () => {
    const store = tempStore();
    const { run, imageIds } = collectionRun(store, 6);
    const processor = testProcessor({ failOn: new Set([nameOf(1), nameOf(4)]) });
    const executor = new RunExecutor({ resolveImage: namedPath, store, openProcessor: processor.open });
    executor.enqueue(run.id);
    await executor.idle();
    expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 4, failed: 2 });
    const failed = store.runs.items(run.id, { state: 'failed' });
    expect(failed.map((item) => [item.imageId, item.error])).toEqual([
      [imageIds[1], `cannot decode ${nameOf(1)}`],
      [imageIds[4], `cannot decode ${nameOf(4)}`],
    ]);

    expect(store.runs.retryFailed(run.id)).toBe(2);
    const retry = new RunExecutor({ resolveImage: namedPath, store, openProcessor: testProcessor().open });
    store.runs.setStatus(run.id, 'queued');
    retry.enqueue(run.id);
    await retry.idle();
    expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 6, failed: 0 });
  });

  it('stops a run as failed after too many failures in a row', async () => {
    const store = tempStore();
    const { run } = collectionRun(store, 10);
    const everything = new Set(Array.from({ length: 10 }, (_, i) => nameOf(i)));
    const executor = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: testProcessor({ failOn: everything }).open,
      maxConsecutiveFailures: 3,
    });
    executor.enqueue(run.id);
    await executor.idle();
    const stopped = store.runs.require(run.id);
    expect(stopped).toMatchObject({ status: 'failed', failed: 3, done: 0 });
    expect(stopped.error).toMatch(/3 failures in a row; the last: cannot decode/);
    expect(store.runs.items(run.id, { state: 'pending' })).toHaveLength(7);
  });

  it('fails a run whose stored settings are invalid, naming them, before any image', async () => {
    const store = tempStore();
    const seeded = seedCollection(store, 2);
    const run = createCollectionRun(store, seeded, 'tpt', { views: 0, bogus: 1 });
    const processor = testProcessor();
    const executor = new RunExecutor({ resolveImage: namedPath, store, openProcessor: processor.open });
    executor.enqueue(run.id);
    await executor.idle();
    expect(store.runs.require(run.id).status).toBe('failed');
    expect(store.runs.require(run.id).error).toMatch(
      /invalid adaptation settings: views: .*; params: .*"bogus"/,
    );
    expect(processor.opened).toEqual([]);
  });

  it('fails a run whose processor cannot start', async () => {
    const store = tempStore();
    const { run } = collectionRun(store, 2);
    const executor = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: async () => {
        throw new Error('model.safetensors is missing');
      },
    });
    executor.enqueue(run.id);
    await executor.idle();
    expect(store.runs.require(run.id)).toMatchObject({
      status: 'failed',
      error: 'run stopped: model.safetensors is missing',
    });
  });

  it('pauses without losing the image in flight, resumes, and cancels', async () => {
    const store = tempStore();
    const { run, imageIds } = collectionRun(store, 8);
    let pausing: Promise<void> | null = null;
    const processor = testProcessor({
      delayMs: 20,
      onCall: (name) => {
        if (name === nameOf(3)) pausing ??= executor.pause(run.id);
      },
    });
    const executor = new RunExecutor({ resolveImage: namedPath, store, openProcessor: processor.open });
    executor.enqueue(run.id);
    await executor.idle();
    await pausing;
    expect(store.runs.require(run.id)).toMatchObject({ status: 'paused', done: 3 });
    expect(store.runs.items(run.id, { state: 'pending' })[0].imageId).toBe(imageIds[3]);

    executor.resume(run.id);
    await executor.idle();
    expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 8 });
    expect(processor.calls.filter((name) => name === nameOf(3))).toHaveLength(2);

    const again = store.runs.create({ ...specOf(store, run.id), scope: { kind: 'collection' } });
    let cancelling: Promise<void> | null = null;
    const cancelled = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: testProcessor({
        delayMs: 20,
        onCall: (name) => {
          if (name === nameOf(2)) cancelling ??= cancelled.cancel(again.id);
        },
      }).open,
    });
    cancelled.enqueue(again.id);
    await cancelled.idle();
    await cancelling;
    expect(store.runs.require(again.id)).toMatchObject({ status: 'cancelled', done: 2 });
    expect(store.runs.items(again.id, { state: 'pending' })).toHaveLength(6);
    expect(() => cancelled.enqueue(again.id)).toThrow(/is cancelled/);
  });

  it('executes queued runs one after another', async () => {
    const store = tempStore();
    const { run, imageIds } = collectionRun(store, 3);
    const other = store.runs.create({
      ...specOf(store, run.id),
      method: 'zeroshot',
      scope: { kind: 'images', imageIds: [imageIds[2]] },
    });
    const order: number[] = [];
    const executor = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: async (spec) => {
        order.push(spec.runId);
        return testProcessor().open(spec);
      },
    });
    executor.enqueue(run.id);
    executor.enqueue(other.id);
    expect(store.runs.require(other.id).status).toBe('queued');
    await executor.idle();
    expect(order).toEqual([run.id, other.id]);
    expect(store.runs.require(other.id)).toMatchObject({ status: 'done', done: 1, total: 1 });
  });

  it('resumes runs left running and fails an image whose attempts never finished', async () => {
    const store = tempStore();
    const { run, imageIds } = collectionRun(store, 4);
    store.results.recordResult(run.id, imageIds[0], fakeResult(0));
    store.runs.setStatus(run.id, 'running'); // as a process that died would leave it
    for (let i = 0; i < 3; i++) store.runs.beginAttempt(run.id, imageIds[1]); // it killed the process 3 times
    const processor = testProcessor();
    const executor = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: processor.open,
      maxAttempts: 3,
    });
    expect(executor.resumeInterruptedRuns()).toEqual([run.id]);
    await executor.idle();
    expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 3, failed: 1 });
    expect(processor.calls).toEqual([nameOf(2), nameOf(3)]);
    expect(store.runs.items(run.id, { state: 'failed' })[0].error).toMatch(/gave up after 3 attempts/);
  });
});

describe('across processes', () => {
  const childScript = fileURLToPath(new URL('./workers/run-child.ts', import.meta.url));

  /** Runs the child executor on dbPath; resolves with its exit code or signal. */
  function runChild(dbPath: string, logPath: string, delayMs: number, onStart?: (kill: () => void) => void) {
    // node --import tsx rather than `npx tsx`: tsx's CLI runs the script in a grandchild process, which
    // a SIGKILL of the spawned process would leave running.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', childScript, dbPath, logPath, String(delayMs)],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    onStart?.(() => child.kill('SIGKILL'));
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  it('survives SIGKILL mid-run: after a restart no image is lost and none is stored twice', async () => {
    const { store, dbPath, logPath, run } = runOnDisk(60);
    const first = await runChild(dbPath, logPath, 15, (kill) => {
      const watch = async () => {
        while (store.runs.require(run.id).done < 15) await sleep(5);
        kill();
      };
      void watch();
    });
    expect(first.signal).toBe('SIGKILL');
    const interrupted = store.runs.require(run.id);
    expect(interrupted.status).toBe('running');
    expect(interrupted.done).toBeGreaterThanOrEqual(15);
    expect(interrupted.done).toBeLessThan(60);

    const second = await runChild(dbPath, logPath, 1);
    expect(second.code).toBe(0);
    expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 60, failed: 0 });
    const stored = store.db.prepare('SELECT COUNT(*) FROM predictions WHERE run_id = ?').pluck().get(run.id);
    expect(stored).toBe(60);

    // Only images in flight at the kill (at most the child's 2 lanes) were processed twice.
    const processed = readFileSync(logPath, 'utf8').trim().split('\n');
    const counts = new Map<string, number>();
    for (const name of processed) counts.set(name, (counts.get(name) ?? 0) + 1);
    expect(counts.size).toBe(60);
    const repeated = [...counts.values()].filter((n) => n > 1);
    expect(repeated.length).toBeLessThanOrEqual(2);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    store.close();
  });

  it('lets the expert review on a second connection while another process writes results', async () => {
    const { store, dbPath, logPath, run, imageIds, collection, classSet } = runOnDisk(40);
    let reviewed = 0;
    const running = runChild(dbPath, logPath, 5);
    const scope = { collectionId: collection.id, classSetId: classSet.id };
    while (store.runs.require(run.id).status !== 'done' || reviewed < imageIds.length) {
      if (reviewed < imageIds.length) {
        const after = {
          decision: 'label' as const,
          classOrdinal: reviewed % 3,
          rejectedOrdinal: null,
          source: 'human' as const,
          runId: null,
        };
        store.labels.apply(scope, 'set', [{ imageId: imageIds[reviewed], after }]);
        reviewed++;
      }
      await sleep(2);
    }
    expect((await running).code).toBe(0);
    expect(store.runs.require(run.id)).toMatchObject({ done: 40 });
    expect(
      store.grid.query({ collectionId: collection.id, runId: run.id, reviewState: 'labeled' }).total,
    ).toBe(40);
    store.close();
  });
});
