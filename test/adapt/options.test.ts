import { describe, expect, it } from 'vitest';
import { ADAPT_DEFAULTS, PRESETS } from '../../src/engine/adapt/adapt.js';
import { resolveAdaptOptions } from '../../src/engine/adapt/options.js';

describe('resolveAdaptOptions', () => {
  it('fills defaults and applies a preset, then explicit settings', () => {
    expect(resolveAdaptOptions({})).toEqual({ ...ADAPT_DEFAULTS, method: 'zeroshot' });
    const fast = resolveAdaptOptions({ method: 'metatpt', preset: 'fast-cpu', innerSteps: 2, lr: 0.01 });
    expect(fast.views).toBe(PRESETS['fast-cpu'].views);
    expect(fast.meta.innerSteps).toBe(2);
    expect(fast.tpt.lr).toBe(0.01);
    expect(fast.tpt.selectRatio).toBe(ADAPT_DEFAULTS.tpt.selectRatio);
  });

  it('names every bad setting', () => {
    expect(() => resolveAdaptOptions({ method: 'tpt', views: 0, variant: 'x', bogus: 1 })).toThrow(
      /invalid adaptation settings: .*views.*variant.*bogus|invalid adaptation settings: .*views/,
    );
    expect(() => resolveAdaptOptions({ views: 0 })).toThrow('views');
    expect(() => resolveAdaptOptions({ bogus: 1 })).toThrow('bogus');
  });
});
