import { describe, expect, it } from 'vitest';
import { affineGrid, warpViews } from '../../../src/engine/adapt/warp.js';
import { grad } from '../../../src/engine/grad.js';
import { Engine, traced } from '../../../src/engine/runtime.js';
import { constant } from '../../../src/engine/tensor.js';
import { loadGoldenTensor } from '../../fixtures/golden/load.js';
import { checkGradient } from '../gradcheck.js';
import { expectClose } from '../../helpers.js';

const engine = new Engine({ provider: 'cpu', log: () => {} });

describe('affine warp', () => {
  it('matches PyTorch affine_grid + grid_sample and its θ-gradient', async () => {
    const image = loadGoldenTensor('warp_image');
    const theta = loadGoldenTensor('warp_theta');
    const weights = loadGoldenTensor('warp_R');
    const fn = await engine.compile(
      traced('warp-golden', ({ image, theta }) => {
        const out = warpViews(image, theta, 32);
        const objective = out.mul(constant(weights.data as Float32Array, weights.shape)).sum();
        return { grid: affineGrid(theta, 32), out, objective, gradTheta: grad(objective, [theta])[0] };
      }),
      { inputs: { image: { shape: image.shape }, theta: { shape: theta.shape } } },
    );
    const result = await fn.run({ image: image.data as Float32Array, theta: theta.data as Float32Array });
    expectClose(result.grid.data as Float32Array, loadGoldenTensor('warp_grid').data, 1e-6);
    const expectedOut = loadGoldenTensor('warp_out').data;
    (result.out.data as Float32Array).forEach((v, i) =>
      expect(Math.abs(v - expectedOut[i])).toBeLessThanOrEqual(1e-5),
    );
    expectClose(result.gradTheta.data as Float32Array, loadGoldenTensor('warp_grad_theta').data, 1e-4);
  });

  it('θ-gradient matches finite differences (float64, off pixel boundaries)', async () => {
    // A zoom with rotation keeps every sampling point strictly inside a pixel cell.
    const theta = [0.61, -0.13, 0.05, 0.11, 0.57, -0.08];
    await checkGradient(
      {
        image: { shape: [3, 9, 11] },
        theta: {
          shape: [1, 2, 3],
          sample: (() => {
            let i = 0;
            return () => theta[i++ % 6];
          })(),
        },
      },
      ({ image, theta }) => warpViews(image, theta, 6),
      { eps: 1e-7, tolerance: 1e-5 },
    );
  });
});
