import { describe, expect, it } from 'vitest';
import { grad } from '../../src/engine/grad.js';
import { AdamW } from '../../src/engine/optim.js';
import { Random } from '../../src/engine/random.js';
import { constant, input, type Tensor } from '../../src/engine/tensor.js';
import { engine } from './gradcheck.js';
import { traced } from '../../src/engine/runtime.js';

/** A two-layer tanh network with a softmax cross-entropy loss; all values float64. */
function mlpLoss(w1: Tensor, w2: Tensor, x: Tensor, targets: Tensor): Tensor {
  const logits = x.matmul(w1).tanh().matmul(w2);
  return logits.logSoftmax(-1).mul(targets).sum().neg();
}

describe('grad', () => {
  it("a gather's gradient adds every read of a row, however often the row is read (a large, threaded scatter)", async () => {
    // 40000 reads of 4 rows: each row's gradient is its read count, exactly, in every lane. A parallel
    // scatter-add that races on repeated indices (onnxruntime's ScatterND) loses some of them.
    const rows = Int32Array.from({ length: 40_000 }, (_, i) => ((i * 7) % 4 === 3 ? 3 : i % 3));
    const fn = await engine.compile(
      traced('gather-grad-repeated', ({ table, index }) => ({
        g: grad(table.gather(index, 0).sum(), [table])[0],
      })),
      { inputs: { table: { shape: [4, 64] }, index: { shape: [rows.length], dtype: 'int64' } } },
    );
    const counts = [0, 1, 2, 3].map((r) => rows.filter((x) => x === r).length);
    const expected = Float32Array.from({ length: 4 * 64 }, (_, i) => counts[Math.floor(i / 64)]);
    for (let run = 0; run < 3; run++) {
      const { g } = await fn.run({ table: new Float32Array(4 * 64), index: rows });
      expect(g.data).toEqual(expected);
    }
  });

  it('Hessian-vector product through a small network matches finite differences of the gradient', async () => {
    const rng = new Random(3);
    const x = constant(
      Float64Array.from({ length: 8 }, () => rng.normal()),
      [4, 2],
      'float64',
    );
    const targets = constant(Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]), [4, 3], 'float64');
    const w2 = constant(
      Float64Array.from({ length: 15 }, () => rng.normal()),
      [5, 3],
      'float64',
    );
    const gradFn = await engine.compile(
      traced('hvp-grad', ({ w1 }) => ({ g: grad(mlpLoss(w1, w2, x, targets), [w1])[0] })),
      { inputs: { w1: { shape: [2, 5], dtype: 'float64' } } },
    );
    const hvpFn = await engine.compile(
      traced('hvp', ({ w1, v }) => {
        const [g] = grad(mlpLoss(w1, w2, x, targets), [w1]);
        return { hv: grad(g.mul(v).sum(), [w1])[0] };
      }),
      { inputs: { w1: { shape: [2, 5], dtype: 'float64' }, v: { shape: [2, 5], dtype: 'float64' } } },
    );
    const w1 = Float64Array.from({ length: 10 }, () => rng.normal());
    const v = Float64Array.from({ length: 10 }, () => rng.normal());
    const hv = (await hvpFn.run({ w1, v })).hv.data as Float64Array;
    const eps = 1e-5;
    const at = async (sign: number): Promise<Float64Array> =>
      (await gradFn.run({ w1: w1.map((w, i) => w + sign * eps * v[i]) })).g.data as Float64Array;
    const [plus, minus] = [await at(1), await at(-1)];
    const numeric = plus.map((p, i) => (p - minus[i]) / (2 * eps));
    const scale = Math.max(...numeric.map(Math.abs));
    numeric.forEach((n, i) => expect(Math.abs(hv[i] - n) / scale).toBeLessThan(1e-6));
    expect(scale).toBeGreaterThan(1e-3);
  });

  it('visits only nodes on the path to the requested inputs', () => {
    const frozen = input('frozen', [3, 3]);
    const trained = input('trained', [3]);
    const loss = frozen.matmul(frozen).exp().sum().add(trained.mul(trained).sum());
    const [g] = grad(loss, [trained]);
    // d/dtrained of sum(t²) is 2t: the gradient graph never touches the frozen branch.
    const reached = new Set<string>();
    const walk = (t: Tensor): void => {
      reached.add(t.op);
      t.inputs.forEach(walk);
    };
    walk(g);
    expect(reached.has('matmul')).toBe(false);
    expect(reached.has('exp')).toBe(false);
  });

  it('gives zeros for an input the output does not depend on', async () => {
    const f = await engine.compile(
      traced('unrelated', ({ a, b }) => ({ gb: grad(a.mul(a).sum(), [b])[0] })),
      { inputs: { a: { shape: [2] }, b: { shape: [2] } } },
    );
    expect([...((await f.run({ a: [1, 2], b: [3, 4] })).gb.data as Float32Array)]).toEqual([0, 0]);
  });

  it('trains a small MLP with Adam: the loss falls', async () => {
    const rng = new Random(7);
    // Two interleaved spirals would be harder; two Gaussian blobs per class keep the test quick.
    const n = 64;
    const xs = new Float32Array(n * 2);
    const ys = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const cls = i % 2;
      const sign = i % 4 < 2 ? 1 : -1;
      xs[2 * i] = (cls ? 1.5 : -1.5) * sign + 0.5 * rng.normal();
      xs[2 * i + 1] = (cls ? 1.5 : -1.5) + 0.5 * rng.normal();
      ys[2 * i + cls] = 1;
    }
    const step = await engine.compile(
      traced('mlp-train', ({ w1, b1, w2, x, y }) => {
        const logits = x.matmul(w1).add(b1).tanh().matmul(w2);
        const loss = logits
          .logSoftmax(-1)
          .mul(y)
          .sum()
          .mul(-1 / n);
        const [g1, gb1, g2] = grad(loss, [w1, b1, w2]);
        return { loss, g1, gb1, g2 };
      }),
      {
        inputs: {
          w1: { shape: [2, 16] },
          b1: { shape: [16] },
          w2: { shape: [16, 2] },
          x: { shape: [n, 2] },
          y: { shape: [n, 2] },
        },
      },
    );
    const params = [rng.normalArray(32, 0.5), new Float32Array(16), rng.normalArray(32, 0.5)];
    const adam = new AdamW(
      params.map((p) => p.length),
      { lr: 0.05 },
    );
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const out = await step.run({ w1: params[0], b1: params[1], w2: params[2], x: xs, y: ys });
      losses.push((out.loss.data as Float32Array)[0]);
      adam.update(params, [
        out.g1.data as Float32Array,
        out.gb1.data as Float32Array,
        out.g2.data as Float32Array,
      ]);
    }
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.3);
  });
});
