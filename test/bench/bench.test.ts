// Smoke tests of the benchmark modules on tiny inputs, so the benchmark code keeps compiling and
// running; no timing assertions. The checks the benchmarks print (traced == hand-written output,
// trimmed == full-length text features, baseline TPT == our TPT) are asserted here.
import { describe, expect, it } from 'vitest';
import { marginalEntropy, selectConfident } from '../../src/engine/adapt/losses.js';
import { grad } from '../../src/engine/grad.js';
import { Random } from '../../src/engine/random.js';
import { Engine, traced } from '../../src/engine/runtime.js';
import { adaptReport, METHODS, runAdaptBenchmark } from '../../bench/adapt.js';
import { engineReport, runEngineBenchmark } from '../../bench/engine.js';
import { imagenetClassNames } from '../../bench/lib/classes.js';
import { interleaved, median } from '../../bench/lib/measure.js';
import { confidentMarginalEntropy } from '../../bench/tpt-baseline.js';
import {
  runSessionMemoryBenchmark,
  SESSION_VARIANTS,
  sessionMemoryReport,
} from '../../bench/session-memory.js';
import { runZeroShotBenchmark, zeroShotReport } from '../../bench/zeroshot.js';
import { GOLDEN_MODEL_DIR } from '../fixtures/golden/load.js';
import { entropies } from '../../src/engine/host-math.js';

const classNames = imagenetClassNames();

describe('benchmark helpers', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('interleaves cases in rotating order and keeps only the timed runs', async () => {
    const order: string[] = [];
    const samples = await interleaved(
      { a: async () => order.push('a'), b: async () => order.push('b') },
      { rounds: 2, block: 2, warmupRounds: 1 },
    );
    // Each block: one untimed run, then two timed; round r starts with case r mod 2.
    expect(order.join('')).toBe(['aaabbb', 'bbbaaa', 'aaabbb'].join(''));
    expect(samples.a).toHaveLength(4);
    expect(samples.b).toHaveLength(4);
  });

  it('reads the ImageNet class names', () => {
    expect(classNames).toHaveLength(1000);
    expect(classNames[0]).toBe('tench');
  });
});

describe('engine benchmark', () => {
  it('runs the traced and the hand-written MLP to the same output', async () => {
    const result = await runEngineBenchmark({ layers: 2, width: 16, batch: 4, repeats: 1 });
    expect(result.outputDiff.feed).toBeLessThan(1e-5);
    expect(result.outputDiff.inline).toBeLessThan(1e-5);
    for (const ms of [...Object.values(result.forward), ...Object.values(result.gradient)]) {
      expect(ms).toBeGreaterThan(0);
    }
    expect(engineReport(result)).toContain('| traced, weights fed (feed) |');
  });
});

describe('zero-shot benchmark', () => {
  it('measures the tiny model; trimmed and full-length text features agree', async () => {
    const result = await runZeroShotBenchmark({
      modelDir: GOLDEN_MODEL_DIR,
      classNames,
      classCounts: [2, 5],
      batchSizes: [1, 2],
      imagesPerMeasurement: 2,
      repeats: 1,
    });
    expect(result.text.map((r) => r.classes)).toEqual([2, 5]);
    for (const row of result.text) {
      expect(row.trimmedLength).toBeLessThan(row.fullLength);
      expect(row.featureDiff).toBeLessThan(1e-5);
    }
    expect(result.images.map((r) => r.batch)).toEqual([1, 2]);
    expect(result.images.every((r) => r.imagesPerSecond > 0 && r.memory.sampledMiB > 0)).toBe(true);
    expect(zeroShotReport(result)).toContain('| 5 | ');
  });
});

describe('TPT baseline', () => {
  it('selects in the graph what selectConfident selects, with the same loss and gradient', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const [views, classes, keep] = [12, 7, 3];
    const logits = new Random(11).normalArray(views * classes, 3);
    const chosen = selectConfident(entropies(logits, views), keep / views);
    const gathered = new Float32Array(keep * classes);
    chosen.forEach((v, i) => gathered.set(logits.subarray(v * classes, (v + 1) * classes), i * classes));
    const masked = await engine.compile(
      traced('masked', ({ logits }) => {
        const loss = confidentMarginalEntropy(logits, keep);
        return { loss, grad: grad(loss, [logits])[0] };
      }),
      { inputs: { logits: { shape: [views, classes] } } },
    );
    const plain = await engine.compile(
      traced('plain', ({ logits }) => {
        const loss = marginalEntropy(logits);
        return { loss, grad: grad(loss, [logits])[0] };
      }),
      { inputs: { logits: { shape: [keep, classes] } } },
    );
    const a = await masked.run({ logits });
    const b = await plain.run({ logits: gathered });
    expect((a.loss.data as Float32Array)[0]).toBeCloseTo((b.loss.data as Float32Array)[0], 5);
    const gradA = a.grad.data as Float32Array;
    const gradB = b.grad.data as Float32Array;
    for (let v = 0; v < views; v++) {
      const i = chosen.indexOf(v);
      for (let c = 0; c < classes; c++) {
        expect(gradA[v * classes + c]).toBeCloseTo(i < 0 ? 0 : gradB[i * classes + c], 5);
      }
    }
    await engine.dispose();
  });
});

describe('adapt benchmark', () => {
  it('runs every method; the official-structure baseline predicts what our TPT predicts', async () => {
    const results = await runAdaptBenchmark({
      modelDir: GOLDEN_MODEL_DIR,
      classNames,
      classCounts: [6],
      viewCounts: [8, 20],
      timedImages: () => 1,
      innerSteps: 1,
    });
    expect(results.map((r) => [r.classes, r.views])).toEqual([
      [6, 8],
      [6, 20],
    ]);
    for (const config of results) {
      for (const image of [config.warmup, ...config.timed]) {
        expect(image.sameLabel).toBe(true);
        expect(image.probsDiff).toBeLessThanOrEqual(1e-4);
        expect(Object.keys(image.runs).sort()).toEqual([...METHODS].sort());
      }
    }
    expect(adaptReport(results)).toContain('TPT baseline (official structure)');
  });

  it('runs only the methods asked for, and says which comparisons were not run', async () => {
    const [config] = await runAdaptBenchmark({
      modelDir: GOLDEN_MODEL_DIR,
      classNames,
      classCounts: [6],
      viewCounts: [8],
      timedImages: () => 1,
      innerSteps: 1,
      methods: ['tpt', 'metatpt'],
    });
    expect(Object.keys(config.timed[0].runs)).toEqual(['tpt', 'metatpt']);
    expect(config.timed[0].sameLabel).toBeNull();
    const report = adaptReport([config]);
    expect(report).toContain('MetaTPT K_in=1');
    expect(report).not.toContain('TPT baseline (official structure)');
    expect(report).toContain('not run');
  });
});

describe('session memory benchmark', () => {
  it('runs the baseline step under each set of session options', async () => {
    const rows = await runSessionMemoryBenchmark({
      modelDir: GOLDEN_MODEL_DIR,
      classNames: classNames.slice(0, 3),
      runs: 2,
      views: 4,
    });
    expect(rows.map((r) => r.variant)).toEqual(Object.keys(SESSION_VARIANTS));
    expect(rows.every((r) => r.afterRunMiB.length === 2 && r.medianRunMs > 0)).toBe(true);
    expect(sessionMemoryReport(rows, 3)).toContain('after run 2');
  });
});
