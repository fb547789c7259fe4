// Central finite differences against the engine's gradients, in float64.
import { expect } from 'vitest';
import { grad } from '../../src/engine/grad.js';
import { Random } from '../../src/engine/random.js';
import { Engine, traced, type RunResult } from '../../src/engine/runtime.js';
import { constant, type Shape, type Tensor } from '../../src/engine/tensor.js';

export const engine = new Engine({ provider: 'cpu', log: () => {} });

export interface GradInput {
  shape: Shape;
  /** Sampler for this input's values (default: standard normal). */
  sample?: (rng: Random) => number;
}

let checkCounter = 0;

/**
 * Checks d(sum(f(x) * R))/dx for every float input against central differences, element by element.
 * R is a fixed random weighting so that every output element matters.
 */
export async function checkGradient(
  inputs: Record<string, GradInput>,
  f: (x: Record<string, Tensor>) => Tensor,
  { seed = 1, eps = 1e-6, tolerance = 1e-6 } = {},
): Promise<void> {
  const rng = new Random(seed);
  const names = Object.keys(inputs);
  const values = Object.fromEntries(
    names.map((n) => [
      n,
      Float64Array.from({ length: inputs[n].shape.reduce((a, b) => a * b, 1) }, () =>
        (inputs[n].sample ?? ((r: Random) => r.normal()))(rng),
      ),
    ]),
  );
  const key = `gradcheck${checkCounter++}`;
  const specs = Object.fromEntries(
    names.map((n) => [n, { shape: inputs[n].shape, dtype: 'float64' as const }]),
  );
  let weighting: Float64Array | undefined;
  const objective = (x: Record<string, Tensor>): Tensor => {
    const out = f(x);
    weighting ??= Float64Array.from({ length: out.size }, () => rng.normal());
    return out.mul(constant(weighting, out.shape, 'float64')).sum();
  };
  const withGrads = await engine.compile(
    traced(key, (x) => {
      const loss = objective(x);
      const grads = grad(
        loss,
        names.map((n) => x[n]),
      );
      return { loss, ...Object.fromEntries(names.map((n, i) => [`grad_${n}`, grads[i]])) };
    }),
    { inputs: specs },
  );
  const lossOnly = await engine.compile(
    traced(`${key}_loss`, (x) => ({ loss: objective(x) })),
    { inputs: specs },
  );

  const analytic: Record<string, RunResult> = await withGrads.run(values);
  for (const name of names) {
    const g = analytic[`grad_${name}`].data as Float64Array;
    const x = values[name];
    for (let i = 0; i < x.length; i++) {
      const original = x[i];
      x[i] = original + eps;
      const plus = ((await lossOnly.run(values)).loss.data as Float64Array)[0];
      x[i] = original - eps;
      const minus = ((await lossOnly.run(values)).loss.data as Float64Array)[0];
      x[i] = original;
      const numeric = (plus - minus) / (2 * eps);
      const scale = Math.max(1, Math.abs(numeric));
      expect(
        Math.abs(g[i] - numeric) / scale,
        `d/d${name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`,
      ).toBeLessThan(tolerance);
    }
  }
}
