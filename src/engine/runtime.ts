// Compiles traced functions to onnxruntime sessions and runs them. Sessions are cached by the traced
// function itself (an object, never a name a caller chooses) and the input shapes and dtypes: compile
// once per class set and view count, run per image. Two different graphs cannot share a session.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { lowerToOnnx, type ParamMode } from './onnx.js';
import { input, type DType, type HostArray, type Shape, type Tensor } from './tensor.js';

export type ExecutionProvider = 'cpu' | 'cuda' | 'dml' | 'coreml';

export interface EngineOptions {
  /** 'auto' picks the best provider this machine has (CUDA, DirectML, CoreML), else CPU. */
  provider?: ExecutionProvider | 'auto';
  /** Threads for one operator; default: onnxruntime's choice (all cores). */
  intraOpThreads?: number;
  log?: (message: string) => void;
}

export interface InputSpec {
  shape: Shape;
  dtype?: DType;
}

/** The symbolic inputs a graph is traced with, by name. */
export type Inputs<I extends string> = Record<I, Tensor>;

/** Traces a graph: from symbolic inputs to named symbolic outputs. */
export type Build<I extends string, O extends string> = (inputs: Inputs<I>) => Record<O, Tensor>;

/**
 * A function to compile. Its identity is the cache key: the engine reuses a session only for the same
 * TracedFunction object (and the same input shapes), so two graphs can never share one.
 */
export class TracedFunction<I extends string, O extends string> {
  constructor(
    /** For the ONNX graph's name and error messages only. */
    readonly name: string,
    readonly build: Build<I, O>,
  ) {}
}

/** A one-off traced function (its sessions are reused only through this object). */
export function traced<I extends string, O extends string>(
  name: string,
  build: Build<I, O>,
): TracedFunction<I, O> {
  return new TracedFunction(name, build);
}

type FamilyArg = string | number | boolean;

/**
 * A family of traced functions, one per owner (a model, a weight set) and build arguments: the same
 * owner and arguments give the same TracedFunction, so its sessions are reused across images; other
 * arguments give another function. `build(owner, ...args)` is the only thing that decides the graph,
 * so a graph's sessions cannot be taken for another's.
 */
export function tracedFamily<
  Owner extends object,
  Args extends FamilyArg[],
  I extends string,
  O extends string,
>(
  name: string,
  build: (owner: Owner, ...args: Args) => Build<I, O>,
): (owner: Owner, ...args: Args) => TracedFunction<I, O> {
  const byOwner = new WeakMap<Owner, Map<string, TracedFunction<I, O>>>();
  return (owner, ...args) => {
    let members = byOwner.get(owner);
    if (!members) byOwner.set(owner, (members = new Map()));
    // Primitive arguments: their JSON is one-to-one with their values.
    const key = JSON.stringify(args);
    let fn = members.get(key);
    if (!fn) {
      fn = traced(args.length > 0 ? `${name}(${args.join(',')})` : name, build(owner, ...args));
      members.set(key, fn);
    }
    return fn;
  };
}

export interface CompileOptions<I extends string> {
  /** Each input's static shape and dtype (default float32). */
  inputs: Record<I, InputSpec>;
  /** How weights enter the model; default: fed on CPU (one copy shared by all sessions), inlined on GPUs. */
  params?: ParamMode;
  /**
   * Keep onnxruntime's CPU memory arena (default true). An arena holds its session's peak working set
   * for the life of the session. A graph with a large working set that runs by turns with others (a
   * backward pass) is better without it: its memory goes back to the allocator after each run and the
   * next graph reuses it, so the process peaks at the largest working set instead of their sum
   * (BENCHMARKS.md, "session-memory" and "MetaTPT cost").
   */
  memoryArena?: boolean;
}

export interface RunResult {
  data: HostArray;
  shape: number[];
}

const ORT_TYPES: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  bool: 'bool',
};

// Not named `require`: bundlers (electron-vite's ESM shim) declare that name in the same scope.
const requireFromHere = createRequire(import.meta.url);

/**
 * Providers this build can start. onnxruntime lists CUDA on Linux and Windows even when its provider
 * libraries (installed separately by onnxruntime-node's installer) are missing, and trying it then
 * prints a native error: so CUDA counts only when its library is on disk next to the binding and,
 * on Linux, an NVIDIA driver is loaded.
 */
function providersAvailable(): Set<string> {
  const names = new Set<string>();
  for (const backend of ort.listSupportedBackends()) {
    if (backend.name !== 'cuda' || backend.bundled || cudaLibraryInstalled()) names.add(backend.name);
  }
  return names;
}

function cudaLibraryInstalled(): boolean {
  const binDir = join(dirname(requireFromHere.resolve('onnxruntime-node/package.json')), 'bin');
  const library =
    process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  const napiDirs = existsSync(binDir) ? readdirSync(binDir) : [];
  const installed = napiDirs.some((napi) =>
    existsSync(join(binDir, napi, process.platform, process.arch, library)),
  );
  return installed && (process.platform !== 'linux' || existsSync('/proc/driver/nvidia/version'));
}

function autoProvider(): ExecutionProvider {
  const available = providersAvailable();
  if (available.has('cuda')) return 'cuda';
  if (process.platform === 'win32' && available.has('dml')) return 'dml';
  if (process.platform === 'darwin' && available.has('coreml')) return 'coreml';
  return 'cpu';
}

/** Converts what callers naturally hold (Int32Array token ids, plain numbers) to what the input needs. */
function toOrtTensor(name: string, spec: Tensor, data: HostArray | readonly number[]): ort.Tensor {
  const expected = spec.size;
  if (data.length !== expected) {
    throw new Error(
      `input '${name}': expected ${expected} values for shape [${spec.shape.join(',')}], got ${data.length}`,
    );
  }
  let values: HostArray;
  if (spec.dtype === 'int64' && !(data instanceof BigInt64Array)) {
    values = BigInt64Array.from(data as ArrayLike<number>, (v) => BigInt(v));
  } else if (spec.dtype === 'float32' && !(data instanceof Float32Array)) {
    values = Float32Array.from(data as ArrayLike<number>);
  } else if (spec.dtype === 'float64' && !(data instanceof Float64Array)) {
    values = Float64Array.from(data as ArrayLike<number>);
  } else {
    values = data as HostArray;
  }
  return new ort.Tensor(ORT_TYPES[spec.dtype], values as ort.Tensor.DataType, [...spec.shape]);
}

export class CompiledFunction<I extends string, O extends string> {
  private readonly paramFeeds: Record<string, ort.Tensor>;

  constructor(
    /** The traced function's name, for messages. */
    readonly key: string,
    private readonly session: ort.InferenceSession,
    private readonly inputSpecs: ReadonlyMap<string, Tensor>,
    params: readonly { name: string; tensor: Tensor }[],
    readonly provider: ExecutionProvider,
  ) {
    // Weights become onnxruntime tensors once; onnxruntime reads them in place on every run.
    this.paramFeeds = Object.fromEntries(
      params.map(({ name, tensor }) => [name, toOrtTensor(name, tensor, tensor.attrs.data as HostArray)]),
    );
  }

  async run(feeds: Record<I, HostArray | readonly number[]>): Promise<Record<O, RunResult>> {
    const ortFeeds: Record<string, ort.Tensor> = { ...this.paramFeeds };
    for (const [name, spec] of this.inputSpecs) {
      const value = (feeds as Record<string, HostArray | readonly number[] | undefined>)[name];
      if (value === undefined) throw new Error(`${this.key}: missing input '${name}'`);
      ortFeeds[name] = toOrtTensor(name, spec, value);
    }
    const results = await this.session.run(ortFeeds);
    const out: Record<string, RunResult> = {};
    for (const [name, tensor] of Object.entries(results)) {
      out[name] = { data: tensor.data as RunResult['data'], shape: [...tensor.dims] };
    }
    return out as Record<O, RunResult>;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export class Engine {
  /** Sessions by traced function, then by input signature. */
  private readonly sessions = new Map<
    TracedFunction<string, string>,
    Map<string, Promise<CompiledFunction<string, string>>>
  >();
  private provider: ExecutionProvider;
  private announced = false;

  constructor(private readonly options: EngineOptions = {}) {
    const requested = options.provider ?? 'auto';
    this.provider = requested === 'auto' ? autoProvider() : requested;
  }

  /** The execution provider sessions are created with (after any fallback). */
  get executionProvider(): ExecutionProvider {
    return this.provider;
  }

  private log(message: string): void {
    (this.options.log ?? ((m: string) => process.stderr.write(`${m}\n`)))(message);
  }

  /**
   * Traces `fn` with inputs of the given shapes, lowers it to ONNX and creates the session, or reuses
   * the one made for the same function object, shapes and weight mode. Rejects (and caches nothing)
   * when onnxruntime refuses the graph.
   */
  compile<I extends string, O extends string>(
    fn: TracedFunction<I, O>,
    options: CompileOptions<I>,
  ): Promise<CompiledFunction<I, O>> {
    const signature = Object.entries<InputSpec>(options.inputs)
      .map(([name, s]) => `${name}:${s.dtype ?? 'float32'}[${s.shape.join(',')}]`)
      .join(';');
    const cacheKey = `${signature}|${options.params ?? 'default'}|${options.memoryArena ?? true}`;
    let bySignature = this.sessions.get(fn);
    if (!bySignature) this.sessions.set(fn, (bySignature = new Map()));
    let compiled = bySignature.get(cacheKey);
    if (!compiled) {
      const entries = bySignature;
      compiled = this.createFunction(fn, options);
      entries.set(cacheKey, compiled);
      compiled.catch(() => entries.delete(cacheKey));
    }
    return compiled as Promise<CompiledFunction<I, O>>;
  }

  private async createFunction<I extends string, O extends string>(
    fn: TracedFunction<I, O>,
    options: CompileOptions<I>,
  ): Promise<CompiledFunction<I, O>> {
    const key = fn.name;
    const inputTensors = Object.fromEntries(
      Object.entries<InputSpec>(options.inputs).map(([name, s]) => [
        name,
        input(name, s.shape, s.dtype ?? 'float32'),
      ]),
    ) as Inputs<I>;
    const outputs = fn.build(inputTensors);
    const paramMode = options.params ?? (this.provider === 'cpu' ? 'feed' : 'inline');
    const lowered = lowerToOnnx(key, outputs as Record<string, Tensor>, paramMode);
    const session = await this.createSession(key, lowered.bytes, options.memoryArena ?? true);
    // Inputs the outputs do not depend on are pruned from the graph; they are not fed.
    const used = new Map(lowered.inputs.map((t) => [t.attrs.name as string, t]));
    return new CompiledFunction<I, O>(key, session, used, lowered.params, this.provider);
  }

  private async createSession(
    key: string,
    bytes: Uint8Array,
    memoryArena: boolean,
  ): Promise<ort.InferenceSession> {
    const options = (provider: ExecutionProvider): ort.InferenceSession.SessionOptions => ({
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      // Adaptation runs many cached sessions by turns. The memory pattern keeps a second arena per
      // session (measured: a session's memory doubled on its second run), and spinning threads of an
      // idle session slow the next one (alternating two 13 ms sessions took 25 ms each): both off.
      enableMemPattern: false,
      enableCpuMemArena: memoryArena,
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      ...(this.options.intraOpThreads ? { intraOpNumThreads: this.options.intraOpThreads } : {}),
    });
    try {
      const session = await ort.InferenceSession.create(bytes, options(this.provider));
      this.announce();
      return session;
    } catch (error) {
      if (this.provider === 'cpu')
        throw new Error(`${key}: onnxruntime rejected the graph: ${(error as Error).message}`);
      this.log(
        `engine: warning: execution provider '${this.provider}' failed to start (${(error as Error).message}); falling back to cpu`,
      );
      this.provider = 'cpu';
      return this.createSession(key, bytes, memoryArena);
    }
  }

  private announce(): void {
    if (this.announced) return;
    this.announced = true;
    this.log(`engine: execution provider ${this.provider} (requested ${this.options.provider ?? 'auto'})`);
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()].flatMap((bySignature) => [...bySignature.values()]);
    this.sessions.clear();
    await Promise.all(all.map(async (p) => (await p).release()));
  }
}
