// The workbench reads each job's outcome from the queue while workers finish jobs at the same moment:
// a real redis-server and a BullMQ worker that answers at once, so jobs complete while the workbench
// is still reading them. Every image must get its own result (a job read while active has no return
// value yet, even when its state a moment later is completed). A job an earlier session left
// finished in the queue is read, not run again.
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../../scripts/redis-server.js';
import type { RunSpec } from '../../../src/backend/jobs/types.js';
import {
  createQueueProcessors,
  type QueueProcessors,
} from '../../../src/backend/scale-out/queue-processors.js';
import { redisClient } from '../../../src/backend/scale-out/redis.js';
import { encodeResult, type EncodedImageJob } from '../../../src/backend/scale-out/wire.js';
import { parseAdaptSettings } from '../../../src/shared/domain/adaptation.js';
import { fakeResult } from '../fake-results.js';

const QUEUE = 'outcome-test';
const IMAGES = 1000;
const identity = { id: 'test:1', host: 'test', device: 'cpu' };

let redis: TestRedis;
let processors: QueueProcessors;
let worker: Worker<EncodedImageJob>;
let connection: Redis;
/** Jobs the worker has run. */
let runs = 0;

beforeAll(async () => {
  redis = await startRedis();
  // No sweep: every outcome must come from the events (completed, or duplicated for a job that exists).
  processors = await createQueueProcessors({
    redisUrl: redis.url,
    queue: QUEUE,
    inFlight: 32,
    sweepMs: 3_600_000,
  });
  connection = redisClient(redis.url, 'test-worker');
  // The result is the image id's fake result: a mix-up between jobs shows.
  worker = new Worker<EncodedImageJob>(
    QUEUE,
    async (job) => {
      runs++;
      return encodeResult(fakeResult(job.data.image.imageId), identity);
    },
    { connection, concurrency: 16 },
  );
  await worker.waitUntilReady();
});
afterAll(async () => {
  await worker?.close();
  connection?.disconnect();
  await processors?.close();
  await redis?.stop();
});

const settings = parseAdaptSettings({ method: 'zeroshot' });
const signal = new AbortController().signal;
const task = (imageId: number) => ({
  imageId,
  path: `/photos/${imageId}.png`,
  seedKey: `/photos/${imageId}.png`,
  contentHash: null,
});

describe('reading job outcomes', () => {
  it('returns each image its own result while workers complete jobs during the reads', async () => {
    const spec: RunSpec = {
      runId: 1,
      settings,
      model: { id: 1, name: 'tiny', dir: '/models/tiny' },
      classSet: {
        id: 1,
        name: 'abc',
        template: '{}',
        contextInit: 'a photo of a',
        classes: [{ name: 'a', prompt: null }],
      },
    };
    const processor = await processors.open(spec);
    const ids = Array.from({ length: IMAGES }, (_, i) => i + 1);
    const lanes = Array.from({ length: processor.concurrency! }, async (_, lane) => {
      let done = 0;
      for (let k = lane; k < ids.length; k += processor.concurrency!) {
        const imageId = ids[k];
        const result = await processor.processImage(task(imageId), settings, signal);
        expect(Array.from(result.probs)).toEqual(Array.from(fakeResult(imageId).probs));
        done++;
      }
      return done;
    });
    expect((await Promise.all(lanes)).reduce((a, b) => a + b)).toBe(IMAGES);
    expect(processor.workers!()).toEqual([expect.objectContaining({ ...identity, done: IMAGES })]);
    expect(runs).toBe(IMAGES);

    // A workbench that restarts adds the jobs of the images it has not recorded again: those that
    // finished meanwhile are read from the queue (it keeps the last 1000 completed), not run again.
    const restarted = await processors.open(spec);
    for (const imageId of [IMAGES, IMAGES - 1]) {
      const result = await restarted.processImage(task(imageId), settings, signal);
      expect(Array.from(result.probs)).toEqual(Array.from(fakeResult(imageId).probs));
    }
    expect(runs).toBe(IMAGES);
  });
});
