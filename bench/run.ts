// `npm run bench -- <name> [options]`: runs one benchmark and prints its markdown tables.
interface BenchmarkModule {
  main(args: string[]): Promise<void>;
}

/** Benchmarks by name, loaded on demand so that one benchmark's imports do not slow another. */
const BENCHMARKS: Record<string, { summary: string; load: () => Promise<BenchmarkModule> }> = {
  engine: {
    summary: 'traced vs hand-written ONNX MLP, gradient vs forward',
    load: () => import('./engine.js'),
  },
  zeroshot: {
    summary: 'ViT-B/16 load, text encoding (trimmed vs 77), image throughput, memory',
    load: () => import('./zeroshot.js'),
  },
  adapt: {
    summary: 'zero-shot / TPT / MetaTPT per image vs an official-structure TPT baseline',
    load: () => import('./adapt.js'),
  },
  indexing: {
    summary: 'index N generated images, rescan, grid pages over the collection',
    load: () => import('./indexing.js'),
  },
  'session-memory': {
    summary: 'memory one onnxruntime session holds across runs under arena / memory-pattern options',
    load: () => import('./session-memory.js'),
  },
  'adaptation-value': {
    summary: 'TPT / MetaTPT settings chosen on validation, reported on a disjoint test split (issue 11)',
    load: () => import('./adaptation-value.js'),
  },
  'extreme-geometry': {
    summary: 'the 1×60000 image through index + run on a ViT-B/32-shaped model: peak RSS (issue 13)',
    load: () => import('./extreme-geometry.js'),
  },
  precision: {
    summary: 'int8 vs fp32 vision tower: s per view and per TPT image, deviation, demo agreement (issue 18)',
    load: () => import('./precision.js'),
  },
  'prompt-learning': {
    summary:
      'CoOp / Self-TPT / TPT + CoOp init on the demo domain; Self-TPT stage 2 at 100 classes (issue 12)',
    load: () => import('./prompt-learning.js'),
  },
  'scale-out': {
    summary: 'TPT through BullMQ with 1/2/3 local workers vs the local pool; queue cost per image (issue 16)',
    load: () => import('./scale-out.js'),
  },
  'embedded-accuracy': {
    summary: 'embedded model: zero-shot / TPT / MetaTPT accuracy per domain shift, over seeds',
    load: () => import('./embedded-accuracy.js'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(BENCHMARKS).map((name) => name.length));
  const lines = Object.entries(BENCHMARKS).map(([name, b]) => `  ${name.padEnd(width)}  ${b.summary}`);
  return `usage: npm run bench -- <name> [options]\n\nbenchmarks:\n${lines.join('\n')}`;
}

async function main([name, ...args]: string[]): Promise<number> {
  const benchmark = name === undefined ? undefined : BENCHMARKS[name];
  if (!benchmark) {
    console.error(name === undefined ? usage() : `unknown benchmark "${name}"\n\n${usage()}`);
    return 2;
  }
  await (await benchmark.load()).main(args);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    console.error(`bench: ${error.stack ?? error.message}`);
    process.exitCode = 1;
  },
);
