import { describe, expect, it } from 'vitest';
import { Engine, traced, tracedFamily, type Inputs } from '../../src/engine/runtime.js';
import { param } from '../../src/engine/tensor.js';

describe('Engine', () => {
  it('caches sessions by traced function and input shapes', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const double = traced('double', ({ x }) => ({ y: x.mul(2) }));
    const shape = (n: number) => ({ inputs: { x: { shape: [n] } } });
    const a = await engine.compile(double, shape(3));
    const b = await engine.compile(double, shape(3));
    const c = await engine.compile(double, shape(4));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect([...((await c.run({ x: [1, 2, 3, 4] })).y.data as Float32Array)]).toEqual([2, 4, 6, 8]);
    await engine.dispose();
  });

  it('never gives one graph the session of another, whatever their names and shapes', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    // The same name, inputs and shapes, different graphs and output names (as once two
    // ':render-views' graphs were, and the second run found no output under its name).
    const doubled = await engine.compile(
      traced('views', ({ x }) => ({ pixels: x.mul(2) })),
      { inputs: { x: { shape: [2] } } },
    );
    const negated = await engine.compile(
      traced('views', ({ x }) => ({ views: x.neg() })),
      { inputs: { x: { shape: [2] } } },
    );
    expect(negated).not.toBe(doubled);
    expect([...((await doubled.run({ x: [1, 2] })).pixels.data as Float32Array)]).toEqual([2, 4]);
    expect([...((await negated.run({ x: [1, 2] })).views.data as Float32Array)]).toEqual([-1, -2]);
    await engine.dispose();
  });

  it('gives a family one traced function per owner and build arguments', () => {
    const scaled = tracedFamily(
      'scaled',
      (owner: { factor: number }, offset: number) =>
        ({ x }: Inputs<'x'>) => ({ y: x.mul(owner.factor).add(offset) }),
    );
    const one = { factor: 1 };
    const two = { factor: 2 };
    expect(scaled(one, 0)).toBe(scaled(one, 0));
    expect(scaled(one, 1)).not.toBe(scaled(one, 0));
    expect(scaled(two, 0)).not.toBe(scaled(one, 0));
    expect(scaled(one, 1).name).toBe('scaled(1)');
  });

  it('says which execution provider is in use, and falls back to cpu with a warning', async () => {
    const lines: string[] = [];
    const engine = new Engine({ provider: 'coreml', log: (m) => lines.push(m) });
    const f = await engine.compile(
      traced('fallback', ({ x }) => ({ y: x.add(1) })),
      { inputs: { x: { shape: [2] } } },
    );
    expect([...((await f.run({ x: [1, 2] })).y.data as Float32Array)]).toEqual([2, 3]);
    expect(engine.executionProvider).toBe('cpu');
    expect(lines.some((l) => l.includes("warning: execution provider 'coreml' failed to start"))).toBe(true);
    expect(lines.filter((l) => l.startsWith('engine: execution provider cpu'))).toHaveLength(1);
  });

  it('feeds weights once and inlines them on request, with the same results', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const w = param('w', [2, 2], Float32Array.from([1, 2, 3, 4]));
    const build = ({ x }: { x: import('../../src/engine/tensor.js').Tensor }) => ({ y: x.matmul(w) });
    const fed = await engine.compile(traced('weights', build), {
      inputs: { x: { shape: [1, 2] } },
      params: 'feed',
    });
    const inlined = await engine.compile(traced('weights', build), {
      inputs: { x: { shape: [1, 2] } },
      params: 'inline',
    });
    const expected = [7, 10];
    expect([...((await fed.run({ x: [1, 2] })).y.data as Float32Array)]).toEqual(expected);
    expect([...((await inlined.run({ x: [1, 2] })).y.data as Float32Array)]).toEqual(expected);
  });

  it('names the function and the input in feed errors', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const f = await engine.compile(
      traced('strict', ({ x }) => ({ y: x.exp() })),
      { inputs: { x: { shape: [3] } } },
    );
    await expect(f.run({} as { x: number[] })).rejects.toThrow("strict: missing input 'x'");
    await expect(f.run({ x: [1, 2] })).rejects.toThrow("input 'x': expected 3 values for shape [3], got 2");
  });
});

describe('automatic provider choice', () => {
  it('does not pick CUDA when its provider library is not installed', () => {
    // This machine has no CUDA provider library; a GPU machine with it would pick cuda.
    const engine = new Engine({ log: () => {} });
    expect(['cpu', 'dml', 'coreml']).toContain(engine.executionProvider);
  });
});
