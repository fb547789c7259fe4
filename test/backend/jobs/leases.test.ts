// One owner per run, across processes sharing a database (the desktop app, `serve` and the CLI):
// a run whose owner is alive is never taken over, a stale one is, and a run left `failed` with
// pending items can be resumed. The child processes are test/backend/jobs/workers/run-child.ts: an
// executor with a slow test processor that takes what resumeInterruptedRuns() gives it.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RunExecutor } from '../../../src/backend/jobs/executor.js';
import { RunOwnedError } from '../../../src/backend/jobs/leases.js';
import type { ImageProcessor } from '../../../src/backend/jobs/types.js';
import type { Store } from '../../../src/backend/store/index.js';
import { fakeResult, namedPath } from '../fake-results.js';
import { createCollectionRun, runOnDisk, seedCollection, tempStore } from '../helpers.js';

const childScript = fileURLToPath(new URL('./workers/run-child.ts', import.meta.url));

interface ChildOutcome {
  code: number | null;
  took: number[];
}

/** Starts a child executor on dbPath; resolves when it exits, with the runs it took. */
function runChild(dbPath: string, logPath: string, delayMs: number, gate = ''): Promise<ChildOutcome> {
  const args = ['--import', 'tsx', childScript, dbPath, logPath, String(delayMs), gate];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, took: (JSON.parse(stdout) as { took: number[] }).took }));
  });
}

/** How often each image was processed, from the children's log. */
function processedCounts(logPath: string): number[] {
  const counts = new Map<string, number>();
  for (const name of readFileSync(logPath, 'utf8').trim().split('\n'))
    counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts.values()];
}

const storedPredictions = (store: Store, runId: number) =>
  store.db.prepare('SELECT COUNT(*) FROM predictions WHERE run_id = ?').pluck().get(runId);

/** A processor that takes `delayMs` per image and records the images it saw. */
function slowProcessor(delayMs: number, seen: string[] = []) {
  return async (): Promise<ImageProcessor> => ({
    device: 'test-cpu',
    close: async () => {},
    async processImage({ path }, _params, signal) {
      seen.push(basename(path));
      await sleep(delayMs, undefined, { signal });
      return fakeResult(seen.length, 3);
    },
  });
}

describe('run leases', () => {
  it('never takes over a run whose owner is alive, and says who owns it', async () => {
    const { store, dbPath, logPath, run } = runOnDisk(40);
    const gate = join(dirname(dbPath), 'hold');
    const owner = runChild(dbPath, logPath, 5, gate);
    while (store.runs.require(run.id).done < 3) await sleep(5);
    writeFileSync(gate, ''); // the owner holds the run in progress until the gate is removed

    // What opening the app or `serve` on the database does at start, in this process and in another.
    const seen: string[] = [];
    const bystander = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: slowProcessor(1, seen),
    });
    expect(bystander.resumeInterruptedRuns()).toEqual([]);
    expect(() => bystander.enqueue(run.id)).toThrow(RunOwnedError);
    expect(() => bystander.enqueue(run.id)).toThrow(
      new RegExp(`run ${run.id} is being executed by process \\d+ on ${hostname()}`),
    );
    const other = await runChild(dbPath, logPath, 1);
    expect(other).toEqual({ code: 0, took: [] });
    expect(store.runs.require(run.id).status).toBe('running');

    rmSync(gate);
    expect(await owner).toEqual({ code: 0, took: [run.id] });
    await bystander.idle();
    expect(seen).toEqual([]);
    expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 40, failed: 0 });
    expect(storedPredictions(store, run.id)).toBe(40);
    expect(processedCounts(logPath)).toEqual(Array(40).fill(1));
    store.close();
  });

  it('two resumes at once: one executes, each image exactly once, and no false failure', async () => {
    for (let trial = 0; trial < 3; trial++) {
      const { store, dbPath, logPath, run } = runOnDisk(30);
      store.runs.setStatus(run.id, 'queued');
      const outcomes = await Promise.all([runChild(dbPath, logPath, 2), runChild(dbPath, logPath, 2)]);
      expect(outcomes.map((o) => o.code)).toEqual([0, 0]);
      expect(outcomes.map((o) => o.took.length).sort()).toEqual([0, 1]);
      expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 30, failed: 0, error: null });
      expect(processedCounts(logPath)).toEqual(Array(30).fill(1));
      expect(store.runs.lease(run.id)).toBeNull();
      store.close();
    }
  });

  it('takes over a stale lease: a heartbeat too old, or an owner process on this host that is gone', async () => {
    const store = tempStore();
    const seeded = seedCollection(store, 4);
    const run = createCollectionRun(store, seeded, 'zeroshot', {});
    store.runs.setStatus(run.id, 'running');
    const now = Date.now();
    const foreign = { instance: 'elsewhere', host: 'gpu-box', pid: 4242 };
    const refuse = () => false;
    expect(store.runs.takeLease(run.id, foreign, now, refuse)).toBeNull();

    const executor = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: slowProcessor(1),
      leaseStaleMs: 60_000,
    });
    expect(() => executor.enqueue(run.id)).toThrow(/process 4242 on gpu-box/);
    store.db.prepare('UPDATE runs SET lease_heartbeat = ? WHERE id = ?').run(now - 61_000, run.id);
    executor.enqueue(run.id);
    await executor.idle();
    expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 4 });

    const second = createCollectionRun(store, seeded, 'zeroshot', {});
    // This host, a fresh heartbeat, but no such process (pids are below 2^22 on Linux).
    store.runs.takeLease(
      second.id,
      { instance: 'dead', host: hostname(), pid: 2 ** 22 + 1 },
      Date.now(),
      refuse,
    );
    expect(executor.resumeInterruptedRuns()).toEqual([second.id]);
    await executor.idle();
    expect(store.runs.require(second.id)).toMatchObject({ status: 'done', done: 4 });
  });

  it('a run stopped by a full disk blames no image and resumes once there is room', async () => {
    const store = tempStore();
    const seeded = seedCollection(store, 300);
    const run = createCollectionRun(store, seeded, 'tpt', { steps: 1 });
    const seen: string[] = [];
    const executor = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: slowProcessor(2, seen),
      concurrency: 2,
    });
    executor.enqueue(run.id);
    while (store.runs.require(run.id).done < 3) await sleep(2);
    // The database may not grow any more: SQLite answers SQLITE_FULL, as on a full disk.
    const pages = store.db.pragma('page_count', { simple: true }) as number;
    store.db.pragma(`max_page_count = ${pages}`);
    await executor.idle();
    const stopped = store.runs.require(run.id);
    expect(stopped).toMatchObject({ status: 'failed', failed: 0 });
    expect(stopped.error).toMatch(/run stopped: database or disk is full/);
    expect(stopped.done).toBeLessThan(300);
    expect(store.runs.items(run.id, { state: 'failed' })).toEqual([]);

    store.db.pragma('max_page_count = 1073741823');
    executor.resume(run.id);
    await executor.idle();
    expect(store.runs.require(run.id)).toMatchObject({ status: 'done', done: 300, failed: 0, error: null });
    expect(storedPredictions(store, run.id)).toBe(300);
    // A failed run with nothing left to do is final.
    store.runs.setStatus(run.id, 'failed', { error: 'x' });
    expect(() => executor.resume(run.id)).toThrow(/run \d+ is failed; only queued, paused/);
  });

  it('stops without writing when its lease was taken over, and obeys a pause from another process', async () => {
    const store = tempStore();
    const seeded = seedCollection(store, 200);
    const run = createCollectionRun(store, seeded, 'zeroshot', {});
    const executor = new RunExecutor({
      resolveImage: namedPath,
      store,
      openProcessor: slowProcessor(5),
      heartbeatMs: 20,
    });
    executor.enqueue(run.id);
    while (store.runs.require(run.id).done < 3) await sleep(5);
    // Another process pauses it (as the app's window would): the owner stops at its next heartbeat.
    store.runs.setStatus(run.id, 'paused');
    await executor.idle();
    const paused = store.runs.require(run.id);
    expect(paused.status).toBe('paused');
    expect(paused.done).toBeLessThan(200);

    executor.resume(run.id);
    while (store.runs.require(run.id).done < paused.done + 3) await sleep(5);
    // Taken over while stalled (as after a suspend): the old owner writes nothing more.
    store.runs.takeLease(run.id, { instance: 'thief', host: 'gpu-box', pid: 1 }, Date.now(), () => true);
    await executor.idle();
    const after = store.runs.require(run.id);
    expect(after.status).toBe('running');
    await sleep(50);
    expect(store.runs.require(run.id).done).toBe(after.done);
    expect(store.runs.lease(run.id)?.instance).toBe('thief');
  });
});
