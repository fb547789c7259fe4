// The worker side of scale-out (`metatpt worker`): takes image jobs from the BullMQ queue and runs
// them through the same run processors as the workbench's local runs (the engine in worker processes,
// one host per model and class set, kept between jobs), then returns the result as the job's value.
// It only connects out (to Redis, and to the workbench where it downloads files); it opens no port.
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { describeIssues } from '../../shared/domain/issues.js';
import type { ExecutionProvider } from '../../engine/runtime.js';
import { startEngineHost } from '../engine-host/host.js';
import { createRunProcessors } from '../run-processors.js';
import { DEFAULT_QUEUE } from '../../shared/domain/scale-out.js';
import { redisClient } from './redis.js';
import {
  encodeResult,
  imageJobDataSchema,
  WIRE_VERSION,
  type EncodedResult,
  type WorkerIdentity,
} from './wire.js';
import { workerFiles, type PathMapping } from './worker-files.js';

export interface RemoteWorkerOptions {
  redisUrl: string;
  /** Default "metatpt-images"; the workbench's queue. */
  queue?: string;
  /** Images processed at once (one engine thread each); default 1. */
  concurrency?: number;
  provider: ExecutionProvider | 'auto';
  /** The engine worker module (ENGINE_WORKER_SCRIPT). */
  workerScript: string | URL;
  pathMap?: readonly PathMapping[];
  /** Downloaded models (kept) and images (deleted after use). */
  cacheDir: string;
  /**
   * A job whose worker has not renewed its lock for this long counts as stalled and is handed to
   * another worker (default 30 s); the lock is renewed every half of it while the image is processed.
   */
  stallMs?: number;
  /** Times a job may stall (its worker died) before it fails for good (default 2). */
  maxStalls?: number;
  /** One line per image and per problem. */
  log?: (line: string) => void;
}

export interface RemoteWorker {
  readonly identity: WorkerIdentity;
  /** Images done and failed by this process. */
  readonly counts: { done: number; failed: number };
  /** Stops taking jobs, lets the images in flight finish, then frees the engine. */
  close(): Promise<void>;
}

/** Connects and starts taking jobs; throws when Redis cannot be reached. */
export async function startRemoteWorker(options: RemoteWorkerOptions): Promise<RemoteWorker> {
  const { redisUrl, provider, workerScript, concurrency = 1, stallMs = 30_000, maxStalls = 2 } = options;
  const log = options.log ?? (() => {});
  const identity: WorkerIdentity = { id: `${hostname()}:${process.pid}`, host: hostname(), device: provider };
  const counts = { done: 0, failed: 0 };
  const files = workerFiles({ cacheDir: options.cacheDir, pathMap: options.pathMap ?? [] });
  const processors = createRunProcessors({
    provider,
    workerScript,
    log,
    startHost: (init, script, hostOptions) =>
      startEngineHost(init, script, { ...hostOptions, size: concurrency }),
  });

  async function processJob(job: Job, _token?: string, signal?: AbortSignal): Promise<EncodedResult> {
    const parsed = imageJobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      // Another version of the workbench, or not our job: retrying cannot help.
      throw new UnrecoverableError(
        `job ${job.id} is not an image job of version ${WIRE_VERSION}: ${describeIssues(parsed.error, { root: 'job' })}`,
      );
    }
    const { spec, image, download } = parsed.data;
    const started = Date.now();
    const modelDir = await files.modelDir(spec.model, download);
    const local = await files.image(image, download);
    const processor = await processors.open({ ...spec, model: { ...spec.model, dir: modelDir } });
    try {
      const result = await processor.processImage(
        { ...image, path: local.path },
        spec.settings,
        signal ?? new AbortController().signal,
      );
      identity.device = processor.device ?? identity.device;
      log(`run ${spec.runId} image ${image.imageId}: done in ${Date.now() - started} ms (${image.path})`);
      return encodeResult(result, identity);
    } finally {
      await processor.close();
      await local.release();
    }
  }

  const connection = redisClient(redisUrl, `metatpt-worker@${identity.id}`);
  const worker = new Worker(options.queue ?? DEFAULT_QUEUE, processJob, {
    connection,
    concurrency,
    name: identity.id,
    lockDuration: stallMs,
    stalledInterval: stallMs,
    maxStalledCount: maxStalls,
    autorun: false,
  });
  worker.on('completed', () => counts.done++);
  worker.on('failed', (job, error) => {
    counts.failed++;
    const image = (job?.data as { image?: { path?: string } } | undefined)?.image?.path ?? job?.id;
    log(`${image}: ${error.message}`);
  });
  worker.on('error', (error) => log(`queue: ${error.message}`));
  try {
    await worker.waitUntilReady();
  } catch (error) {
    await worker.close(true).catch(() => {});
    connection.disconnect();
    await processors.close();
    throw new Error(`cannot reach Redis for the queue: ${(error as Error).message}`);
  }
  void worker.run();

  return {
    identity,
    counts,
    async close() {
      await worker.close();
      connection.disconnect(); // BullMQ leaves a connection it was given open
      await processors.close();
    },
  };
}
