import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/runtime.js';
import { param } from '../../src/engine/tensor.js';

describe('Engine', () => {
  it('caches sessions by key and input shapes', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const spec = (n: number) => ({
      inputs: { x: { shape: [n] } },
      build: ({ x }: { x: import('../../src/engine/tensor.js').Tensor }) => ({ y: x.mul(2) }),
    });
    const a = await engine.compile('double', spec(3));
    const b = await engine.compile('double', spec(3));
    const c = await engine.compile('double', spec(4));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect([...((await c.run({ x: [1, 2, 3, 4] })).y.data as Float32Array)]).toEqual([2, 4, 6, 8]);
    await engine.dispose();
  });

  it('says which execution provider is in use, and falls back to cpu with a warning', async () => {
    const lines: string[] = [];
    const engine = new Engine({ provider: 'coreml', log: (m) => lines.push(m) });
    const f = await engine.compile('fallback', {
      inputs: { x: { shape: [2] } },
      build: ({ x }) => ({ y: x.add(1) }),
    });
    expect([...((await f.run({ x: [1, 2] })).y.data as Float32Array)]).toEqual([2, 3]);
    expect(engine.executionProvider).toBe('cpu');
    expect(lines.some((l) => l.includes("warning: execution provider 'coreml' failed to start"))).toBe(true);
    expect(lines.filter((l) => l.startsWith('engine: execution provider cpu'))).toHaveLength(1);
  });

  it('feeds weights once and inlines them on request, with the same results', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const w = param('w', [2, 2], Float32Array.from([1, 2, 3, 4]));
    const build = ({ x }: { x: import('../../src/engine/tensor.js').Tensor }) => ({ y: x.matmul(w) });
    const fed = await engine.compile('weights', { inputs: { x: { shape: [1, 2] } }, build, params: 'feed' });
    const inlined = await engine.compile('weights', {
      inputs: { x: { shape: [1, 2] } },
      build,
      params: 'inline',
    });
    const expected = [7, 10];
    expect([...((await fed.run({ x: [1, 2] })).y.data as Float32Array)]).toEqual(expected);
    expect([...((await inlined.run({ x: [1, 2] })).y.data as Float32Array)]).toEqual(expected);
  });

  it('names the function and the input in feed errors', async () => {
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const f = await engine.compile('strict', {
      inputs: { x: { shape: [3] } },
      build: ({ x }) => ({ y: x.exp() }),
    });
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
