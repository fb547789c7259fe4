// Issue 2: does the tracer add runtime cost? An MLP (MatMul + Add + Tanh per layer) traced on the
// engine versus the same graph written by hand as an ONNX ModelProto with identical weights, both run
// by onnxruntime-node in this process, interleaved. Also: the gradient graph (loss and the gradients
// with respect to every weight) relative to the forward pass.
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { grad } from '../src/engine/grad.js';
import { OPSET, type ParamMode } from '../src/engine/onnx.js';
import { Random } from '../src/engine/random.js';
import { Engine, traced, type CompiledFunction } from '../src/engine/runtime.js';
import { param, type Tensor } from '../src/engine/tensor.js';
import { positiveInt } from './lib/args.js';
import { interleaved, maxAbsDiff, median, timed } from './lib/measure.js';
import { machineLine, markdownTable, ratio } from './lib/report.js';

const { onnx } = onnxProto;

export interface MlpShape {
  layers: number;
  width: number;
  batch: number;
}

export interface EngineBenchOptions extends MlpShape {
  repeats: number;
  /** Threads per operator for both sides; undefined: onnxruntime's default (all cores). */
  intraOpThreads?: number;
}

/** Timed runs per case and round (after one untimed run): the steady state of a session. */
const STEADY_BLOCK = 3;

export const ENGINE_BENCH_DEFAULTS: EngineBenchOptions = { layers: 8, width: 1024, batch: 256, repeats: 20 };

/** Per layer: W [in, out] and b [out], so a layer is tanh(x·W + b). */
interface MlpWeights {
  matrices: Float32Array[];
  biases: Float32Array[];
}

function randomMlp({ layers, width }: MlpShape, seed: number): MlpWeights {
  const rng = new Random(seed);
  // std 1/√width keeps tanh out of saturation through the stack.
  return {
    matrices: Array.from({ length: layers }, () => rng.normalArray(width * width, 1 / Math.sqrt(width))),
    biases: Array.from({ length: layers }, () => rng.normalArray(width, 0.1)),
  };
}

const weightName = (layer: number): string => `w${layer}`;
const biasName = (layer: number): string => `b${layer}`;

/** The hand-written model: MatMul, Add, Tanh per layer, weights as initializers. */
function directMlpModel(weights: MlpWeights, { width, batch }: MlpShape): Uint8Array {
  const float = onnx.TensorProto.DataType.FLOAT;
  const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  let current = 'x';
  weights.matrices.forEach((matrix, l) => {
    initializers.push(
      { name: weightName(l), dataType: float, dims: [width, width], rawData: bytes(matrix) },
      { name: biasName(l), dataType: float, dims: [width], rawData: bytes(weights.biases[l]) },
    );
    const next = l === weights.matrices.length - 1 ? 'y' : `h${l}`;
    nodes.push(
      { opType: 'MatMul', input: [current, weightName(l)], output: [`mm${l}`] },
      { opType: 'Add', input: [`mm${l}`, biasName(l)], output: [`pre${l}`] },
      { opType: 'Tanh', input: [`pre${l}`], output: [next] },
    );
    current = next;
  });
  const matrixType = (name: string) => ({
    name,
    type: { tensorType: { elemType: float, shape: { dim: [{ dimValue: batch }, { dimValue: width }] } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'bench-direct',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: 'mlp',
      node: nodes,
      initializer: initializers,
      input: [matrixType('x')],
      output: [matrixType('y')],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The same MLP on the engine's traced tensors. */
function tracedMlp(x: Tensor, leaves: { matrices: Tensor[]; biases: Tensor[] }): Tensor {
  return leaves.matrices.reduce((h, matrix, l) => h.matmul(matrix).add(leaves.biases[l]).tanh(), x);
}

function mlpLeaves(weights: MlpWeights, { width }: MlpShape) {
  return {
    matrices: weights.matrices.map((data, l) => param(weightName(l), [width, width], data)),
    biases: weights.biases.map((data, l) => param(biasName(l), [width], data)),
  };
}

type Forward = CompiledFunction<'x', 'y'>;

function compileForward(
  engine: Engine,
  weights: MlpWeights,
  shape: MlpShape,
  params: ParamMode,
): Promise<Forward> {
  return engine.compile(
    traced(`mlp-forward`, ({ x }) => ({ y: tracedMlp(x, mlpLeaves(weights, shape)) })),
    { inputs: { x: { shape: [shape.batch, shape.width] } }, params },
  );
}

/** loss = mean(y²) and its gradient with respect to every weight matrix and bias. */
function compileGradient(engine: Engine, weights: MlpWeights, shape: MlpShape, params: ParamMode) {
  return engine.compile(
    traced(`mlp-gradient`, ({ x }) => {
      const leaves = mlpLeaves(weights, shape);
      const loss = tracedMlp(x, leaves).square().mean();
      const gradients = grad(loss, [...leaves.matrices, ...leaves.biases]);
      return { loss, ...Object.fromEntries(gradients.map((g, i) => [`grad${i}`, g])) };
    }),
    { inputs: { x: { shape: [shape.batch, shape.width] } }, params },
  );
}

export interface EngineBenchResult {
  options: EngineBenchOptions;
  /** Median milliseconds per run. */
  forward: { direct: number; feed: number; inline: number };
  gradient: { feed: number; inline: number };
  /** Medians when the direct and the inline session alternate run by run. */
  alternating: { direct: number; inline: number };
  /** Two hand-written sessions with allow_spinning = 0: back to back versus alternating. */
  spinningOff: { steady: number; alternating: number };
  /** Milliseconds to build and create the session (trace + lower for the engine), once. */
  compile: { direct: number; feed: number; inline: number };
  /** Largest difference between the direct model's output and each traced one's. */
  outputDiff: { feed: number; inline: number };
}

export async function runEngineBenchmark(options: EngineBenchOptions): Promise<EngineBenchResult> {
  const shape: MlpShape = options;
  const weights = randomMlp(shape, 1);
  const x = new Random(2).normalArray(shape.batch * shape.width);
  const threads = options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {};
  const engine = new Engine({ provider: 'cpu', intraOpThreads: options.intraOpThreads, log: () => {} });
  try {
    const directModel = directMlpModel(weights, shape);
    const session = (spinning: boolean) =>
      ort.InferenceSession.create(directModel, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        ...threads,
        ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
      });
    const direct = await timed(() => session(true));
    const feed = await timed(() => compileForward(engine, weights, shape, 'feed'));
    const inline = await timed(() => compileForward(engine, weights, shape, 'inline'));
    const gradFeed = await compileGradient(engine, weights, shape, 'feed');
    const gradInline = await compileGradient(engine, weights, shape, 'inline');

    const runSession = async (s: ort.InferenceSession) =>
      (await s.run({ x: new ort.Tensor('float32', x, [shape.batch, shape.width]) })).y.data as Float32Array;
    const runDirect = () => runSession(direct.value);
    const runTraced = async (fn: Forward) => (await fn.run({ x })).y.data as Float32Array;
    const reference = await runDirect();
    const outputDiff = {
      feed: maxAbsDiff(await runTraced(feed.value), reference),
      inline: maxAbsDiff(await runTraced(inline.value), reference),
    };

    const steady = await interleaved(
      {
        direct: runDirect,
        feed: () => runTraced(feed.value),
        inline: () => runTraced(inline.value),
        gradFeed: () => gradFeed.run({ x }),
        gradInline: () => gradInline.run({ x }),
      },
      { rounds: options.repeats, block: STEADY_BLOCK },
    );
    // The same two graphs switching session on every run, as per-image work does (vision, text, ...).
    const alternating = await interleaved(
      { direct: runDirect, inline: () => runTraced(inline.value) },
      { rounds: options.repeats * STEADY_BLOCK },
    );
    // Two hand-written sessions whose worker threads sleep instead of spinning when idle.
    const [quietA, quietB] = [await session(false), await session(false)];
    const quietSteady = await interleaved(
      { a: () => runSession(quietA), b: () => runSession(quietB) },
      { rounds: options.repeats, block: STEADY_BLOCK },
    );
    const quietAlternating = await interleaved(
      { a: () => runSession(quietA), b: () => runSession(quietB) },
      { rounds: options.repeats * STEADY_BLOCK },
    );
    await Promise.all([direct.value, quietA, quietB].map((s) => s.release()));
    return {
      options,
      forward: { direct: median(steady.direct), feed: median(steady.feed), inline: median(steady.inline) },
      gradient: { feed: median(steady.gradFeed), inline: median(steady.gradInline) },
      alternating: { direct: median(alternating.direct), inline: median(alternating.inline) },
      spinningOff: {
        steady: median([...quietSteady.a, ...quietSteady.b]),
        alternating: median([...quietAlternating.a, ...quietAlternating.b]),
      },
      compile: { direct: direct.ms, feed: feed.ms, inline: inline.ms },
      outputDiff,
    };
  } finally {
    await engine.dispose();
  }
}

export function engineReport(result: EngineBenchResult): string {
  const { layers, width, batch, repeats } = result.options;
  const { forward, gradient, alternating, spinningOff, compile, outputDiff } = result;
  const forwardTable = markdownTable(
    ['graph', 'forward median ms', 'direct / traced', 'max abs diff vs direct', 'compile ms'],
    [
      ['hand-written ONNX (initializers)', forward.direct, '1.00×', '—', compile.direct],
      [
        'traced, weights fed (feed)',
        forward.feed,
        ratio(forward.direct, forward.feed),
        outputDiff.feed.toExponential(1),
        compile.feed,
      ],
      [
        'traced, weights inlined (inline)',
        forward.inline,
        ratio(forward.direct, forward.inline),
        outputDiff.inline.toExponential(1),
        compile.inline,
      ],
    ],
  );
  const gradientTable = markdownTable(
    ['param mode', 'forward ms', 'loss + all weight gradients ms', 'gradient / forward'],
    [
      ['feed', forward.feed, gradient.feed, ratio(gradient.feed, forward.feed)],
      ['inline', forward.inline, gradient.inline, ratio(gradient.inline, forward.inline)],
    ],
  );
  const switchTable = markdownTable(
    [
      'sessions',
      'worker threads when idle',
      'back to back ms',
      'alternating run by run ms',
      'alternating / back to back',
    ],
    [
      [
        'hand-written + traced inline',
        'spin (onnxruntime default, the engine today)',
        (forward.direct + forward.inline) / 2,
        (alternating.direct + alternating.inline) / 2,
        ratio(alternating.direct + alternating.inline, forward.direct + forward.inline),
      ],
      [
        'two hand-written sessions',
        'sleep (allow_spinning = 0)',
        spinningOff.steady,
        spinningOff.alternating,
        ratio(spinningOff.alternating, spinningOff.steady),
      ],
    ],
  );
  return [
    `MLP: ${layers} layers of ${width}×${width} MatMul + Add + Tanh, batch ${batch}. Medians of ` +
      `${repeats} rounds × ${STEADY_BLOCK} consecutive runs per case (one untimed run first), cases ` +
      `interleaved in rotating order.`,
    '',
    forwardTable,
    '',
    gradientTable,
    '',
    `Switching sessions: the forward graphs above run back to back (steady state) versus alternating ` +
      `session on every run, as per-image work does (vision, text, vision, ...); ${repeats * STEADY_BLOCK} ` +
      `alternating rounds:`,
    '',
    switchTable,
  ].join('\n');
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      repeats: { type: 'string' },
      layers: { type: 'string' },
      width: { type: 'string' },
      batch: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  const d = ENGINE_BENCH_DEFAULTS;
  const result = await runEngineBenchmark({
    repeats: positiveInt('repeats', values.repeats, d.repeats),
    layers: positiveInt('layers', values.layers, d.layers),
    width: positiveInt('width', values.width, d.width),
    batch: positiveInt('batch', values.batch, d.batch),
    intraOpThreads: values.threads === undefined ? undefined : positiveInt('threads', values.threads, 0),
  });
  console.log(`## engine\n\n${machineLine()}\n\n${engineReport(result)}`);
}
