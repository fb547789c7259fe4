// The shared argument parsers: numbers, method options with presets, class sets.
import { describe, expect, it } from 'vitest';
import {
  adaptOptionsFromArgs,
  classSpecFromArgs,
  ignoredAdaptOptions,
  parseNumber,
} from '../../src/cli/args.js';
import { ADAPT_DEFAULTS, PRESETS } from '../../src/engine/adapt/adapt.js';

describe('parseNumber', () => {
  it('reads a number and passes an absent option through', () => {
    expect(parseNumber('0.25', 'x')).toBe(0.25);
    expect(parseNumber(' 3 ', 'n')).toBe(3);
    expect(parseNumber(undefined, 'n')).toBeUndefined();
  });

  it.each(['', 'fast', 'Infinity', '1e999'])('rejects "%s"', (value) => {
    expect(() => parseNumber(value, 'n')).toThrow(`--n must be a number, not "${value}"`);
  });
});

describe('adaptOptionsFromArgs', () => {
  it('defaults to zero-shot with the paper settings and seed 0', () => {
    expect(adaptOptionsFromArgs({})).toEqual({ ...ADAPT_DEFAULTS, method: 'zeroshot', seed: 0 });
  });

  it('starts from the preset and applies each option given', () => {
    const options = adaptOptionsFromArgs({
      method: 'metatpt',
      preset: 'fast-cpu',
      lr: '0.01',
      innerLr: '0.1',
      variant: 'second-order',
      seed: '42',
      minEntropy: '0.5',
    });
    expect(options).toMatchObject({ method: 'metatpt', views: PRESETS['fast-cpu'].views, seed: 42 });
    expect(options.tpt).toEqual({ ...PRESETS['fast-cpu'].tpt, lr: 0.01 });
    expect(options.meta).toEqual({ ...PRESETS['fast-cpu'].meta, innerLr: 0.1, variant: 'second-order' });
    expect(options.minEntropy).toBe(0.5);
    expect(options.augmix).toBe(false);
    expect(adaptOptionsFromArgs({ preset: 'fast-cpu', views: '4' }).views).toBe(4);
    expect(adaptOptionsFromArgs({ method: 'tpt', augmix: true }).augmix).toBe(true);
  });

  it('names the option of each bad value', () => {
    expect(() => adaptOptionsFromArgs({ preset: 'slow' })).toThrow(
      '--preset "slow": Invalid option: expected one of "paper"|"fast-cpu"',
    );
    expect(() => adaptOptionsFromArgs({ views: '1.5', selectRatio: '1.5' })).toThrow(
      /^--views "1\.5": .*expected int.*; --select-ratio "1\.5": Too big/,
    );
    expect(() => adaptOptionsFromArgs({ seed: '-1' })).toThrow(/--seed "-1": Too small/);
    expect(() => adaptOptionsFromArgs({ innerLr: 'x' })).toThrow('--inner-lr must be a number, not "x"');
  });

  it('lists the options the chosen method ignores', () => {
    const values = { views: '8', innerSteps: '2', seed: '1' };
    expect(ignoredAdaptOptions(values, 'zeroshot')).toEqual(['--views', '--inner-steps']);
    expect(ignoredAdaptOptions(values, 'tpt')).toEqual(['--inner-steps']);
    expect(ignoredAdaptOptions(values, 'metatpt')).toEqual([]);
  });
});

describe('classSpecFromArgs', () => {
  it('splits --classes on commas, trimmed, with the default template', async () => {
    expect(await classSpecFromArgs({ classes: ' cat , dog' })).toEqual({
      names: ['cat', 'dog'],
      prompts: [null, null],
      template: 'a photo of a {}.',
    });
  });

  it('rejects duplicates, a template without {} and a missing or doubled class source', async () => {
    await expect(classSpecFromArgs({ classes: 'cat,Cat' })).rejects.toThrow(
      '--classes entry 2: duplicate class "Cat" (first at --classes entry 1)',
    );
    await expect(classSpecFromArgs({ classes: 'cat', template: 'a photo' })).rejects.toThrow(
      /must contain \{\}/,
    );
    await expect(classSpecFromArgs({})).rejects.toThrow(/either --classes or --classes-file/);
    await expect(classSpecFromArgs({ classes: 'a', classesFile: 'f.txt' })).rejects.toThrow(/either/);
  });

  it('names a classes file that cannot be read', async () => {
    await expect(classSpecFromArgs({ classesFile: '/nonexistent/classes.txt' })).rejects.toThrow(
      /^\/nonexistent\/classes\.txt: cannot read the classes file/,
    );
  });
});
