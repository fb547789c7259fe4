// `metatpt worker`: processes the image jobs of workbench runs from a BullMQ queue on the user's Redis,
// on this machine's CPU or GPU, until Ctrl-C or SIGTERM (then it finishes the images in flight).
import { join } from 'node:path';
import { ENGINE_WORKER_SCRIPT } from '../../backend/engine-host/host.js';
import { defaultDataDir } from '../../backend/paths.js';
import { checkRedisUrl, DEFAULT_QUEUE, redactRedisUrl } from '../../shared/domain/scale-out.js';
import { startRemoteWorker } from '../../backend/scale-out/worker.js';
import { parsePathMapping } from '../../backend/scale-out/worker-files.js';
import { parseDevice, parseNumber, requireOption } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import type { CommandIo } from '../format.js';

interface WorkerOptions {
  redis?: string;
  queue: string;
  device: string;
  concurrency?: string;
  pathMap: string[];
  cache?: string;
  stallSeconds?: string;
  quiet?: boolean;
}

function positiveInteger(value: string | undefined, name: string): number | undefined {
  const number = parseNumber(value, name);
  if (number !== undefined && !(Number.isInteger(number) && number >= 1))
    throw new UsageError(`--${name} must be a whole number of at least 1, not "${value}"`);
  return number;
}

/** A usage error for what `parse` rejects. */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function work(values: WorkerOptions, _args: string[], io: CommandIo): Promise<number> {
  const redisUrl = requireOption(values.redis, 'redis');
  asUsage(() => checkRedisUrl(redisUrl));
  const pathMap = values.pathMap.map((text) => asUsage(() => parsePathMapping(text)));
  const stallSeconds = positiveInteger(values.stallSeconds, 'stall-seconds');
  const worker = await startRemoteWorker({
    redisUrl,
    queue: values.queue,
    provider: parseDevice(values.device),
    concurrency: positiveInteger(values.concurrency, 'concurrency'),
    pathMap,
    cacheDir: values.cache ?? join(defaultDataDir(), 'worker-cache'),
    workerScript: ENGINE_WORKER_SCRIPT,
    stallMs: stallSeconds === undefined ? undefined : stallSeconds * 1000,
    log: values.quiet ? undefined : (line) => io.stderr(`${line}\n`),
  });
  io.stderr(
    `metatpt worker ${worker.identity.id}: taking jobs of "${values.queue}" on ${redactRedisUrl(redisUrl)}\n`,
  );
  await new Promise<void>((resolve) => {
    io.interrupt?.addEventListener('abort', () => resolve(), { once: true });
    process.once('SIGTERM', () => resolve());
  });
  io.stderr('metatpt worker: finishing the images in flight\n');
  await worker.close();
  const { done, failed } = worker.counts;
  io.stdout(`${done} images done, ${failed} failed attempts\n`);
  return 0;
}

export const workerCommand = defineCommand<WorkerOptions>({
  name: 'worker',
  summary: 'process image jobs of workbench runs from a Redis queue (scale-out)',
  define: (command) =>
    command
      .description(
        'Takes the image jobs of workbench runs from the queue and returns their results; start one per ' +
          'machine (or per GPU). Opens no port: it connects to Redis, and to the workbench where it downloads.',
      )
      .option('--redis <url>', 'redis://[:password@]host:port[/db], or rediss://... for TLS')
      .option('--queue <name>', "the workbench's queue", DEFAULT_QUEUE)
      .option('--device <d>', 'auto | cpu | cuda | dml | coreml', 'auto')
      .option('--concurrency <n>', 'images at once, each in its own engine thread (default 1)')
      .option(
        '--path-map <from=to>',
        "read the workbench's files under FROM from TO on this machine (repeatable); jobs of a workbench " +
          'that serves its files are downloaded instead',
        (value: string, previous: string[]) => [...previous, value],
        [],
      )
      .option('--cache <dir>', "downloaded models (default: the app's data folder/worker-cache)")
      .option(
        '--stall-seconds <s>',
        'a job whose worker stops answering for this long goes to another worker (default 30)',
      )
      .option('--quiet', 'no line per image'),
  run: work,
});
