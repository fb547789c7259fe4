// The workbench side of scale-out: a run's images go as BullMQ jobs to `metatpt worker` processes on
// the user's Redis instead of the local engine workers. The executor drives this like any processor
// (one job per image, a bounded number in flight) and stays the only writer of the database.
//
// A job's id is fixed by (run, settings, image), so a workbench that restarts finds the jobs it left
// in the queue (waiting, running or finished) instead of adding them again. A job's result comes in
// QueueEvents' completed event (one Redis command per image on this side: the add); the job itself is
// read only for a failure, a job added earlier, or by a periodic sweep in case an event was missed.
// BullMQ re-hands a job whose worker died (a stalled job) and gives up after a bounded number of
// attempts; the executor records each image once.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Job, Queue, QueueEvents } from 'bullmq';
import { CLIP_MODEL_FILES } from '../../engine/clip/model-files.js';
import type { WorkerProgress } from '../../shared/domain/runs.js';
import type { ImageProcessor, OpenProcessor, RunSpec } from '../jobs/types.js';
import { DEFAULT_QUEUE } from '../../shared/domain/scale-out.js';
import { redisClient } from './redis.js';
import {
  WIRE_VERSION,
  decodeResult,
  type DownloadSource,
  type EncodedResult,
  encodeImageJob,
  type EncodedImageJob,
  type ModelFileRef,
} from './wire.js';

export interface ScaleOutOptions {
  /** redis://[:password@]host:port[/db], or rediss:// for TLS. */
  redisUrl: string;
  /** The BullMQ queue; workers must name the same one (default "metatpt-images"). */
  queue?: string;
  /** Image jobs of a run in the queue at once, waiting or in a worker (default 64). */
  inFlight?: number;
  /** Tries per image before it fails with its last error (default 3). */
  attempts?: number;
  /** Serve mode: where workers without the shared files download images and models. */
  download?: DownloadSource | null;
  /** How often jobs are checked in case a finished event was missed (default 10 s). */
  sweepMs?: number;
}

export interface QueueProcessors {
  open: OpenProcessor;
  close(): Promise<void>;
}

/** How a job ended: 'removed' is a waiting job taken out by a pause or cancel. */
type Outcome =
  { state: 'completed'; value: unknown } | { state: 'failed'; reason: string } | { state: 'removed' };

/** An image job waited for, from just before it is added until its outcome is read. */
interface Waiter {
  outcome: Promise<Outcome>;
  settle(outcome: Outcome): void;
  /** Reads the job and settles the wait if it has finished; deferred until the add has returned. */
  check(): void;
  /** The add returned: the job exists from now on, until it is read or taken out. */
  added(): void;
  /** Set while a pause or cancel takes the job out: its absence then is no error. */
  removing: boolean;
}

/**
 * Completed jobs the queue keeps (BullMQ trims them as workers finish jobs, without a command of the
 * workbench): their results are normally taken from the completed event, but a sweep after a missed
 * event or a restarted workbench reads them from the job. Failed jobs are removed once read (a retry
 * of the image adds the job anew); the age only bounds those orphaned by a crash.
 */
const KEEP_COMPLETED = { count: 1000 };
const KEEP_FAILED = { age: 7 * 24 * 3600 };
const rateWindow = 50;

/** SHA-256 of each model file, for workers that download the model (cached while files are unchanged). */
const manifestCache = new Map<string, { key: string; files: ModelFileRef[] }>();

async function modelManifest(dir: string): Promise<ModelFileRef[]> {
  const names = Object.values(CLIP_MODEL_FILES);
  const stats = await Promise.all(names.map((name) => stat(join(dir, name))));
  const key = stats.map((s) => `${s.size}:${s.mtimeMs}`).join(',');
  const cached = manifestCache.get(dir);
  if (cached?.key === key) return cached.files;
  const files = await Promise.all(
    names.map(async (name, i) => {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(join(dir, name))) hash.update(chunk as Buffer);
      return { name, size: stats[i].size, sha256: hash.digest('hex') };
    }),
  );
  manifestCache.set(dir, { key, files });
  return files;
}

/** A friendlier reason for BullMQ's message about a job whose worker died on every try. */
function failureMessage(reason: string): string {
  return /stalled more than allowable limit/i.test(reason)
    ? `every worker that took it stopped renewing its lock: it crashed, was killed, or got no CPU for longer than --stall-seconds (${reason})`
    : reason;
}

/** Completions per worker process, for the run's page. */
class WorkerStats {
  private readonly byId = new Map<string, WorkerProgress & { times: number[] }>();

  record(worker: Pick<WorkerProgress, 'id' | 'host' | 'device'>): void {
    const entry = this.byId.get(worker.id) ?? { ...worker, done: 0, rate: 0, times: [] };
    this.byId.set(worker.id, entry);
    entry.done++;
    entry.times.push(Date.now());
    if (entry.times.length > rateWindow) entry.times.shift();
  }

  list(): WorkerProgress[] {
    return [...this.byId.values()].map(({ times, ...worker }) => {
      const span = times.length > 1 ? (times[times.length - 1] - times[0]) / 1000 : 0;
      return { ...worker, rate: span > 0 ? (times.length - 1) / span : 0 };
    });
  }

  /** e.g. "2 workers: CPU ×1, cuda ×1"; null before the first result. */
  device(): string | null {
    const workers = [...this.byId.values()];
    if (workers.length === 0) return null;
    const counts = new Map<string, number>();
    for (const { device } of workers) counts.set(device, (counts.get(device) ?? 0) + 1);
    const devices = [...counts].map(([device, n]) => `${device} ×${n}`).join(', ');
    return `${workers.length} worker${workers.length === 1 ? '' : 's'}: ${devices}`;
  }
}

/** Connects to the queue; throws when Redis cannot be reached. */
export async function createQueueProcessors(options: ScaleOutOptions): Promise<QueueProcessors> {
  const { redisUrl, inFlight: lanes = 64, attempts = 3, download = null, sweepMs = 10_000 } = options;
  const name = options.queue ?? DEFAULT_QUEUE;
  const client = `metatpt-workbench@${hostname()}`;
  // Adds issued in one tick (lanes freed by one batch of events) go out in one write.
  const connections = [
    redisClient(redisUrl, client, { autoPipelining: true }),
    redisClient(redisUrl, `${client}-events`),
  ];
  const queue = new Queue<EncodedImageJob, EncodedResult>(name, { connection: connections[0] });
  const events = new QueueEvents(name, { connection: connections[1] });
  // BullMQ leaves connections it was given open.
  const closeAll = async () => {
    await Promise.allSettled([events.close(), queue.close()]);
    for (const connection of connections) connection.disconnect();
  };
  /** Jobs being waited for. */
  const waiters = new Map<string, Waiter>();
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  } catch (error) {
    await closeAll();
    throw new Error(`cannot use the Redis queue "${name}": ${(error as Error).message}`);
  }
  // A completed event carries the job's return value. A failed event may be a try that BullMQ will
  // retry, and a duplicated one is a job of an earlier session (it may have finished already): both
  // are read from the queue.
  events.on('completed', ({ jobId, returnvalue }) =>
    waiters.get(jobId)?.settle({ state: 'completed', value: returnvalue }),
  );
  const onRead = ({ jobId }: { jobId: string }) => waiters.get(jobId)?.check();
  events.on('failed', onRead);
  events.on('duplicated', onRead);
  const sweep = setInterval(() => waiters.forEach((waiter) => waiter.check()), sweepMs);
  sweep.unref();

  /** The job's outcome if it has finished, null if not yet, 'gone' if there is no such job. */
  async function readOutcome(jobId: string): Promise<Outcome | null | 'gone'> {
    // The state first, then the job: a job read while it was still active has no return value yet,
    // even when its state, read a moment later, is completed. A worker's Lua script writes the value
    // and moves the job to completed (or failed) at once, so a job read after that state carries it.
    const state = await queue.getJobState(jobId);
    if (state === 'unknown') return 'gone';
    if (state !== 'completed' && state !== 'failed') return null;
    const job = await Job.fromId<EncodedImageJob, EncodedResult>(queue, jobId);
    if (!job) return 'gone';
    return state === 'completed' ? { state, value: job.returnvalue } : { state, reason: job.failedReason };
  }

  /** Waits for a job; registered before the job is added, so that none of its events is missed. */
  function waitFor(jobId: string): Waiter {
    let settle!: (outcome: Outcome) => void;
    let fail!: (error: Error) => void;
    const outcome = new Promise<Outcome>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    let added = false;
    let checkWhenAdded = false;
    const waiter: Waiter = {
      outcome,
      settle,
      removing: false,
      check() {
        // Before the add returns, the job may not exist yet: a read could not tell it is gone.
        if (!added) {
          checkWhenAdded = true;
          return;
        }
        readOutcome(jobId).then((read) => {
          if (read === 'gone') {
            if (!waiter.removing) fail(new Error(`job ${jobId} is no longer in the queue "${name}"`));
          } else if (read) settle(read);
        }, fail);
      },
      added() {
        added = true;
        if (checkWhenAdded) waiter.check();
      },
    };
    waiters.set(jobId, waiter);
    return waiter;
  }

  async function open(spec: RunSpec): Promise<ImageProcessor> {
    const stats = new WorkerStats();
    const runKey = createHash('sha1').update(JSON.stringify(spec)).digest('hex');
    const jobDownload = download && { ...download, modelFiles: await modelManifest(spec.model.dir) };
    const inFlight = new Set<string>();
    // Pausing or cancelling takes out the jobs no worker has yet; those in a worker are waited for
    // (the queue drains) and their results recorded.
    const takeOut = (jobId: string) => {
      const waiter = waiters.get(jobId);
      if (waiter) waiter.removing = true;
      queue.remove(jobId).then(
        (removed) => {
          if (removed === 1) waiter?.settle({ state: 'removed' });
          else if (waiter) waiter.removing = false; // in a worker: its outcome is waited for
        },
        () => {},
      );
    };
    /** The run's signal, listened to once for all its jobs. */
    let watched: AbortSignal | null = null;
    const watch = (signal: AbortSignal) => {
      if (watched === signal) return;
      watched = signal;
      signal.addEventListener('abort', () => inFlight.forEach(takeOut), { once: true });
    };

    return {
      concurrency: lanes,
      get device() {
        return stats.device();
      },
      workers: () => stats.list(),
      async processImage(image, settings, signal) {
        signal.throwIfAborted();
        // The image's task is in the id too: two workbenches on one Redis may both have a run 1.
        const imageKey = createHash('sha1').update(runKey).update(JSON.stringify(image)).digest('hex');
        const jobId = `r${spec.runId}-${image.imageId}-${imageKey.slice(0, 16)}`;
        try {
          const data = encodeImageJob({
            v: WIRE_VERSION,
            spec: { ...spec, settings },
            image,
            ...(jobDownload && { download: jobDownload }),
          });
          const waiter = waitFor(jobId);
          // An existing job of this id (left by an earlier session) is kept as it is.
          await queue.add('image', data, {
            jobId,
            attempts,
            backoff: { type: 'fixed', delay: 1000 },
            removeOnComplete: KEEP_COMPLETED,
            removeOnFail: KEEP_FAILED,
          });
          waiter.added();
          inFlight.add(jobId);
          watch(signal);
          if (signal.aborted) takeOut(jobId);
          const ended = await waiter.outcome;
          if (ended.state === 'removed') throw signal.reason;
          if (ended.state === 'failed') {
            await queue.remove(jobId).catch(() => 0);
            throw new Error(failureMessage(ended.reason));
          }
          const { result, worker } = decodeResult(ended.value);
          stats.record(worker);
          return result;
        } finally {
          inFlight.delete(jobId);
          waiters.delete(jobId);
        }
      },
      close: async () => {},
    };
  }

  return {
    open,
    async close() {
      clearInterval(sweep);
      await closeAll();
    },
  };
}
