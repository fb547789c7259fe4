import { describe, expect, it } from 'vitest';
import { primitives } from '../../src/engine/primitives.js';
import type { Random } from '../../src/engine/random.js';
import {
  concat,
  constant,
  input,
  layerNorm,
  linear,
  maximum,
  minimum,
  pad,
  type Tensor,
  where,
} from '../../src/engine/tensor.js';
import { checkGradient, engine, type GradInput } from './gradcheck.js';

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
    const missing = Object.keys(primitives).filter(
      (p) => !covered.has(p) && !noRule.includes(p) && !comparisons.includes(p),
    );
    expect(missing).toEqual([]);
  });
});

describe('forward values', () => {
  it('logsumexp is stable for large inputs', async () => {
    const f = await engine.compile('lse-stable', {
      inputs: { x: { shape: [1, 3] } },
      build: ({ x }) => ({ y: x.logsumexp(-1), s: x.logSoftmax(-1) }),
    });
    const out = await f.run({ x: [1000, 1000, 990] });
    expect((out.y.data as Float32Array)[0]).toBeCloseTo(1000 + Math.log(2 + Math.exp(-10)), 3);
    expect(Number.isFinite((out.s.data as Float32Array)[2])).toBe(true);
  });

  it('comparisons give booleans and no gradient', async () => {
    const f = await engine.compile('compare', {
      inputs: { a: { shape: [3] }, b: { shape: [3] } },
      build: ({ a, b }) => ({ lt: a.lt(b).cast('float32'), ge: a.ge(b).cast('float32') }),
    });
    const out = await f.run({ a: [1, 2, 3], b: [2, 2, 2] });
    expect([...(out.lt.data as Float32Array)]).toEqual([1, 0, 0]);
    expect([...(out.ge.data as Float32Array)]).toEqual([0, 1, 1]);
  });
});

describe('shape rules', () => {
  const t = (shape: number[]): Tensor => input(`s${shape.join('x')}`, shape);
  it('infer output shapes', () => {
    expect(t([2, 1, 4]).add(t([3, 1])).shape).toEqual([2, 3, 4]);
    expect(t([5, 2, 3]).matmul(t([3, 7])).shape).toEqual([5, 2, 7]);
    expect(t([2, 3, 4]).transpose([2, 0, 1]).shape).toEqual([4, 2, 3]);
    expect(t([2, 3, 4]).sum([0, 2]).shape).toEqual([3]);
    expect(t([2, 3, 4]).max(1, true).shape).toEqual([2, 1, 4]);
    expect(
      t([10, 4]).gather(constant(BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n]), [2, 3], 'int64')).shape,
    ).toEqual([2, 3, 4]);
    expect(concat([t([2, 3]), t([2, 5])], 1).shape).toEqual([2, 8]);
    expect(
      pad(t([2, 3]), [
        [1, 1],
        [0, 2],
      ]).shape,
    ).toEqual([4, 5]);
    expect(t([2, 3]).reshape([-1]).shape).toEqual([6]);
    expect(t([3, 5]).slice(1, 1, -1).shape).toEqual([3, 3]);
    expect(t([3, 1]).expand([2, 3, 4]).shape).toEqual([2, 3, 4]);
    expect(t([2, 3]).logsumexp(1).shape).toEqual([2]);
  });

  it('bad shapes give errors naming the op and the shapes', () => {
    expect(() => t([2, 3]).add(t([4]))).toThrow('Add: cannot broadcast [2,3] with [4]');
    expect(() => t([2, 3]).matmul(t([4, 5]))).toThrow('matmul: inner dimensions differ in [2,3] @ [4,5]');
    expect(() => t([3]).matmul(t([3, 5]))).toThrow('matmul: needs rank ≥ 2');
    expect(() => t([2, 3]).reshape([4, 2])).toThrow('reshape: cannot reshape [2,3] to [4,2]');
    expect(() => t([2, 3]).transpose([0, 0])).toThrow('transpose: perm [0,0]');
    expect(() => t([2, 3]).expand([4, 3, 2])).toThrow('expand: cannot');
    expect(() => concat([t([2, 3]), t([3, 3])], 1)).toThrow('concat: shapes [2,3] [3,3] differ off axis 1');
    expect(() => layerNorm(t([2, 3]), t([4]), t([3]), 1e-5)).toThrow('layerNorm: weight [4]');
    expect(() => t([2, 3]).gather(t([2]))).toThrow('gather: indices must be int64 or int32');
    expect(() => t([2]).add(input('d', [2], 'float64'))).toThrow('Add: dtype mismatch float32 vs float64');
    expect(() => t([2, 3]).sum(2)).toThrow('axis 2 out of range for rank 2');
  });
});
