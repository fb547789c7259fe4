// Scale-out end to end: a real redis-server, the workbench backend, and three `metatpt worker`
// processes; one worker is SIGKILLed mid-run. Every image must get exactly one result, equal to the
// local run's with the same seed, and the run must end done.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/app.js';
import type { Run } from '../../../src/backend/store/index.js';
import {
  call,
  makeWorkspace,
  nextEvent,
  startBackend,
  startCollectionRun,
  type Workspace,
} from '../app-fixtures.js';
import { startRedis, type TestRedis } from '../../../scripts/redis-server.js';

const ENTRY = fileURLToPath(new URL('../../../bin/metatpt.mjs', import.meta.url));
const IMAGES = 300;
const QUEUE = 'scale-out-test';
/** Fast TPT: few views, one step; the point is the plumbing, not the adaptation. */
const PARAMS = { views: 4, steps: 1, seed: 7 };

let workspace: Workspace;
let redis: TestRedis;

beforeAll(async () => {
  [workspace, redis] = await Promise.all([makeWorkspace(IMAGES), startRedis()]);
});
afterAll(async () => {
  await redis?.stop();
  workspace?.remove();
});

interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<unknown>;
  stderr: () => string;
}

function startWorker(): WorkerProcess {
  const child = spawn(
    process.execPath,
    [
      ENTRY,
      'worker',
      ...['--redis', redis.url, '--queue', QUEUE, '--device', 'cpu', '--stall-seconds', '5'],
      ...['--cache', workspace.dataDir],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, exited: once(child, 'exit'), stderr: () => stderr };
}

/** Runs TPT over the whole collection with the backend and waits until the run stops. */
async function tptRun(backend: Backend, onProgress?: (done: number) => void): Promise<Run> {
  const off = onProgress && backend.events.on('run.progress', (p) => onProgress(p.done));
  const run = await startCollectionRun(backend, 'tpt', PARAMS);
  await backend.executor.idle();
  off?.();
  return backend.store.runs.require(run.id);
}

function probabilitiesOf(backend: Backend, runId: number): Map<number, number[]> {
  const rows = backend.store.db
    .prepare<[number], { image_id: number }>('SELECT image_id FROM predictions WHERE run_id = ?')
    .all(runId);
  return new Map(
    rows.map(({ image_id }) => [
      image_id,
      Array.from(backend.store.results.prediction(runId, image_id)!.probs),
    ]),
  );
}

describe('scale-out through BullMQ', () => {
  it('records every image once, as a local run does, when a worker is killed mid-run', async () => {
    // The workers start (and wait for jobs) while the local run gives the reference probabilities.
    const workers = [startWorker(), startWorker(), startWorker()];
    const local = await startBackend(workspace);
    await call(local, 'collections.add', { folder: workspace.photos });
    const localRun = await tptRun(local);
    expect(localRun).toMatchObject({ status: 'done', done: IMAGES, failed: 0 });
    const expected = probabilitiesOf(local, localRun.id);
    await local.close();

    const backend = await startBackend(workspace, {
      scaleOut: { redisUrl: redis.url, queue: QUEUE, inFlight: 16 },
    });
    let killed = false;
    const progressWithWorkers = nextEvent(backend, 'run.progress', (p) => (p.workers?.length ?? 0) >= 2);
    const run = await tptRun(backend, (done) => {
      // A third of the way in, one worker dies without warning, an image in its hands.
      if (!killed && done >= IMAGES / 3) {
        killed = true;
        workers[0].child.kill('SIGKILL');
      }
    });
    expect(killed).toBe(true);
    const failures = backend.store.runs.items(run.id, { state: 'failed' });
    expect(run, JSON.stringify(failures)).toMatchObject({
      status: 'done',
      done: IMAGES,
      failed: 0,
    });

    const counts = backend.store.db
      .prepare<[number], { results: number; images: number }>(
        'SELECT COUNT(*) AS results, COUNT(DISTINCT image_id) AS images FROM predictions WHERE run_id = ?',
      )
      .get(run.id)!;
    expect(counts).toEqual({ results: IMAGES, images: IMAGES });
    const remote = probabilitiesOf(backend, run.id);
    for (const [imageId, probs] of expected) {
      const got = remote.get(imageId)!;
      probs.forEach((p, k) => expect(got[k]).toBeCloseTo(p, 6));
    }
    const { workers: seen, device } = await progressWithWorkers;
    expect(seen!.every((w) => w.device === 'cpu' && w.done > 0)).toBe(true);
    expect(device).toMatch(/workers?: cpu/);
    expect(backend.store.runs.require(run.id).device).toMatch(/cpu/);

    for (const worker of workers.slice(1)) worker.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await backend.close();
  }, 600_000);
});
