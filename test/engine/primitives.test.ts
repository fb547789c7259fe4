import { describe, expect, it } from 'vitest';
import { primitives } from '../../src/engine/primitives.js';
import type { Random } from '../../src/engine/random.js';
import {
  apply,
  concat,
  constant,
  input,
  logicalAnd,
  layerNorm,
  linear,
  quantizedLinear,
  quantizeWeight,
  maximum,
  minimum,
  pad,
  type Tensor,
  where,
} from '../../src/engine/tensor.js';
import { checkGradient, engine, type GradInput } from './gradcheck.js';
import { traced } from '../../src/engine/runtime.js';

const positive = (r: Random): number => r.uniform(0.5, 2);
const awayFromZero = (r: Random): number => (r.next() < 0.5 ? -1 : 1) * r.uniform(0.5, 2);
/** Distinct values, so that max/min/clip never sit on a tie or a kink. */
const spread = (r: Random): number => Math.round(r.uniform(-40, 40)) / 10 + r.uniform(0.01, 0.04);

const i64 = (values: number[]): Tensor =>
  constant(BigInt64Array.from(values.map(BigInt)), [values.length], 'int64');

interface Case {
  name: string;
  primitive: string;
  inputs: Record<string, GradInput>;
  f: (x: Record<string, Tensor>) => Tensor;
  /** Finite-difference settings where the forward value is only float32-accurate. */
  precision?: { eps: number; tolerance: number };
}

const cases: Case[] = [
  {
    name: 'add',
    primitive: 'add',
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 3] } },
    f: ({ a, b }) => a.add(b),
  },
  {
    name: 'add broadcast',
    primitive: 'add',
    inputs: { a: { shape: [2, 1, 4] }, b: { shape: [3, 1] } },
    f: ({ a, b }) => a.add(b),
  },
  {
    name: 'sub broadcast',
    primitive: 'sub',
    inputs: { a: { shape: [3] }, b: { shape: [2, 3] } },
    f: ({ a, b }) => a.sub(b),
  },
  {
    name: 'mul broadcast',
    primitive: 'mul',
    inputs: { a: { shape: [2, 3] }, b: { shape: [1, 3] } },
    f: ({ a, b }) => a.mul(b),
  },
  {
    name: 'div broadcast',
    primitive: 'div',
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 1], sample: awayFromZero } },
    f: ({ a, b }) => a.div(b),
  },
  {
    name: 'maximum',
    primitive: 'maximum',
    inputs: { a: { shape: [2, 3], sample: spread }, b: { shape: [3], sample: spread } },
    f: ({ a, b }) => maximum(a, b),
  },
  {
    name: 'minimum',
    primitive: 'minimum',
    inputs: { a: { shape: [2, 3], sample: spread }, b: { shape: [2, 1], sample: spread } },
    f: ({ a, b }) => minimum(a, b),
  },
  {
    name: 'where',
    primitive: 'where',
    inputs: { a: { shape: [2, 3] }, b: { shape: [3] }, c: { shape: [2, 3], sample: spread } },
    f: ({ a, b, c }) => where(c.gt(0), a, b),
  },
  { name: 'neg', primitive: 'neg', inputs: { x: { shape: [4] } }, f: ({ x }) => x.neg() },
  { name: 'exp', primitive: 'exp', inputs: { x: { shape: [2, 3] } }, f: ({ x }) => x.exp() },
  {
    name: 'log',
    primitive: 'log',
    inputs: { x: { shape: [2, 3], sample: positive } },
    f: ({ x }) => x.log(),
  },
  {
    name: 'sqrt',
    primitive: 'sqrt',
    inputs: { x: { shape: [2, 3], sample: positive } },
    f: ({ x }) => x.sqrt(),
  },
  {
    name: 'reciprocal',
    primitive: 'reciprocal',
    inputs: { x: { shape: [5], sample: awayFromZero } },
    f: ({ x }) => x.reciprocal(),
  },
  { name: 'pow 3', primitive: 'pow', inputs: { x: { shape: [5] } }, f: ({ x }) => x.pow(3) },
  {
    name: 'pow 0.5',
    primitive: 'pow',
    inputs: { x: { shape: [5], sample: positive } },
    f: ({ x }) => x.pow(0.5),
  },
  { name: 'tanh', primitive: 'tanh', inputs: { x: { shape: [2, 3] } }, f: ({ x }) => x.tanh() },
  { name: 'sigmoid', primitive: 'sigmoid', inputs: { x: { shape: [2, 3] } }, f: ({ x }) => x.sigmoid() },
  {
    name: 'erf (float32 kernel)',
    primitive: 'erf',
    inputs: { x: { shape: [2, 3] } },
    f: ({ x }) => x.erf(),
    precision: { eps: 1e-3, tolerance: 1e-3 },
  },
  {
    name: 'floor',
    primitive: 'floor',
    inputs: { x: { shape: [5], sample: spread } },
    f: ({ x }) => x.floor().add(x),
  },
  {
    name: 'clip',
    primitive: 'clip',
    inputs: { x: { shape: [8], sample: spread } },
    f: ({ x }) => x.clip(-1, 1.5),
  },
  { name: 'cast', primitive: 'cast', inputs: { x: { shape: [3] } }, f: ({ x }) => x.cast('float64').mul(x) },
  {
    name: 'matmul',
    primitive: 'matmul',
    inputs: { a: { shape: [2, 3] }, b: { shape: [3, 4] } },
    f: ({ a, b }) => a.matmul(b),
  },
  {
    name: 'matmul batched',
    primitive: 'matmul',
    inputs: { a: { shape: [2, 2, 3] }, b: { shape: [3, 2] } },
    f: ({ a, b }) => a.matmul(b),
  },
  {
    name: 'matmul broadcast batch',
    primitive: 'matmul',
    inputs: { a: { shape: [1, 2, 3] }, b: { shape: [2, 3, 2] } },
    f: ({ a, b }) => a.matmul(b),
  },
  {
    name: 'linear',
    primitive: 'linear',
    inputs: { x: { shape: [2, 3, 4] }, w: { shape: [5, 4] }, b: { shape: [5] } },
    f: ({ x, w, b }) => linear(x, w, b),
  },
  {
    name: 'linear 2-D',
    primitive: 'linear',
    inputs: { x: { shape: [3, 4] }, w: { shape: [2, 4] }, b: { shape: [2] } },
    f: ({ x, w, b }) => linear(x, w, b),
  },
  {
    name: 'reshape',
    primitive: 'reshape',
    inputs: { x: { shape: [2, 6] } },
    f: ({ x }) => x.reshape([3, -1]).exp(),
  },
  {
    name: 'transpose',
    primitive: 'transpose',
    inputs: { x: { shape: [2, 3, 4] } },
    f: ({ x }) => x.transpose([2, 0, 1]).mul(x.transpose([2, 0, 1])),
  },
  {
    name: 'expand',
    primitive: 'expand',
    inputs: { x: { shape: [3, 1] } },
    f: ({ x }) => x.expand([2, 3, 4]).exp(),
  },
  {
    name: 'slice',
    primitive: 'slice',
    inputs: { x: { shape: [3, 5] } },
    f: ({ x }) => x.slice(1, 1, 4).exp(),
  },
  {
    name: 'concat',
    primitive: 'concat',
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 1] } },
    f: ({ a, b }) => concat([a, b, a], 1).exp(),
  },
  {
    name: 'pad',
    primitive: 'pad',
    inputs: { x: { shape: [2, 3] } },
    f: ({ x }) =>
      pad(x, [
        [1, 0],
        [2, 1],
      ]).exp(),
  },
  {
    name: 'gather axis 0 (repeated indices)',
    primitive: 'gather',
    inputs: { x: { shape: [4, 3] } },
    f: ({ x }) => x.gather(i64([3, 0, 3, 1])).exp(),
  },
  {
    name: 'gather axis 1 (2-D indices)',
    primitive: 'gather',
    inputs: { x: { shape: [2, 4, 3] } },
    f: ({ x }) => x.gather(constant(BigInt64Array.from([1n, 1n, 0n, 3n, 2n, 1n]), [2, 3], 'int64'), 1).exp(),
  },
  {
    name: 'gather gradient (scatterAdd) is differentiable',
    primitive: 'scatterAdd',
    inputs: { g: { shape: [3, 2] } },
    f: ({ g }) =>
      g
        .mul(g)
        .gather(i64([1, 1, 0]))
        .sum(0, true)
        .expand([3, 2]),
  },
  {
    name: 'sum',
    primitive: 'reduceSum',
    inputs: { x: { shape: [2, 3, 4] } },
    f: ({ x }) => x.sum([0, 2]).exp(),
  },
  {
    name: 'sum keepdims',
    primitive: 'reduceSum',
    inputs: { x: { shape: [2, 3] } },
    f: ({ x }) => x.sum(1, true).mul(x),
  },
  {
    name: 'max',
    primitive: 'reduceMax',
    inputs: { x: { shape: [3, 4], sample: spread } },
    f: ({ x }) => x.max(1),
  },
  { name: 'softmax', primitive: 'softmax', inputs: { x: { shape: [2, 5] } }, f: ({ x }) => x.softmax(-1) },
  {
    name: 'softmax axis 0',
    primitive: 'softmax',
    inputs: { x: { shape: [3, 2] } },
    f: ({ x }) => x.softmax(0),
  },
  {
    name: 'logSoftmax',
    primitive: 'logSoftmax',
    inputs: { x: { shape: [2, 5] } },
    f: ({ x }) => x.logSoftmax(-1),
  },
  {
    name: 'logsumexp',
    primitive: 'logsumexp',
    inputs: { x: { shape: [3, 4] } },
    f: ({ x }) => x.logsumexp(0),
  },
  {
    name: 'layerNorm',
    primitive: 'layerNorm',
    inputs: { x: { shape: [2, 3, 5] }, w: { shape: [5] }, b: { shape: [5] } },
    f: ({ x, w, b }) => layerNorm(x, w, b, 1e-5),
  },
];

describe('gradient rules against central finite differences (float64)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      await checkGradient(c.inputs, c.f, c.precision);
    });
  }

  it('every primitive with a gradient rule is covered', () => {
    const covered = new Set(cases.map((c) => c.primitive));
    const noRule = ['input', 'param', 'constant'];
    const comparisons = ['equal', 'less', 'greater', 'lessOrEqual', 'greaterOrEqual', 'and'];
    // Inference only: grad() through it throws (test/engine/clip/precision.test.ts).
    const inferenceOnly = ['quantizedLinear'];
    const missing = Object.keys(primitives).filter(
      (p) => !covered.has(p) && ![...noRule, ...comparisons, ...inferenceOnly].includes(p),
    );
    expect(missing).toEqual([]);
  });
});

describe('forward values', () => {
  it('logsumexp is stable for large inputs', async () => {
    const f = await engine.compile(
      traced('lse-stable', ({ x }) => ({ y: x.logsumexp(-1), s: x.logSoftmax(-1) })),
      { inputs: { x: { shape: [1, 3] } } },
    );
    const out = await f.run({ x: [1000, 1000, 990] });
    expect((out.y.data as Float32Array)[0]).toBeCloseTo(1000 + Math.log(2 + Math.exp(-10)), 3);
    expect(Number.isFinite((out.s.data as Float32Array)[2])).toBe(true);
  });

  it('comparisons give booleans and no gradient', async () => {
    const f = await engine.compile(
      traced('compare', ({ a, b }) => ({ lt: a.lt(b).cast('float32'), ge: a.ge(b).cast('float32') })),
      { inputs: { a: { shape: [3] }, b: { shape: [3] } } },
    );
    const out = await f.run({ a: [1, 2, 3], b: [2, 2, 2] });
    expect([...(out.lt.data as Float32Array)]).toEqual([1, 0, 0]);
    expect([...(out.ge.data as Float32Array)]).toEqual([0, 1, 1]);
  });
});

describe('shape rules', () => {
  const t = (shape: number[], dtype: 'float32' | 'float64' | 'int64' = 'float32'): Tensor =>
    input(`s${shape.join('x')}`, shape, dtype);
  const ints = (shape: number[]): Tensor => t(shape, 'int64');
  const broadcastCase = (op: string) => ({
    ok: () => apply(op, [t([2, 1, 4]), t([3, 1])]),
    shape: [2, 3, 4],
    bad: () => apply(op, [t([2, 3]), t([4])]),
    error: 'cannot broadcast [2,3] with [4]',
  });
  const unaryCase = (op: string) => ({
    ok: () => apply(op, [t([2, 3])]),
    shape: [2, 3],
    bad: () => apply(op, [ints([2])]),
    error: 'needs a float tensor, got int64',
  });
  // One entry per primitive: a good application with its shape, and a bad one with the error it must name.
  const rules: Record<string, { ok: () => Tensor; shape: number[]; bad: () => unknown; error: string }> = {
    ...Object.fromEntries(
      [
        'add',
        'sub',
        'mul',
        'div',
        'maximum',
        'minimum',
        'equal',
        'less',
        'greater',
        'lessOrEqual',
        'greaterOrEqual',
      ].map((op) => [op, broadcastCase(op)]),
    ),
    and: {
      ok: () => logicalAnd(t([2, 1]).gt(0), t([3]).gt(0)),
      shape: [2, 3],
      bad: () => logicalAnd(t([2]).gt(0), t([3]).gt(0)),
      error: 'And: cannot broadcast [2] with [3]',
    },
    where: {
      ok: () => where(t([2, 1]).gt(0), t([3]), t([1])),
      shape: [2, 3],
      bad: () => apply('where', [t([2]), t([2]), t([2])]),
      error: 'where: condition must be bool, got float32',
    },
    ...Object.fromEntries(
      ['neg', 'exp', 'log', 'sqrt', 'reciprocal', 'tanh', 'sigmoid', 'erf', 'floor'].map((op) => [
        op,
        unaryCase(op),
      ]),
    ),
    pow: {
      ok: () => t([2]).pow(2),
      shape: [2],
      bad: () => ints([2]).pow(2),
      error: 'pow: needs a float tensor',
    },
    clip: {
      ok: () => t([2]).clip(0, 1),
      shape: [2],
      bad: () => t([2]).clip(1, 0),
      error: 'clip: min 1 > max 0',
    },
    cast: {
      ok: () => t([2, 3]).cast('int64'),
      shape: [2, 3],
      bad: () =>
        t([2, 3])
          .cast('int64')
          .add(t([2, 3])),
      error: 'Add: dtype mismatch int64 vs float32',
    },
    matmul: {
      ok: () => t([5, 2, 3]).matmul(t([3, 7])),
      shape: [5, 2, 7],
      bad: () => t([2, 3]).matmul(t([4, 5])),
      error: 'matmul: inner dimensions differ in [2,3] @ [4,5]',
    },
    linear: {
      ok: () => linear(t([2, 3, 4]), t([5, 4]), t([5])),
      shape: [2, 3, 5],
      bad: () => linear(t([2, 4]), t([5, 3]), t([5])),
      error: 'linear: input [2,4], weight [5,3] and bias [5] do not fit',
    },
    quantizedLinear: {
      ok: () => quantizedLinear(t([2, 3, 4]), quantizeWeight(new Float32Array(20), [5, 4]), t([5])),
      shape: [2, 3, 5],
      bad: () => quantizedLinear(t([2, 3]), quantizeWeight(new Float32Array(20), [5, 4]), t([5])),
      error: 'quantizedLinear: input [2,3]:float32, weight [4,5]:int8, scale [5] and bias [5] do not fit',
    },
    reshape: {
      ok: () => t([2, 3]).reshape([-1]),
      shape: [6],
      bad: () => t([2, 3]).reshape([4, 2]),
      error: 'reshape: cannot reshape [2,3] to [4,2]',
    },
    transpose: {
      ok: () => t([2, 3, 4]).transpose([2, 0, 1]),
      shape: [4, 2, 3],
      bad: () => t([2, 3]).transpose([0, 0]),
      error: 'transpose: perm [0,0] is not a permutation of the axes of [2,3]',
    },
    expand: {
      ok: () => t([3, 1]).expand([2, 3, 4]),
      shape: [2, 3, 4],
      bad: () => t([2, 3]).expand([4, 3, 2]),
      error: 'expand: cannot',
    },
    slice: {
      ok: () => t([3, 5]).slice(1, 1, -1),
      shape: [3, 3],
      bad: () => apply('slice', [t([3, 5])], { axis: 1, start: 2, end: 9 }),
      error: 'slice: [2, 9) on axis 1 is outside [3,5]',
    },
    concat: {
      ok: () => concat([t([2, 3]), t([2, 5])], 1),
      shape: [2, 8],
      bad: () => concat([t([2, 3]), t([3, 3])], 1),
      error: 'concat: shapes [2,3] [3,3] differ off axis 1',
    },
    pad: {
      ok: () =>
        pad(t([2, 3]), [
          [1, 1],
          [0, 2],
        ]),
      shape: [4, 5],
      bad: () => pad(t([2, 3]), [[1, 1]]),
      error: 'pad: pads [[1,1]] do not fit [2,3]',
    },
    gather: {
      ok: () => t([10, 4]).gather(ints([2, 3])),
      shape: [2, 3, 4],
      bad: () => t([2, 3]).gather(t([2])),
      error: 'gather: indices must be int64 or int32',
    },
    scatterAdd: {
      ok: () => apply('scatterAdd', [t([2, 3, 4]), ints([2, 3])], { axis: 0, size: 10 }),
      shape: [10, 4],
      bad: () => apply('scatterAdd', [t([2, 3, 4]), ints([2, 3])], { axis: 0, size: 0 }),
      error: 'scatterAdd: size 0',
    },
    reduceSum: {
      ok: () => t([2, 3, 4]).sum([0, 2]),
      shape: [3],
      bad: () => t([2, 3]).sum(2),
      error: 'axis 2 out of range for rank 2',
    },
    reduceMax: {
      ok: () => t([2, 3, 4]).max(1, true),
      shape: [2, 1, 4],
      bad: () => apply('reduceMax', [t([2, 3])], { axes: [5], keepDims: false }),
      error: 'reduceMax: axes [5] out of range for [2,3]',
    },
    softmax: {
      ok: () => t([2, 3]).softmax(0),
      shape: [2, 3],
      bad: () => t([2, 3]).softmax(2),
      error: 'axis 2 out of range for rank 2',
    },
    logSoftmax: {
      ok: () => t([2, 3]).logSoftmax(),
      shape: [2, 3],
      bad: () => t([2, 3]).logSoftmax(-3),
      error: 'axis -3 out of range for rank 2',
    },
    logsumexp: {
      ok: () => t([2, 3]).logsumexp(1),
      shape: [2],
      bad: () => apply('logsumexp', [t([2, 3])], { axes: [2], keepDims: false }),
      error: 'logsumexp: axes [2] out of range for [2,3]',
    },
    layerNorm: {
      ok: () => layerNorm(t([2, 3]), t([3]), t([3]), 1e-5),
      shape: [2, 3],
      bad: () => layerNorm(t([2, 3]), t([4]), t([3]), 1e-5),
      error: 'layerNorm: weight [4] and bias [3] must be [3] for input [2,3]',
    },
  };

  for (const [name, rule] of Object.entries(rules)) {
    it(`${name}: infers its shape and names itself and the shapes when they do not fit`, () => {
      const out = rule.ok();
      expect(out.op).toBe(name);
      expect(out.shape).toEqual(rule.shape);
      expect(rule.bad).toThrow(rule.error);
    });
  }

  it('every primitive has a shape rule test', () => {
    const leaves = ['input', 'param', 'constant'];
    expect(Object.keys(primitives).filter((p) => !leaves.includes(p) && !(p in rules))).toEqual([]);
  });
});
