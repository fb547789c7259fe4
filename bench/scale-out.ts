// Issue 16: a TPT run (fast-cpu preset) on the demo model and demo images, executed by the local
// worker pool and through BullMQ by 1, 2 and 3 `metatpt worker` processes on this machine, and the
// queue's own cost per image: the same run against a worker that answers at once, less the same run
// against a processor in this process that answers at once (what recording costs without any queue).
//   npm run bench -- scale-out [--images N] [--workers 1,2,3] [--rounds R]
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'bullmq';
import { startRedis } from '../scripts/redis-server.js';
import { createBackend, type Backend } from '../src/backend/app.js';
import { ENGINE_WORKER_SCRIPT } from '../src/backend/engine-host/host.js';
import { RunExecutor } from '../src/backend/jobs/executor.js';
import { redisClient } from '../src/backend/scale-out/redis.js';
import { decodeResult, encodeResult, type EncodedResult } from '../src/backend/scale-out/wire.js';
import { createRunsService, type RunsService } from '../src/backend/services/runs.js';
import { DEMO_COLLECTION_DIR, EMBEDDED_MODEL_DIR, readClassesFile } from '../tools/synthetic/embedded.js';
import { positiveInt, positiveInts } from './lib/args.js';
import { interleaved, median } from './lib/measure.js';
import { machineLine, markdownTable, ratio } from './lib/report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = join(ROOT, 'bin', 'metatpt.mjs');
const PARAMS = { preset: 'fast-cpu', seed: 0 };

export interface ScaleOutBenchOptions {
  modelDir: string;
  /** Images of the demo collection per run. */
  images: number;
  workerCounts: readonly number[];
  /** Timed runs per case, interleaved (after one untimed run that loads the model). */
  rounds: number;
  log?: (line: string) => void;
}

export interface ScaleOutResult {
  images: number;
  /** Median images per second, by case ('local', '1 worker', ...). */
  throughput: Record<string, number>;
  /** Median milliseconds per image of the local pool (one fast-cpu TPT image). */
  imageMs: number;
  /** Median milliseconds per image through the queue to a worker that answers at once, one in flight. */
  queueMs: number;
  /** The same with the run's usual number of images in flight: the queue's cost per image in throughput. */
  queuePipelinedMs: number;
  /**
   * Median milliseconds per image of the same run against a processor in this process that answers at
   * once, 64 in flight: the executor's own work (items, results in SQLite), paid by local runs alike.
   */
  recordingMs: number;
  /**
   * Median CPU milliseconds per image of the same three cases: this process (workbench and the
   * answering worker) and redis-server together. Less sensitive than wall time to other work on a
   * shared machine.
   */
  queueCpuMs: number;
  queuePipelinedCpuMs: number;
  recordingCpuMs: number;
}

interface Case {
  backend: Backend;
  /** Runs started here go to this executor (the backend's, or one with another processor). */
  runs: RunsService;
  executor: RunExecutor;
  collectionId: number;
  classSetId: number;
  modelId: number;
}

/** A backend over its own database holding the demo images; with scaleOut, its runs go to the queue. */
async function openCase(
  root: string,
  name: string,
  images: string,
  scaleOut: Parameters<typeof createBackend>[0]['scaleOut'],
): Promise<Case> {
  const resourcesDir = join(root, 'resources');
  const backend = await createBackend({
    dataDir: join(root, name),
    resourcesDir,
    provider: 'cpu',
    workerScript: ENGINE_WORKER_SCRIPT,
    shell: 'browser',
    version: 'bench',
    resumeRuns: false,
    log: () => {},
    scaleOut,
  });
  const added = await backend.dispatch('collections.add', { folder: images });
  const classes = readClassesFile(join(DEMO_COLLECTION_DIR, 'classes.txt'));
  const classSet = backend.services.classSets.create({
    name: 'demo',
    classes: classes.map((className) => ({ name: className })),
  });
  const [model] = backend.store.models.list();
  return {
    backend,
    runs: backend.services.runs,
    executor: backend.executor,
    collectionId: (added as { collection: { id: number } }).collection.id,
    classSetId: classSet.id,
    modelId: model.id,
  };
}

/** One TPT run over the collection; milliseconds from start to done. */
async function timedRun({
  backend,
  runs,
  executor,
  collectionId,
  classSetId,
  modelId,
}: Case): Promise<number> {
  const start = performance.now();
  const run = runs.start({
    collectionId,
    classSetId,
    modelId,
    method: 'tpt',
    params: PARAMS,
    scope: { kind: 'collection' },
  });
  await executor.idle();
  const { status, done, total } = backend.store.runs.require(run.id);
  if (status !== 'done' || done !== total) {
    const failed = backend.store.runs.items(run.id, { state: 'failed', limit: 3 });
    const why = failed.map((item) => `${item.relPath}: ${item.error}`).join('; ');
    throw new Error(`run ${run.id} ended ${status} with ${done}/${total} done; ${why}`);
  }
  return performance.now() - start;
}

/** Starts `count` worker processes on `queue`; resolves when each says it takes jobs. */
async function startWorkers(
  redisUrl: string,
  queue: string,
  count: number,
  cacheDir: string,
): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const child = spawn(
        process.execPath,
        [
          ENTRY,
          'worker',
          '--redis',
          redisUrl,
          '--queue',
          queue,
          '--device',
          'cpu',
          '--quiet',
          '--cache',
          cacheDir,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('taking jobs')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${stderr}`)));
      });
      return child;
    }),
  );
}

export async function runScaleOutBenchmark(options: ScaleOutBenchOptions): Promise<ScaleOutResult> {
  const log = options.log ?? (() => {});
  const root = mkdtempSync(join(tmpdir(), 'metatpt-scale-out-'));
  const redis = await startRedis();
  const children: ChildProcess[] = [];
  const cases: Record<string, Case> = {};
  let echo: Worker | null = null;
  try {
    cpSync(options.modelDir, join(root, 'resources', 'models', 'demo'), { recursive: true });
    const images = join(root, 'images');
    mkdirSync(images);
    for (const name of readdirSync(join(DEMO_COLLECTION_DIR, 'images')).sort().slice(0, options.images)) {
      cpSync(join(DEMO_COLLECTION_DIR, 'images', name), join(images, name));
    }

    cases.local = await openCase(root, 'local', images, null);
    for (const count of options.workerCounts) {
      const queue = `bench-${count}`;
      children.push(...(await startWorkers(redis.url, queue, count, join(root, 'cache'))));
      cases[`${count} worker${count === 1 ? '' : 's'}`] = await openCase(root, queue, images, {
        redisUrl: redis.url,
        queue,
      });
    }
    for (const [name, c] of Object.entries(cases)) {
      log(`${name}: warm-up run (loads the model)`);
      await timedRun(c);
    }
    const samples = await interleaved(
      Object.fromEntries(Object.entries(cases).map(([name, c]) => [name, () => timedRun(c)])),
      { rounds: options.rounds, warmupRounds: 0 },
    );
    for (const [name, ms] of Object.entries(samples)) {
      log(`${name}: ${ms.map((t) => (t / 1000).toFixed(2)).join(', ')} s`);
    }
    const throughput = Object.fromEntries(
      Object.entries(samples).map(([name, ms]) => [name, options.images / (median(ms) / 1000)]),
    );

    // The queue alone: a worker in this process that answers every job at once with a real result.
    const first = cases.local.backend.store.runs.list()[0];
    const imageId = cases.local.backend.store.runs.items(first.id, { limit: 1 })[0].imageId;
    const stored = cases.local.backend.store.results.prediction(first.id, imageId)!;
    const answer: EncodedResult = encodeResult(
      {
        label: stored.label,
        probs: stored.probs,
        zeroShotProbs: stored.zeroShotProbs,
        entropy: stored.entropy,
        zeroShotEntropy: stored.zeroShotEntropy,
        adapted: stored.adapted,
        imageFeatures: cases.local.backend.store.imageFeatures.get(first.modelId, imageId),
        ctx: cases.local.backend.store.results.adaptedPrompt(first.id, imageId)!.ctx,
        views: cases.local.backend.store.results.views(first.id, imageId),
        losses: stored.losses ?? undefined,
        timings: stored.timings,
      },
      { id: 'echo', host: 'echo', device: 'none' },
    );
    const echoConnection = redisClient(redis.url, 'bench-echo');
    echo = new Worker('bench-echo', async () => answer, { connection: echoConnection, concurrency: 64 });
    const echoCase = (inFlight: number) =>
      openCase(root, `echo-${inFlight}`, images, { redisUrl: redis.url, queue: 'bench-echo', inFlight });
    const queueCases = { queue1: await echoCase(1), queue64: await echoCase(64) };
    Object.assign(cases, queueCases);
    // The local case's backend, with an executor whose processor answers at once, in this process.
    const decoded = decodeResult(answer).result;
    const instant = new RunExecutor({
      store: cases.local.backend.store,
      openProcessor: async () => ({
        concurrency: 64,
        device: null,
        processImage: async () => decoded,
        close: async () => {},
      }),
    });
    const recording: Case = {
      ...cases.local,
      executor: instant,
      runs: createRunsService({
        store: cases.local.backend.store,
        executor: instant,
        zeroShotText: () => Promise.reject(new Error('a TPT run does not re-score')),
      }),
    };
    /** CPU milliseconds so far of this process and of redis-server. */
    const cpuNow = async () => {
      const { user, system } = process.cpuUsage();
      const info = await echoConnection.info('cpu');
      const redisSeconds = [...info.matchAll(/^used_cpu_(?:user|sys):([\d.]+)/gm)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
      return (user + system) / 1000 + redisSeconds * 1000;
    };
    const queueRuns = { queue1: queueCases.queue1, queue64: queueCases.queue64, recording };
    const costs = Object.fromEntries(
      Object.keys(queueRuns).map((name) => [name, { ms: [] as number[], cpuMs: [] as number[] }]),
    ) as Record<keyof typeof queueRuns, { ms: number[]; cpuMs: number[] }>;
    for (const c of Object.values(queueRuns)) await timedRun(c); // warm-up
    // Short runs (milliseconds per image): many rounds, each case's wall and CPU time taken around
    // the run itself.
    await interleaved(
      Object.fromEntries(
        Object.entries(queueRuns).map(([name, c]) => [
          name,
          async () => {
            const cost = costs[name as keyof typeof queueRuns];
            const cpu = await cpuNow();
            cost.ms.push(await timedRun(c));
            cost.cpuMs.push((await cpuNow()) - cpu);
          },
        ]),
      ),
      { rounds: 5 * options.rounds, warmupRounds: 0 },
    );
    const perImage = (ms: number[]) => median(ms) / options.images;
    await echo.close();
    echoConnection.disconnect();
    echo = null;
    return {
      images: options.images,
      throughput,
      imageMs: 1000 / throughput.local,
      queueMs: perImage(costs.queue1.ms),
      queuePipelinedMs: perImage(costs.queue64.ms),
      recordingMs: perImage(costs.recording.ms),
      queueCpuMs: perImage(costs.queue1.cpuMs),
      queuePipelinedCpuMs: perImage(costs.queue64.cpuMs),
      recordingCpuMs: perImage(costs.recording.cpuMs),
    };
  } finally {
    await echo?.close();
    for (const c of Object.values(cases)) await c.backend.close();
    for (const child of children) {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

export function scaleOutReport(result: ScaleOutResult): string {
  const local = result.throughput.local;
  const rows = Object.entries(result.throughput).map(([name, rate]) => [
    name === 'local' ? 'local worker pool' : `BullMQ, ${name}`,
    rate,
    ratio(rate, local),
  ]);
  const share = (ms: number) => `${((100 * ms) / result.imageMs).toFixed(2)} %`;
  const queueRow = (label: string, ms: number, cpuMs: number) => [
    label,
    ms,
    ms - result.recordingMs,
    share(ms - result.recordingMs),
    cpuMs,
    cpuMs - result.recordingCpuMs,
  ];
  return [
    `TPT (fast-cpu preset) on the demo model, ${result.images} demo images per run; medians.`,
    '',
    markdownTable(['executed by', 'images/s', 'vs local pool'], rows, 2),
    '',
    'Queue cost per image: a run through the queue to a worker that answers at once, less the same run',
    'against a processor in this process that answers at once (recording results, paid by every run);',
    'wall time, and CPU time of this process and redis-server together.',
    '',
    markdownTable(
      ['per image', 'ms', 'queue cost, ms', 'of a fast-cpu TPT image', 'CPU ms', 'queue cost, CPU ms'],
      [
        queueRow('one image in flight (latency)', result.queueMs, result.queueCpuMs),
        queueRow('64 in flight (throughput)', result.queuePipelinedMs, result.queuePipelinedCpuMs),
        ['recording alone, 64 in flight', result.recordingMs, '', '', result.recordingCpuMs, ''],
        ['a fast-cpu TPT image, local pool', result.imageMs, '', '100 %', '', ''],
      ],
      2,
    ),
    '',
    machineLine(),
  ].join('\n');
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { images: { type: 'string' }, workers: { type: 'string' }, rounds: { type: 'string' } },
  });
  const result = await runScaleOutBenchmark({
    modelDir: EMBEDDED_MODEL_DIR,
    images: positiveInt('images', values.images, 48),
    workerCounts: positiveInts('workers', values.workers, [1, 2, 3]),
    rounds: positiveInt('rounds', values.rounds, 3),
    log: (line) => console.error(line),
  });
  console.log(scaleOutReport(result));
}
