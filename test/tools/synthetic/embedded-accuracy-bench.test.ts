// Smoke test of the embedded-accuracy benchmark on a few images and views: it runs, counts every style
// and method, and its report has a row per style.
import { describe, expect, it } from 'vitest';
import { embeddedAccuracyReport, runEmbeddedAccuracy } from '../../../bench/embedded-accuracy.js';
import { SHIFTS } from '../../../tools/synthetic/render.js';
import { EMBEDDED_MODEL_DIR } from '../../../tools/synthetic/embedded.js';
import { SHAPES } from '../../../tools/synthetic/scenes.js';

describe('embedded-accuracy benchmark', () => {
  it('measures zero-shot, TPT and MetaTPT per style and reports them', async () => {
    const result = await runEmbeddedAccuracy({
      modelDir: EMBEDDED_MODEL_DIR,
      perClass: 1,
      views: 4,
      seeds: [0, 1],
    });
    expect(result.scenesPerStyle).toBe(SHAPES.length);
    for (const group of ['clean', ...SHIFTS, 'all shifts'] as const) {
      for (const method of ['zeroshot', 'tpt', 'metatpt'] as const) {
        const perSeed = result.accuracies[group][method];
        expect(perSeed).toHaveLength(2);
        for (const accuracy of perSeed) expect(accuracy).toBeGreaterThanOrEqual(0);
      }
    }
    // Zero-shot is computed once: the same for both view seeds.
    expect(result.accuracies.clean.zeroshot[0]).toBe(result.accuracies.clean.zeroshot[1]);
    // The shipped model knows its clean domain far above chance (6 %), if weakly (docs/embedded-model.md).
    expect(result.accuracies.clean.zeroshot[0]).toBeGreaterThanOrEqual(20);
    const report = embeddedAccuracyReport(result);
    const n = SHAPES.length;
    for (const row of [`| clean | ${n} |`, `| sketch | ${n} |`, `| all shifts | ${5 * n} |`])
      expect(report).toContain(row);
  });
});
