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
  it('accepts numbers within the rule and passes an absent option through', () => {
    expect(parseNumber('0.25', 'x', { min: 0, max: 1 })).toBe(0.25);
    expect(parseNumber('3', 'n', { integer: true, min: 1 })).toBe(3);
    expect(parseNumber(undefined, 'n', { integer: true })).toBeUndefined();
  });

  it.each([
    ['', { integer: true }, '--n must be a whole number, not ""'],
    ['1.5', { integer: true, min: 1 }, '--n must be a whole number, at least 1, not "1.5"'],
    ['0', { min: 0, aboveMin: true }, '--n must be a number, above 0, not "0"'],
    ['2', { min: 0, max: 1 }, '--n must be a number, at least 0, at most 1, not "2"'],
    ['Infinity', {}, '--n must be a number, not "Infinity"'],
  ])('rejects "%s"', (value, rule, message) => {
    expect(() => parseNumber(value, 'n', rule)).toThrow(message);
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
      'inner-lr': '0.1',
      variant: 'second-order',
      seed: '4294967295',
      'min-entropy': '0.5',
    });
    expect(options).toMatchObject({ method: 'metatpt', views: PRESETS['fast-cpu'].views, seed: 2 ** 32 - 1 });
    expect(options.tpt).toEqual({ ...PRESETS['fast-cpu'].tpt, lr: 0.01 });
    expect(options.meta).toEqual({ ...PRESETS['fast-cpu'].meta, innerLr: 0.1, variant: 'second-order' });
    expect(options.minEntropy).toBe(0.5);
    expect(adaptOptionsFromArgs({ preset: 'fast-cpu', views: '4' }).views).toBe(4);
  });

  it('rejects unknown names and out-of-range values', () => {
    expect(() => adaptOptionsFromArgs({ preset: 'slow' })).toThrow(/--preset must be one of paper, fast-cpu/);
    expect(() => adaptOptionsFromArgs({ variant: 'three-stage' })).toThrow(/--variant must be one of/);
    expect(() => adaptOptionsFromArgs({ 'select-ratio': '1.5' })).toThrow(/--select-ratio .* at most 1/);
    expect(() => adaptOptionsFromArgs({ seed: '-1' })).toThrow(/--seed must be a whole number, at least 0/);
  });

  it('lists the options the chosen method ignores', () => {
    const values = { views: '8', 'inner-steps': '2', seed: '1' };
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
    await expect(classSpecFromArgs({ classes: 'a', 'classes-file': 'f.txt' })).rejects.toThrow(/either/);
  });

  it('names a classes file that cannot be read', async () => {
    await expect(classSpecFromArgs({ 'classes-file': '/nonexistent/classes.txt' })).rejects.toThrow(
      /^\/nonexistent\/classes\.txt: cannot read the classes file/,
    );
  });
});
