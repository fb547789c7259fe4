// Run control through the queue, with a real redis-server and an in-process worker (the same code as
// `metatpt worker`): pause takes out the waiting jobs and lets the one in a worker finish (recorded),
// resume continues, cancel takes out the waiting jobs, and an image that fails on every try fails
// after a bounded number of attempts with its error.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../../scripts/redis-server.js';
import type { Backend } from '../../../src/backend/app.js';
import { ENGINE_WORKER_SCRIPT } from '../../../src/backend/engine-host/host.js';
import { redisClient } from '../../../src/backend/scale-out/redis.js';
import { startRemoteWorker, type RemoteWorker } from '../../../src/backend/scale-out/worker.js';
import { call, makeWorkspace, startBackend, startCollectionRun, type Workspace } from '../app-fixtures.js';

let workspace: Workspace;
let redis: TestRedis;
let backend: Backend;
let worker: RemoteWorker | null = null;
let queue: Queue;
let events: QueueEvents;
const connections: Redis[] = [];
const QUEUE = 'control-test';
const IMAGES = 8;

const startWorker = async () => {
  worker = await startRemoteWorker({
    redisUrl: redis.url,
    queue: QUEUE,
    provider: 'cpu',
    workerScript: ENGINE_WORKER_SCRIPT,
    cacheDir: join(workspace.dataDir, 'cache'),
  });
  return worker;
};

beforeAll(async () => {
  [workspace, redis] = await Promise.all([makeWorkspace(IMAGES), startRedis()]);
  backend = await startBackend(workspace, {
    scaleOut: { redisUrl: redis.url, queue: QUEUE, inFlight: 4, attempts: 2 },
  });
  await call(backend, 'collections.add', { folder: workspace.photos });
  connections.push(redisClient(redis.url, 'test'), redisClient(redis.url, 'test-events'));
  queue = new Queue(QUEUE, { connection: connections[0] });
  events = new QueueEvents(QUEUE, { connection: connections[1] });
  await events.waitUntilReady();
});
afterAll(async () => {
  await worker?.close();
  await backend?.close();
  await Promise.all([queue?.close(), events?.close()]);
  for (const connection of connections) connection.disconnect();
  await redis?.stop();
  workspace?.remove();
});

/** A TPT run over the collection; 16 views keep each image in a worker for a while. */
const startRun = async () => (await startCollectionRun(backend, 'tpt', { views: 16 })).id;

const jobCounts = () => queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
/** Jobs not finished, or failed and not yet read; completed jobs stay for a while (KEEP_COMPLETED). */
const jobsLeft = async () => Object.values(await jobCounts()).reduce((a, b) => a + b, 0);
const nextActive = () => new Promise<void>((resolve) => events.once('active', () => resolve()));

describe('run control through the queue', () => {
  it('pause takes the waiting jobs out; resume continues where it stopped', async () => {
    // No worker yet: the run's first jobs wait in the queue.
    const runId = await startRun();
    while ((await jobCounts()).waiting < 4) await new Promise((resolve) => setImmediate(resolve));
    await call(backend, 'runs.pause', { runId });
    expect(await call(backend, 'runs.get', { runId })).toMatchObject({ status: 'paused', done: 0 });
    expect(await jobsLeft()).toBe(0);

    await startWorker();
    await call(backend, 'runs.resume', { runId });
    await backend.executor.idle();
    expect(await call(backend, 'runs.get', { runId })).toMatchObject({ status: 'done', done: IMAGES });
    expect(await jobsLeft()).toBe(0);
  });

  it('pause lets the image in a worker finish and records it (the queue drains)', async () => {
    const active = nextActive();
    const runId = await startRun();
    await active;
    await call(backend, 'runs.pause', { runId });
    const paused = await call(backend, 'runs.get', { runId });
    expect(paused.status).toBe('paused');
    expect(paused.done).toBeGreaterThanOrEqual(1);
    expect(paused.done).toBeLessThan(IMAGES);
    expect(await jobsLeft()).toBe(0);
    const done = await call(backend, 'runs.items', { runId, state: 'done' });
    for (const item of done) expect(backend.store.results.prediction(runId, item.imageId)).toBeDefined();

    await call(backend, 'runs.resume', { runId });
    await backend.executor.idle();
    expect(await call(backend, 'runs.get', { runId })).toMatchObject({ status: 'done', done: IMAGES });
  });

  it('cancel takes the waiting jobs out of the queue', async () => {
    const active = nextActive();
    const runId = await startRun();
    await active;
    await call(backend, 'runs.cancel', { runId });
    const cancelled = await call(backend, 'runs.get', { runId });
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.done).toBeLessThan(IMAGES);
    expect(await jobsLeft()).toBe(0);
  });

  it('fails an image that fails on every try after the set attempts, with its error; the run goes on', async () => {
    // Indexed as a good image, then damaged: every worker that tries it fails to decode it.
    const [collection] = await call(backend, 'collections.list', {});
    const [victim] = backend.store.images.pageAfter(collection.id, 0, 1);
    writeFileSync(join(workspace.photos, victim.relPath), 'not an image');
    const failedBefore = worker!.counts.failed;
    const runId = await startRun();
    await backend.executor.idle();
    expect(await call(backend, 'runs.get', { runId })).toMatchObject({
      status: 'done',
      done: IMAGES - 1,
      failed: 1,
    });
    const [failed] = await call(backend, 'runs.items', { runId, state: 'failed' });
    expect(failed.imageId).toBe(victim.id);
    expect(failed.error).toMatch(/not an image|unsupported image format|Input buffer/i);
    expect(await jobsLeft()).toBe(0);
    expect(worker!.counts.failed - failedBefore).toBe(2); // attempts: 2
  });
});
