// Symbolic tensors. Calling model code on them records a graph of primitive ops with static shapes;
// nothing is computed until Engine.compile (runtime.ts) lowers the graph to ONNX (onnx.ts).
import { primitives, type Attrs } from './primitives.js';

export type FloatDType = 'float32' | 'float64' | 'float16';
export type DType = FloatDType | 'int64' | 'int32' | 'int8' | 'bool';
export type Shape = readonly number[];
export type HostArray =
  Float32Array | Float64Array | Int32Array | Int8Array | BigInt64Array | Uint8Array | Uint16Array;

export class ShapeError extends Error {
  override name = 'ShapeError';
}

let nextTensorId = 0;

/**
 * A node of the traced graph: the output of one primitive applied to its inputs. Leaves are the
 * primitives `input` (fed at run time), `param` (named data: weights, fed or inlined) and `constant`.
 */
export class Tensor {
  readonly id = nextTensorId++;

  constructor(
    readonly op: string,
    readonly inputs: readonly Tensor[],
    readonly attrs: Attrs,
    readonly shape: Shape,
    readonly dtype: DType,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get isFloat(): boolean {
    return isFloatDType(this.dtype);
  }

  toString(): string {
    return `${this.op}#${this.id}[${this.shape.join(',')}]:${this.dtype}`;
  }

  // Fluent forms of the ops below, so that model code reads like the maths.
  add(other: TensorLike): Tensor {
    return add(this, other);
  }
  sub(other: TensorLike): Tensor {
    return sub(this, other);
  }
  mul(other: TensorLike): Tensor {
    return mul(this, other);
  }
  div(other: TensorLike): Tensor {
    return div(this, other);
  }
  neg(): Tensor {
    return apply('neg', [this]);
  }
  exp(): Tensor {
    return apply('exp', [this]);
  }
  log(): Tensor {
    return apply('log', [this]);
  }
  sqrt(): Tensor {
    return apply('sqrt', [this]);
  }
  reciprocal(): Tensor {
    return apply('reciprocal', [this]);
  }
  pow(exponent: number): Tensor {
    return apply('pow', [this], { exponent });
  }
  square(): Tensor {
    return mul(this, this);
  }
  tanh(): Tensor {
    return apply('tanh', [this]);
  }
  sigmoid(): Tensor {
    return apply('sigmoid', [this]);
  }
  erf(): Tensor {
    return apply('erf', [this]);
  }
  floor(): Tensor {
    return apply('floor', [this]);
  }
  clip(min: number, max: number): Tensor {
    return apply('clip', [this], { min, max });
  }
  matmul(other: Tensor): Tensor {
    return apply('matmul', [this, other]);
  }
  reshape(shape: Shape): Tensor {
    return reshape(this, shape);
  }
  transpose(perm?: readonly number[]): Tensor {
    return apply('transpose', [this], { perm: perm ? [...perm] : [...this.shape.keys()].reverse() });
  }
  /** Swaps the last two axes. */
  get mT(): Tensor {
    const perm = [...this.shape.keys()];
    [perm[this.rank - 2], perm[this.rank - 1]] = [perm[this.rank - 1], perm[this.rank - 2]];
    return this.transpose(perm);
  }
  expand(shape: Shape): Tensor {
    return sameShape(this.shape, shape) ? this : apply('expand', [this], { shape: [...shape] });
  }
  slice(axis: number, start: number, end: number): Tensor {
    return slice(this, axis, start, end);
  }
  sum(axes?: number | readonly number[], keepDims = false): Tensor {
    return reduce('reduceSum', this, axes, keepDims);
  }
  mean(axes?: number | readonly number[], keepDims = false): Tensor {
    const normalized = normalizeAxes(axes, this.rank);
    const count = normalized.reduce((n, a) => n * this.shape[a], 1);
    return this.sum(normalized, keepDims).mul(1 / count);
  }
  max(axes?: number | readonly number[], keepDims = false): Tensor {
    return reduce('reduceMax', this, axes, keepDims);
  }
  softmax(axis = -1): Tensor {
    return apply('softmax', [this], { axis: normalizeAxis(axis, this.rank) });
  }
  logSoftmax(axis = -1): Tensor {
    return apply('logSoftmax', [this], { axis: normalizeAxis(axis, this.rank) });
  }
  logsumexp(axes?: number | readonly number[], keepDims = false): Tensor {
    return apply('logsumexp', [this], { axes: normalizeAxes(axes, this.rank), keepDims });
  }
  cast(dtype: DType): Tensor {
    return this.dtype === dtype ? this : apply('cast', [this], { to: dtype });
  }
  gather(indices: Tensor, axis = 0): Tensor {
    return apply('gather', [this, indices], { axis: normalizeAxis(axis, this.rank) });
  }
  lt(other: TensorLike): Tensor {
    return binary('less', this, other);
  }
  gt(other: TensorLike): Tensor {
    return binary('greater', this, other);
  }
  le(other: TensorLike): Tensor {
    return binary('lessOrEqual', this, other);
  }
  ge(other: TensorLike): Tensor {
    return binary('greaterOrEqual', this, other);
  }
}

export type TensorLike = Tensor | number;

export function isFloatDType(dtype: DType): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

/** Records one primitive application, checking shapes through the primitive's rule. */
export function apply(op: string, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor {
  const primitive = primitives[op];
  if (!primitive) throw new Error(`unknown primitive '${op}'`);
  const { shape, dtype } = primitive.infer(inputs, attrs);
  return new Tensor(op, inputs, attrs, shape, dtype);
}

// ---- leaves ---------------------------------------------------------------------------------------

/** A value fed at run time under `name`. */
export function input(name: string, shape: Shape, dtype: DType = 'float32'): Tensor {
  return apply('input', [], { name, shape: [...shape], dtype });
}

/** Named data that lives with the model (weights). Frozen unless asked for in grad(). */
export function param(name: string, shape: Shape, data: HostArray, dtype: DType = 'float32'): Tensor {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new ShapeError(
      `param '${name}': shape [${shape.join(',')}] needs ${expected} values, got ${data.length}`,
    );
  }
  return apply('param', [], { name, shape: [...shape], dtype, data });
}

/** A constant of the graph; `value` is a number (filled) or host data of the given shape. */
export function constant(value: number | HostArray, shape: Shape = [], dtype: DType = 'float32'): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = typeof value === 'number' ? filled(dtype, size, value) : value;
  if (data.length !== size) throw new ShapeError(`constant: shape [${shape.join(',')}] needs ${size} values`);
  return apply('constant', [], { shape: [...shape], dtype, data });
}

export function zerosLike(t: Tensor): Tensor {
  return constant(0, [], t.dtype).expand(t.shape);
}

function filled(dtype: DType, size: number, value: number): HostArray {
  switch (dtype) {
    case 'float64':
      return new Float64Array(size).fill(value);
    case 'int64':
      return new BigInt64Array(size).fill(BigInt(Math.trunc(value)));
    case 'int32':
      return new Int32Array(size).fill(value);
    case 'int8':
      return new Int8Array(size).fill(value);
    case 'bool':
      return new Uint8Array(size).fill(value ? 1 : 0);
    case 'float16':
      throw new Error('float16 constants are made by casting a float32 constant');
    default:
      return new Float32Array(size).fill(value);
  }
}

// ---- ops with broadcasting and number operands -------------------------------------------------------

function lift(value: TensorLike, like: Tensor): Tensor {
  return typeof value === 'number' ? constant(value, [], like.dtype) : value;
}

function binary(op: string, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number')
    throw new Error(`${op}: at least one operand must be a tensor`);
  const ta = typeof a === 'number' ? lift(a, b as Tensor) : a;
  const tb = typeof b === 'number' ? lift(b, ta) : b;
  return apply(op, [ta, tb]);
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('div', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('minimum', a, b);
export const equal = (a: TensorLike, b: TensorLike): Tensor => binary('equal', a, b);
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => apply('and', [a, b]);

export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = typeof a === 'number' ? (b as Tensor) : a;
  return apply('where', [condition, lift(a, like), lift(b, like)]);
}

export function reshape(t: Tensor, shape: Shape): Tensor {
  return sameShape(t.shape, shape) ? t : apply('reshape', [t], { shape: resolveReshape(t, shape) });
}

export function slice(t: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normalizeAxis(axis, t.rank);
  const dim = t.shape[ax];
  const s = Math.max(0, Math.min(dim, start < 0 ? start + dim : start));
  const e = Math.max(s, Math.min(dim, end < 0 ? end + dim : end));
  return s === 0 && e === dim ? t : apply('slice', [t], { axis: ax, start: s, end: e });
}

export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new ShapeError('concat: no tensors');
  if (tensors.length === 1) return tensors[0];
  return apply('concat', tensors, { axis: normalizeAxis(axis, tensors[0].rank) });
}

/** Pads with zeros: `pads[i] = [before, after]` for axis i. */
export function pad(t: Tensor, pads: readonly (readonly [number, number])[]): Tensor {
  if (pads.every(([b, a]) => b === 0 && a === 0)) return t;
  return apply('pad', [t], { pads: pads.map(([b, a]) => [b, a]) });
}

export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  const rank = tensors[0].rank + 1;
  const ax = normalizeAxis(axis, rank);
  return concat(
    tensors.map((t) => t.reshape([...t.shape.slice(0, ax), 1, ...t.shape.slice(ax)])),
    ax,
  );
}

/** x·Wᵀ + b, with W [out, in] as stored in PyTorch checkpoints. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor): Tensor {
  return apply('linear', [x, weight, bias]);
}

/** A weight [out, in] as int8 per output channel: W ≈ q·scale, q transposed to [in, out]. */
export interface QuantizedWeight {
  /** int8 [in, out] constant. */
  q: Tensor;
  /** float32 [out] constant: max |W_row| / 127 (1 for an all-zero row). */
  scale: Tensor;
}

/**
 * Symmetric per-output-channel int8 quantisation of a weight [out, in] stored row-major (the
 * scheme of onnxruntime's quantize_dynamic with per_channel: zero point 0, range ±127).
 */
export function quantizeWeight(data: Float32Array, shape: Shape): QuantizedWeight {
  const [out, inFeatures] = shape;
  if (shape.length !== 2 || data.length !== out * inFeatures)
    throw new ShapeError(
      `quantizeWeight: [${shape.join(',')}] needs a 2-D weight, got ${data.length} values`,
    );
  const q = new Int8Array(out * inFeatures);
  const scale = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let maxAbs = 0;
    for (let i = 0; i < inFeatures; i++) maxAbs = Math.max(maxAbs, Math.abs(data[o * inFeatures + i]));
    scale[o] = maxAbs > 0 ? maxAbs / 127 : 1;
    for (let i = 0; i < inFeatures; i++) q[i * out + o] = Math.round(data[o * inFeatures + i] / scale[o]);
  }
  return { q: constant(q, [inFeatures, out], 'int8'), scale: constant(scale, [out]) };
}

/** y ≈ x·Wᵀ + b with W int8 per channel and x quantised per call (inference only, no gradient). */
export function quantizedLinear(x: Tensor, weight: QuantizedWeight, bias: Tensor): Tensor {
  return apply('quantizedLinear', [x, weight.q, weight.scale, bias]);
}

/** Layer normalisation over the last axis with learned scale and shift. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  return apply('layerNorm', [x, weight, bias], { eps });
}

function reduce(
  op: string,
  t: Tensor,
  axes: number | readonly number[] | undefined,
  keepDims: boolean,
): Tensor {
  const normalized = normalizeAxes(axes, t.rank);
  return normalized.length === 0 ? t : apply(op, [t], { axes: normalized, keepDims });
}

/** Sums `t` down to `shape`, undoing numpy-style broadcasting (the gradient of expand). */
export function sumTo(t: Tensor, shape: Shape): Tensor {
  if (sameShape(t.shape, shape)) return t;
  const lead = t.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < t.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && t.shape[i] !== 1)) axes.push(i);
  }
  return t.sum(axes, true).reshape(shape);
}

// ---- shape helpers ----------------------------------------------------------------------------------

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function normalizeAxis(axis: number, rank: number): number {
  const ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank) throw new ShapeError(`axis ${axis} out of range for rank ${rank}`);
  return ax;
}

export function normalizeAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : axes;
  return [...new Set(list.map((a) => normalizeAxis(a, rank)))].sort((a, b) => a - b);
}

function resolveReshape(t: Tensor, shape: Shape): number[] {
  const inferred = shape.indexOf(-1);
  const known = shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  const resolved = [...shape];
  if (inferred >= 0) resolved[inferred] = t.size / known;
  if (resolved.reduce((a, b) => a * b, 1) !== t.size || !resolved.every(Number.isInteger)) {
    throw new ShapeError(`reshape: cannot reshape [${t.shape.join(',')}] to [${shape.join(',')}]`);
  }
  return resolved;
}

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: cannot broadcast [${a.join(',')}] with [${b.join(',')}]`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}
