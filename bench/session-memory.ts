// How much memory one onnxruntime CPU session holds across runs, under the session options that
// decide it: the baseline TPT step (77-token text tower + confident marginal entropy + gradient
// with respect to the context) of the ViT-B/16-shaped model, as a large gradient graph. The engine
// creates sessions with onnxruntime's defaults (arena and memory pattern on); this shows what they cost.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { DEFAULT_TEMPLATE } from '../src/shared/domain/adaptation.js';
import { ClipModel, clipLogits } from '../src/engine/clip/model.js';
import { grad } from '../src/engine/grad.js';
import { lowerToOnnx } from '../src/engine/onnx.js';
import { Random } from '../src/engine/random.js';
import { input } from '../src/engine/tensor.js';
import { positiveInt } from './lib/args.js';
import { imagenetClassNames } from './lib/classes.js';
import { median, timed } from './lib/measure.js';
import { ensureClipModel } from './lib/models.js';
import { machineLine, markdownTable } from './lib/report.js';
import { confidentMarginalEntropy } from './tpt-baseline.js';

export const SESSION_VARIANTS: Record<string, ort.InferenceSession.SessionOptions> = {
  'defaults (arena + memory pattern)': {},
  'enableMemPattern: false': { enableMemPattern: false },
  'enableCpuMemArena: false': { enableCpuMemArena: false },
};

export interface SessionMemoryOptions {
  modelDir: string;
  classNames: readonly string[];
  runs: number;
  views: number;
}

export interface SessionMemoryRow {
  variant: string;
  /** RSS above the level before the session was created, MiB: after creating it, then after each run. */
  createdMiB: number;
  afterRunMiB: number[];
  medianRunMs: number;
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

/**
 * Creates and runs one session per variant in this process. Memory a released session gave back to the
 * allocator is reused by the next variant without showing in RSS, so main() runs each variant in a
 * fresh process.
 */
export async function runSessionMemoryBenchmark(
  options: SessionMemoryOptions,
  variants: readonly string[] = Object.keys(SESSION_VARIANTS),
): Promise<SessionMemoryRow[]> {
  const model = ClipModel.load(options.modelDir);
  const classes = options.classNames.length;
  const { projectionDim, text } = model.config;
  const batch = model.tokenizer.encode(options.classNames.map((n) => DEFAULT_TEMPLATE.replace('{}', n)));
  const ids = input('ids', [classes, batch.contextLength], 'int64');
  const eot = input('eot', [classes], 'int64');
  const ctx = input('ctx', [4, text.hiddenSize]);
  const images = input('images', [options.views, projectionDim]);
  const features = model.encodeTextEmbeddings(model.embedPrompts(ids, ctx), eot);
  const loss = confidentMarginalEntropy(clipLogits(images, features, model.logitScale), 1);
  // Weights inlined: every variant then holds the same graph, and only working memory differs.
  const { bytes } = lowerToOnnx('baseline-step', { loss, grad: grad(loss, [ctx])[0] }, 'inline');
  const rng = new Random(1);
  const feeds = {
    ids: new ort.Tensor('int64', BigInt64Array.from(batch.ids, BigInt), [classes, batch.contextLength]),
    eot: new ort.Tensor('int64', BigInt64Array.from(batch.eot, BigInt), [classes]),
    ctx: new ort.Tensor('float32', rng.normalArray(4 * text.hiddenSize, 0.02), [4, text.hiddenSize]),
    images: new ort.Tensor('float32', rng.normalArray(options.views * projectionDim, 0.05), [
      options.views,
      projectionDim,
    ]),
  };
  const rows: SessionMemoryRow[] = [];
  for (const variant of variants) {
    const extra = SESSION_VARIANTS[variant];
    if (!extra) throw new Error(`unknown session variant "${variant}"`);
    const before = rssMiB();
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...extra,
    });
    const createdMiB = rssMiB() - before;
    const afterRunMiB: number[] = [];
    const runMs: number[] = [];
    for (let r = 0; r < options.runs; r++) {
      runMs.push((await timed(() => session.run(feeds))).ms);
      afterRunMiB.push(rssMiB() - before);
    }
    await session.release();
    rows.push({ variant, createdMiB, afterRunMiB, medianRunMs: median(runMs) });
  }
  return rows;
}

export function sessionMemoryReport(rows: readonly SessionMemoryRow[], classes: number): string {
  const runs = rows[0]?.afterRunMiB.length ?? 0;
  return [
    `The baseline TPT step at C = ${classes}, 77 tokens, weights inlined; each variant in a fresh process, ` +
      `${runs} runs. RSS in MiB above the level before the session was created.`,
    '',
    markdownTable(
      [
        'session options',
        'after create',
        ...Array.from({ length: runs }, (_, r) => `after run ${r + 1}`),
        'median run s',
      ],
      rows.map((r) => [
        r.variant,
        Math.round(r.createdMiB),
        ...r.afterRunMiB.map(Math.round),
        (r.medianRunMs / 1000).toFixed(1),
      ]),
    ),
  ].join('\n');
}

/** Runs `variant` in a child process (this module, with the same loader) and returns its row. */
function runInChild(variant: string, args: string[]): Promise<SessionMemoryRow> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [...args, '--variant', variant], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(output) as SessionMemoryRow)
        : reject(new Error(`session-memory: variant "${variant}" exited with code ${code}`)),
    );
  });
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      classes: { type: 'string' },
      runs: { type: 'string' },
      variant: { type: 'string' },
    },
  });
  const classes = positiveInt('classes', values.classes, 20);
  const options = {
    modelDir: values.model ?? ensureClipModel('vit-b-16', (line) => console.error(line)),
    classNames: imagenetClassNames().slice(0, classes),
    runs: positiveInt('runs', values.runs, 3),
    views: 16,
  };
  if (values.variant !== undefined) {
    const [row] = await runSessionMemoryBenchmark(options, [values.variant]);
    process.stdout.write(JSON.stringify(row));
    return;
  }
  const childArgs = args.filter((a) => a !== '--variant');
  const rows: SessionMemoryRow[] = [];
  for (const variant of Object.keys(SESSION_VARIANTS)) rows.push(await runInChild(variant, childArgs));
  console.log(`## session-memory\n\n${machineLine()}\n\n${sessionMemoryReport(rows, classes)}`);
}

// Run directly (as a child of main() above): measure one variant.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(error.stack ?? error.message);
    process.exitCode = 1;
  });
}
