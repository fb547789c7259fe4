// The one table of primitives. Each entry holds, side by side:
//   infer — the shape/dtype rule (throws ShapeError naming the op and the shapes),
//   lower — its ONNX node(s),
//   vjp   — the vector-Jacobian product, written in the same traced ops, so gradients can be
//           differentiated again and are optimised like any other graph.
// Everything else (mean, linear layers, attention, losses, the image warp) is composed from these.
import {
  ShapeError,
  type DType,
  type HostArray,
  type Shape,
  Tensor,
  apply,
  broadcastShapes,
  equal,
  isFloatDType,
  logicalAnd,
  pad,
  sub,
  sumTo,
  where,
} from './tensor.js';
import type { LowerContext } from './onnx.js';

export type AttrValue = number | string | boolean | number[] | number[][] | HostArray;
export type Attrs = Readonly<Record<string, AttrValue>>;

/** Gradient with respect to each input; null where none flows (indices, masks, frozen leaves). */
type Vjp = (g: Tensor, out: Tensor) => (Tensor | null)[];

export interface Primitive {
  infer(inputs: readonly Tensor[], attrs: Attrs): { shape: Shape; dtype: DType };
  lower(ctx: LowerContext, inputs: string[], out: Tensor): string;
  vjp?: Vjp;
}

const fmt = (s: Shape): string => `[${s.join(',')}]`;

function sameDType(op: string, inputs: readonly Tensor[]): DType {
  const dtype = inputs[0].dtype;
  const other = inputs.find((t) => t.dtype !== dtype);
  if (other) throw new ShapeError(`${op}: dtype mismatch ${dtype} vs ${other.dtype}`);
  return dtype;
}

function floatInput(op: string, t: Tensor): void {
  if (!isFloatDType(t.dtype)) throw new ShapeError(`${op}: needs a float tensor, got ${t.dtype}`);
}

// Leaves have no inputs, so no vjp: grad() stops at them.
const leaf: Primitive = {
  infer: (_inputs, attrs) => ({ shape: attrs.shape as number[], dtype: attrs.dtype as DType }),
  lower: (ctx, _inputs, out) => ctx.leaf(out),
};

const unary = (onnxOp: string, vjp?: Vjp): Primitive => ({
  infer: ([x]) => {
    floatInput(onnxOp, x);
    return { shape: x.shape, dtype: x.dtype };
  },
  lower: (ctx, [x]) => ctx.node(onnxOp, [x]),
  vjp,
});

const broadcasting = (onnxOp: string, resultDType: 'same' | 'bool', vjp?: Vjp): Primitive => ({
  infer: (inputs) => {
    const dtype = sameDType(onnxOp, inputs);
    return {
      shape: broadcastShapes(onnxOp, inputs[0].shape, inputs[1].shape),
      dtype: resultDType === 'same' ? dtype : 'bool',
    };
  },
  lower: (ctx, ins) => ctx.node(onnxOp, ins),
  vjp,
});

const noGradient: Vjp = (_g, out) => out.inputs.map(() => null);

/** `g` with the reduced axes put back as size-1 dimensions, ready to broadcast against the input. */
function keepDimsShape(inShape: Shape, axes: readonly number[]): number[] {
  return inShape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reducedShape(op: string, x: Tensor, attrs: Attrs): number[] {
  const axes = attrs.axes as number[];
  if (axes.some((a) => a < 0 || a >= x.rank))
    throw new ShapeError(`${op}: axes [${axes}] out of range for ${fmt(x.shape)}`);
  return attrs.keepDims ? keepDimsShape(x.shape, axes) : x.shape.filter((_, i) => !axes.includes(i));
}

function inversePermutation(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return inverse;
}

export const primitives: Record<string, Primitive> = {
  input: leaf,
  param: leaf,
  constant: leaf,

  // ---- elementwise ---------------------------------------------------------------------------------
  add: broadcasting('Add', 'same', (g, { inputs: [a, b] }) => [sumTo(g, a.shape), sumTo(g, b.shape)]),
  sub: broadcasting('Sub', 'same', (g, { inputs: [a, b] }) => [sumTo(g, a.shape), sumTo(g.neg(), b.shape)]),
  mul: broadcasting('Mul', 'same', (g, { inputs: [a, b] }) => [
    sumTo(g.mul(b), a.shape),
    sumTo(g.mul(a), b.shape),
  ]),
  div: broadcasting('Div', 'same', (g, out) => {
    const [a, b] = out.inputs;
    return [sumTo(g.div(b), a.shape), sumTo(g.mul(out).div(b).neg(), b.shape)];
  }),
  maximum: broadcasting('Max', 'same', (g, { inputs: [a, b] }) => {
    const aWins = a.ge(b);
    return [sumTo(where(aWins, g, 0), a.shape), sumTo(where(aWins, 0, g), b.shape)];
  }),
  minimum: broadcasting('Min', 'same', (g, { inputs: [a, b] }) => {
    const aWins = a.le(b);
    return [sumTo(where(aWins, g, 0), a.shape), sumTo(where(aWins, 0, g), b.shape)];
  }),
  equal: broadcasting('Equal', 'bool', noGradient),
  less: broadcasting('Less', 'bool', noGradient),
  greater: broadcasting('Greater', 'bool', noGradient),
  lessOrEqual: broadcasting('LessOrEqual', 'bool', noGradient),
  greaterOrEqual: broadcasting('GreaterOrEqual', 'bool', noGradient),
  and: broadcasting('And', 'bool', noGradient),
  where: {
    infer: ([c, a, b]) => {
      if (c.dtype !== 'bool') throw new ShapeError(`where: condition must be bool, got ${c.dtype}`);
      const dtype = sameDType('where', [a, b]);
      return { shape: broadcastShapes('where', c.shape, broadcastShapes('where', a.shape, b.shape)), dtype };
    },
    lower: (ctx, ins) => ctx.node('Where', ins),
    vjp: (g, { inputs: [c, a, b] }) => [null, sumTo(where(c, g, 0), a.shape), sumTo(where(c, 0, g), b.shape)],
  },
  neg: unary('Neg', (g) => [g.neg()]),
  exp: unary('Exp', (g, out) => [g.mul(out)]),
  log: unary('Log', (g, { inputs: [x] }) => [g.div(x)]),
  sqrt: unary('Sqrt', (g, out) => [g.mul(0.5).div(out)]),
  reciprocal: unary('Reciprocal', (g, out) => [g.mul(out).mul(out).neg()]),
  tanh: unary('Tanh', (g, out) => [g.mul(sub(1, out.mul(out)))]),
  sigmoid: unary('Sigmoid', (g, out) => [g.mul(out).mul(sub(1, out))]),
  erf: {
    ...unary('Erf', (g, { inputs: [x] }) => [g.mul(x.mul(x).neg().exp()).mul(2 / Math.sqrt(Math.PI))]),
    // onnxruntime's CPU Erf exists for float32 only: float64 graphs (gradient checks) go through it.
    lower: (ctx, [x], out) =>
      out.dtype === 'float64'
        ? ctx.node('Cast', [ctx.node('Erf', [ctx.node('Cast', [x], { to: ctx.dtypeCode('float32') })])], {
            to: ctx.dtypeCode('float64'),
          })
        : ctx.node('Erf', [x]),
  },
  // Piecewise constant: the gradient is zero wherever it is defined.
  floor: unary('Floor', noGradient),
  pow: {
    infer: ([x]) => {
      floatInput('pow', x);
      return { shape: x.shape, dtype: x.dtype };
    },
    lower: (ctx, [x], out) => ctx.node('Pow', [x, ctx.scalar(out.attrs.exponent as number, out.dtype)]),
    vjp: (g, { inputs: [x], attrs }) => {
      const p = attrs.exponent as number;
      return [g.mul(p).mul(p === 2 ? x : x.pow(p - 1))];
    },
  },
  clip: {
    infer: ([x], attrs) => {
      floatInput('clip', x);
      if ((attrs.min as number) > (attrs.max as number))
        throw new ShapeError(`clip: min ${attrs.min} > max ${attrs.max}`);
      return { shape: x.shape, dtype: x.dtype };
    },
    lower: (ctx, [x], out) =>
      ctx.node('Clip', [
        x,
        ctx.scalar(out.attrs.min as number, out.dtype),
        ctx.scalar(out.attrs.max as number, out.dtype),
      ]),
    // Gradient passes where the value was inside [min, max].
    vjp: (g, { inputs: [x], attrs }) => [
      where(logicalAnd(x.ge(attrs.min as number), x.le(attrs.max as number)), g, 0),
    ],
  },
  cast: {
    infer: ([x], attrs) => ({ shape: x.shape, dtype: attrs.to as DType }),
    lower: (ctx, [x], out) => ctx.node('Cast', [x], { to: ctx.dtypeCode(out.dtype) }),
    vjp: (g, { inputs: [x] }) => [x.isFloat && g.isFloat ? g.cast(x.dtype) : null],
  },

  // ---- linear algebra -----------------------------------------------------------------------------
  matmul: {
    infer: ([a, b]) => {
      const dtype = sameDType('matmul', [a, b]);
      if (a.rank < 2 || b.rank < 2)
        throw new ShapeError(`matmul: needs rank ≥ 2, got ${fmt(a.shape)} @ ${fmt(b.shape)}`);
      const [m, k] = a.shape.slice(-2);
      const [k2, n] = b.shape.slice(-2);
      if (k !== k2)
        throw new ShapeError(`matmul: inner dimensions differ in ${fmt(a.shape)} @ ${fmt(b.shape)}`);
      const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
      return { shape: [...batch, m, n], dtype };
    },
    lower: (ctx, ins) => ctx.node('MatMul', ins),
    vjp: (g, { inputs: [a, b] }) => [sumTo(g.matmul(b.mT), a.shape), sumTo(a.mT.matmul(g), b.shape)],
  },

  // y = x·Wᵀ + b with W stored [out, in] as in PyTorch checkpoints: Gemm reads W transposed in place,
  // so weights are used as loaded, never copied or transposed per run.
  linear: {
    infer: ([x, w, b]) => {
      const dtype = sameDType('linear', [x, w, b]);
      const [out, inFeatures] = w.shape;
      if (w.rank !== 2 || x.shape[x.rank - 1] !== inFeatures || b.rank !== 1 || b.shape[0] !== out) {
        throw new ShapeError(
          `linear: input ${fmt(x.shape)}, weight ${fmt(w.shape)} and bias ${fmt(b.shape)} do not fit`,
        );
      }
      return { shape: [...x.shape.slice(0, -1), out], dtype };
    },
    lower: (ctx, [x, w, b], out) => {
      const [xT] = out.inputs;
      const rows = xT.size / xT.shape[xT.rank - 1];
      const flat = xT.rank === 2 ? x : ctx.node('Reshape', [x, ctx.int64s([rows, xT.shape[xT.rank - 1]])]);
      const y = ctx.node('Gemm', [flat, w, b], { transB: 1 });
      return xT.rank === 2 ? y : ctx.node('Reshape', [y, ctx.int64s(out.shape)]);
    },
    vjp: (g, { inputs: [x, w, b] }) => {
      const g2 = g.reshape([-1, w.shape[0]]);
      const x2 = x.reshape([-1, w.shape[1]]);
      return [g.matmul(w), g2.mT.matmul(x2), sumTo(g2, b.shape)];
    },
  },

  // y ≈ x·Wᵀ + b with W quantised per output channel (W ≈ q·scale, q int8 stored [in, out]) and x
  // quantised per call: ONNX's dynamic quantisation (DynamicQuantizeLinear, MatMulInteger, then the
  // product of the two scales), the pattern onnxruntime fuses into one integer GEMM (VNNI on x86).
  // Inference only: no gradient rule, so grad() through it is an error rather than a silent zero.
  quantizedLinear: {
    infer: ([x, q, scale, b]) => {
      const [inFeatures, out] = q.shape;
      const fits =
        x.dtype === 'float32' &&
        q.dtype === 'int8' &&
        q.rank === 2 &&
        x.shape[x.rank - 1] === inFeatures &&
        [scale, b].every((t) => t.dtype === 'float32' && t.rank === 1 && t.shape[0] === out);
      if (!fits) {
        throw new ShapeError(
          `quantizedLinear: input ${fmt(x.shape)}:${x.dtype}, weight ${fmt(q.shape)}:${q.dtype}, ` +
            `scale ${fmt(scale.shape)} and bias ${fmt(b.shape)} do not fit (float32 input, int8 [in, out] weight)`,
        );
      }
      return { shape: [...x.shape.slice(0, -1), out], dtype: 'float32' };
    },
    lower: (ctx, [x, q, scale, b]) => {
      const [xq, xScale, xZeroPoint] = ctx.nodeOutputs('DynamicQuantizeLinear', [x], 3);
      const acc = ctx.node('MatMulInteger', [xq, q, xZeroPoint]);
      const accFloat = ctx.node('Cast', [acc], { to: ctx.dtypeCode('float32') });
      return ctx.node('Add', [ctx.node('Mul', [accFloat, ctx.node('Mul', [xScale, scale])]), b]);
    },
  },

  // ---- movement -----------------------------------------------------------------------------------
  reshape: {
    infer: ([x], attrs) => ({ shape: attrs.shape as number[], dtype: x.dtype }),
    lower: (ctx, [x], out) => ctx.node('Reshape', [x, ctx.int64s(out.shape)]),
    vjp: (g, { inputs: [x] }) => [g.reshape(x.shape)],
  },
  transpose: {
    infer: ([x], attrs) => {
      const perm = attrs.perm as number[];
      if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
        throw new ShapeError(`transpose: perm [${perm}] is not a permutation of the axes of ${fmt(x.shape)}`);
      }
      return { shape: perm.map((p) => x.shape[p]), dtype: x.dtype };
    },
    lower: (ctx, [x], out) => ctx.node('Transpose', [x], { perm: out.attrs.perm as number[] }),
    vjp: (g, { attrs }) => [g.transpose(inversePermutation(attrs.perm as number[]))],
  },
  expand: {
    infer: ([x], attrs) => {
      const shape = attrs.shape as number[];
      const out = broadcastShapes('expand', x.shape, shape);
      if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
        throw new ShapeError(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)}`);
      }
      return { shape, dtype: x.dtype };
    },
    lower: (ctx, [x], out) => ctx.node('Expand', [x, ctx.int64s(out.shape)]),
    vjp: (g, { inputs: [x] }) => [sumTo(g, x.shape)],
  },
  slice: {
    infer: ([x], attrs) => {
      const { axis, start, end } = attrs as { axis: number; start: number; end: number };
      if (axis >= x.rank || start < 0 || end > x.shape[axis] || start > end) {
        throw new ShapeError(`slice: [${start}, ${end}) on axis ${axis} is outside ${fmt(x.shape)}`);
      }
      return { shape: x.shape.map((d, i) => (i === axis ? end - start : d)), dtype: x.dtype };
    },
    lower: (ctx, [x], out) => {
      const { axis, start, end } = out.attrs as { axis: number; start: number; end: number };
      return ctx.node('Slice', [x, ctx.int64s([start]), ctx.int64s([end]), ctx.int64s([axis])]);
    },
    vjp: (g, { inputs: [x], attrs }) => {
      const { axis, start, end } = attrs as { axis: number; start: number; end: number };
      return [
        pad(
          g,
          x.shape.map((d, i) => (i === axis ? [start, d - end] : [0, 0])),
        ),
      ];
    },
  },
  concat: {
    infer: (inputs, attrs) => {
      const axis = attrs.axis as number;
      const dtype = sameDType('concat', inputs);
      const first = inputs[0].shape;
      for (const t of inputs) {
        if (t.rank !== first.length || t.shape.some((d, i) => i !== axis && d !== first[i])) {
          throw new ShapeError(
            `concat: shapes ${inputs.map((i) => fmt(i.shape)).join(' ')} differ off axis ${axis}`,
          );
        }
      }
      const total = inputs.reduce((n, t) => n + t.shape[axis], 0);
      return { shape: first.map((d, i) => (i === axis ? total : d)), dtype };
    },
    lower: (ctx, ins, out) => ctx.node('Concat', ins, { axis: out.attrs.axis as number }),
    vjp: (g, { inputs, attrs }) => {
      const axis = attrs.axis as number;
      let offset = 0;
      return inputs.map((t) => {
        const part = g.slice(axis, offset, offset + t.shape[axis]);
        offset += t.shape[axis];
        return part;
      });
    },
  },
  pad: {
    infer: ([x], attrs) => {
      const pads = attrs.pads as number[][];
      if (pads.length !== x.rank || pads.some(([b, a]) => b < 0 || a < 0)) {
        throw new ShapeError(
          `pad: pads ${JSON.stringify(pads)} do not fit ${fmt(x.shape)} (one non-negative [before, after] per axis)`,
        );
      }
      return { shape: x.shape.map((d, i) => d + pads[i][0] + pads[i][1]), dtype: x.dtype };
    },
    lower: (ctx, [x], out) => {
      const pads = out.attrs.pads as number[][];
      return ctx.node('Pad', [x, ctx.int64s([...pads.map((p) => p[0]), ...pads.map((p) => p[1])])]);
    },
    vjp: (g, { inputs: [x], attrs }) => {
      const pads = attrs.pads as number[][];
      return [x.shape.reduce((t, d, axis) => t.slice(axis, pads[axis][0], pads[axis][0] + d), g)];
    },
  },
  gather: {
    infer: ([data, indices], attrs) => {
      const axis = attrs.axis as number;
      if (indices.dtype !== 'int64' && indices.dtype !== 'int32') {
        throw new ShapeError(`gather: indices must be int64 or int32, got ${indices.dtype}`);
      }
      return {
        shape: [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)],
        dtype: data.dtype,
      };
    },
    lower: (ctx, ins, out) => ctx.node('Gather', ins, { axis: out.attrs.axis as number }),
    vjp: (g, { inputs: [data, indices], attrs }) => [
      apply('scatterAdd', [g, indices], {
        axis: attrs.axis as number,
        size: data.shape[attrs.axis as number],
      }),
      null,
    ],
  },
  // The adjoint of gather: a zero tensor of the gathered-from shape with the rows of `g` added at `indices`.
  scatterAdd: {
    infer: ([g, indices], attrs) => {
      const { axis, size } = attrs as { axis: number; size: number };
      const gathered = g.shape.slice(axis, axis + indices.rank);
      if (!Number.isInteger(size) || size < 1 || gathered.some((d, i) => d !== indices.shape[i])) {
        throw new ShapeError(
          `scatterAdd: size ${size} at axis ${axis} does not fit ${fmt(g.shape)} with indices ${fmt(indices.shape)}`,
        );
      }
      const shape = [...g.shape.slice(0, axis), size, ...g.shape.slice(axis + indices.rank)];
      return { shape, dtype: g.dtype };
    },
    lower: (ctx, [g, indices], out) => {
      const { axis } = out.attrs as { axis: number };
      const indexRank = out.inputs[1].rank;
      const gRank = out.inputs[0].rank;
      // Scatter along the leading axis: move the gathered axes first, scatter, move back.
      const toFront = [...Array(indexRank).keys()].map((i) => axis + i);
      const gPerm = [...toFront, ...[...Array(gRank).keys()].filter((i) => !toFront.includes(i))];
      const outPerm = [axis, ...[...Array(out.rank).keys()].filter((i) => i !== axis)];
      const frontShape = outPerm.map((p) => out.shape[p]);
      const zeros = ctx.node('ConstantOfShape', [ctx.int64s(frontShape)], {
        value: ctx.zeroTensor(out.dtype),
      });
      // ScatterElements, not ScatterND: onnxruntime's CPU ScatterND adds in parallel and races on
      // repeated indices (lost updates, results that change from run to run: onnxruntime issues
      // #18048, #23396), and a gather's indices repeat whenever a row is read twice. ScatterElements
      // adds one element at a time; it takes the updates at the data's rank with one index each.
      const count = out.inputs[1].shape.reduce((n, d) => n * d, 1);
      const rest = frontShape.slice(1);
      const updates = ctx.node('Reshape', [
        ctx.node('Transpose', [g], { perm: gPerm }),
        ctx.int64s([count, ...rest]),
      ]);
      const idx = ctx.node('Expand', [
        ctx.node('Reshape', [
          ctx.node('Cast', [indices], { to: ctx.dtypeCode('int64') }),
          ctx.int64s([count, ...rest.map(() => 1)]),
        ]),
        ctx.int64s([count, ...rest]),
      ]);
      const scattered = ctx.node('ScatterElements', [zeros, idx, updates], { axis: 0, reduction: 'add' });
      return ctx.node('Transpose', [scattered], { perm: inversePermutation(outPerm) });
    },
    vjp: (g, { inputs: [, indices], attrs }) => [g.gather(indices, attrs.axis as number), null],
  },

  // ---- reductions and normalisations ------------------------------------------------------------------
  reduceSum: {
    infer: ([x], attrs) => ({ shape: reducedShape('reduceSum', x, attrs), dtype: x.dtype }),
    lower: (ctx, [x], out) =>
      ctx.node('ReduceSum', [x, ctx.int64s(out.attrs.axes as number[])], {
        keepdims: out.attrs.keepDims ? 1 : 0,
      }),
    vjp: (g, { inputs: [x], attrs }) => [
      g.reshape(keepDimsShape(x.shape, attrs.axes as number[])).expand(x.shape),
    ],
  },
  reduceMax: {
    infer: ([x], attrs) => ({ shape: reducedShape('reduceMax', x, attrs), dtype: x.dtype }),
    lower: (ctx, [x], out) =>
      ctx.node('ReduceMax', [x, ctx.int64s(out.attrs.axes as number[])], {
        keepdims: out.attrs.keepDims ? 1 : 0,
      }),
    // Ties share the gradient equally.
    vjp: (g, out) => {
      const [x] = out.inputs;
      const keep = keepDimsShape(x.shape, out.attrs.axes as number[]);
      const isMax = equal(x, out.reshape(keep)).cast(x.dtype);
      const count = isMax.sum(out.attrs.axes as number[], true);
      return [g.reshape(keep).mul(isMax).div(count)];
    },
  },
  softmax: {
    infer: ([x]) => ({ shape: x.shape, dtype: x.dtype }),
    lower: (ctx, [x], out) => ctx.node('Softmax', [x], { axis: out.attrs.axis as number }),
    vjp: (g, out) => [out.mul(g.sub(g.mul(out).sum(out.attrs.axis as number, true)))],
  },
  logSoftmax: {
    infer: ([x]) => ({ shape: x.shape, dtype: x.dtype }),
    lower: (ctx, [x], out) => ctx.node('LogSoftmax', [x], { axis: out.attrs.axis as number }),
    vjp: (g, out) => [g.sub(out.exp().mul(g.sum(out.attrs.axis as number, true)))],
  },
  logsumexp: {
    infer: ([x], attrs) => ({ shape: reducedShape('logsumexp', x, attrs), dtype: x.dtype }),
    // Stable form: max + log(sum(exp(x - max))).
    lower: (ctx, [x], out) => {
      const axes = ctx.int64s(out.attrs.axes as number[]);
      const max = ctx.node('ReduceMax', [x, axes], { keepdims: 1 });
      const sum = ctx.node('ReduceSum', [ctx.node('Exp', [ctx.node('Sub', [x, max])]), axes], {
        keepdims: 1,
      });
      const result = ctx.node('Add', [ctx.node('Log', [sum]), max]);
      return out.attrs.keepDims ? result : ctx.node('Reshape', [result, ctx.int64s(out.shape)]);
    },
    vjp: (g, out) => {
      const [x] = out.inputs;
      const keep = keepDimsShape(x.shape, out.attrs.axes as number[]);
      return [g.reshape(keep).mul(x.sub(out.reshape(keep)).exp())];
    },
  },
  layerNorm: {
    infer: ([x, w, b]) => {
      const dtype = sameDType('layerNorm', [x, w, b]);
      const n = x.shape[x.rank - 1];
      if (w.rank !== 1 || b.rank !== 1 || w.shape[0] !== n || b.shape[0] !== n) {
        throw new ShapeError(
          `layerNorm: weight ${fmt(w.shape)} and bias ${fmt(b.shape)} must be [${n}] for input ${fmt(x.shape)}`,
        );
      }
      return { shape: x.shape, dtype };
    },
    lower: (ctx, ins, out) =>
      ctx.node('LayerNormalization', ins, { axis: -1, epsilon: { float: out.attrs.eps as number } }),
    vjp: (g, { inputs: [x, w, b], attrs }) => {
      const centered = x.sub(x.mean(-1, true));
      const rstd = centered
        .square()
        .mean(-1, true)
        .add(attrs.eps as number)
        .sqrt()
        .reciprocal();
      const xhat = centered.mul(rstd);
      const dxhat = g.mul(w);
      const dx = dxhat
        .sub(dxhat.mean(-1, true))
        .sub(xhat.mul(dxhat.mul(xhat).mean(-1, true)))
        .mul(rstd);
      return [dx, sumTo(g.mul(xhat), w.shape), sumTo(g, b.shape)];
    },
  },
};
