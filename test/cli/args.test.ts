// The shared argument parsers: numbers, method options with presets, class sets.
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import {
  addAdaptOptions,
  adaptOptionsFromArgs,
  classSpecFromArgs,
  ignoredAdaptOptions,
  parseNumber,
  type AdaptOptionValues,
} from '../../src/cli/args.js';
import { ADAPT_DEFAULTS } from '../../src/engine/adapt/adapt.js';
import { PRESETS } from '../../src/shared/domain/adaptation.js';

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

/** The method options parsed by commander as a command that declares them would parse them. */
function adaptArgs(args: string[]): AdaptOptionValues {
  const command = addAdaptOptions(new Command().exitOverride().configureOutput({ writeErr: () => {} }));
  return command.parse(args, { from: 'user' }).opts();
}

describe('adaptOptionsFromArgs', () => {
  it('defaults to zero-shot with the paper settings and seed 0', () => {
    expect(adaptOptionsFromArgs(adaptArgs([]))).toEqual({ ...ADAPT_DEFAULTS, method: 'zeroshot', seed: 0 });
  });

  it('starts from the preset and applies each option given', () => {
    const options = adaptOptionsFromArgs(
      adaptArgs([
        ...['--method', 'metatpt', '--preset', 'fast-cpu', '--lr', '0.01', '--inner-lr', '0.1'],
        ...['--variant', 'second-order', '--seed', '42', '--min-entropy', '0.5'],
      ]),
    );
    expect(options).toMatchObject({ method: 'metatpt', views: PRESETS['fast-cpu'].settings.views, seed: 42 });
    expect(options.tpt).toEqual({ ...ADAPT_DEFAULTS.tpt, lr: 0.01 });
    expect(options.meta).toEqual({ ...ADAPT_DEFAULTS.meta, innerLr: 0.1, variant: 'second-order' });
    expect(options.minEntropy).toBe(0.5);
    expect(options.augmix).toBe(false);
    expect(adaptOptionsFromArgs(adaptArgs(['--preset', 'fast-cpu', '--views', '4'])).views).toBe(4);
    expect(adaptOptionsFromArgs(adaptArgs(['--method', 'tpt', '--augmix'])).augmix).toBe(true);
    expect(options.precision).toBe('fp32');
    expect(adaptOptionsFromArgs(adaptArgs(['--precision', 'int8'])).precision).toBe('int8');
    expect(() => adaptArgs(['--precision', 'fp16'])).toThrow(/Allowed choices are fp32, int8/);
  });

  it('names the option and the value of each bad value', () => {
    expect(() => adaptArgs(['--preset', 'slow'])).toThrow(
      "option '--preset <name>' argument 'slow' is invalid. Allowed choices are paper, fast-cpu.",
    );
    expect(() => adaptOptionsFromArgs(adaptArgs(['--views', '1.5', '--select-ratio', '1.5']))).toThrow(
      /^--views "1\.5": .*expected int.*; --select-ratio "1\.5": Too big/,
    );
    expect(() => adaptOptionsFromArgs(adaptArgs(['--seed', '-1']))).toThrow(/--seed "-1": Too small/);
    expect(() => adaptArgs(['--inner-lr', 'x'])).toThrow(
      "option '--inner-lr <x>' argument 'x' is invalid. It must be a number.",
    );
  });

  it('declares a flag for every setting, with its bounds and default in the help', () => {
    const help = addAdaptOptions(new Command().configureHelp({ helpWidth: 200 })).helpInformation();
    for (const flag of [
      '--method',
      '--preset',
      '--views',
      '--select-ratio',
      '--chunk',
      '--variant',
      '--precision',
      '--augmix',
    ])
      expect(help).toContain(flag);
    expect(help).toMatch(
      /--views <n> +augmented views per image, the original \(view 0\) included \(1\.\.512 views; default 64\)/,
    );
    expect(help).toMatch(/--inner-lr <x> +metatpt: step size of the view warps .*\(> 0; default 0\.03\)/);
  });

  it('lists the options the chosen method ignores', () => {
    const values = adaptArgs(['--views', '8', '--inner-steps', '2', '--seed', '1']);
    expect(ignoredAdaptOptions(values, 'zeroshot')).toEqual(['--views', '--inner-steps', '--seed']);
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
      warnings: [],
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
