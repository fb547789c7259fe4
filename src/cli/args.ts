// Argument helpers shared by the commands that load a model, take a class set and run a method
// (classify, run): the options they declare on their commander command, and parsers that turn the
// parsed strings into engine options or a clear usage error.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ADAPT_DEFAULTS, type AdaptMethod, type AdaptOptions } from '../engine/adapt/adapt.js';
import { adaptParamsSchema, resolveAdaptOptions, type AdaptParams } from '../engine/adapt/options.js';
import { DEFAULT_TEMPLATE } from '../engine/adapt/prompts.js';
import type { ExecutionProvider } from '../engine/runtime.js';
import { parseClassList } from '../backend/services/class-sets.js';
import { UsageError } from './command.js';

export function requireOption(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function parseId(value: string | undefined, name: string): number {
  const id = Number(requireOption(value, name));
  if (!Number.isInteger(id) || id <= 0)
    throw new UsageError(`--${name} must be a positive whole number, not "${value}"`);
  return id;
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  const found = allowed.find((a) => a === value);
  if (!found) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, not "${value}"`);
  return found;
}

/** --model and --device. */
export interface ModelOptionValues {
  model?: string;
  device: string;
}

export function addModelOptions(command: Command): Command {
  return command
    .option(
      '--model <dir>',
      'CLIP model folder (Hugging Face layout: config.json, model.safetensors, tokenizer.json); ' +
        'a stored run registers it in the database',
    )
    .option('--device <d>', 'auto | cpu | cuda | dml | coreml', 'auto');
}

/** --classes, --classes-file and --template. */
export interface ClassOptionValues {
  classes?: string;
  classesFile?: string;
  template?: string;
}

export const CLASS_OPTION_NAMES = ['classes', 'classesFile', 'template'] as const;

export function addClassOptions(command: Command): Command {
  return command
    .option('--classes <names>', 'the class names, comma-separated ("a,b,c")')
    .option(
      '--classes-file <file>',
      'one class per line (# comments), or a CSV with a name and an optional prompt column',
    )
    .option('--template <t>', `prompt with {} for the class name (default "${DEFAULT_TEMPLATE}")`);
}

/** Each method option: the adaptation setting it gives (src/engine/adapt/options.ts) and its help. */
const ADAPT_FLAGS = {
  method: ['--method <m>', 'zeroshot (default) | tpt | metatpt'],
  preset: ['--preset <p>', 'paper (default: 64 views) | fast-cpu (16 views); the options below override it'],
  views: ['--views <n>', 'views per image, the original included'],
  steps: ['--steps <n>', 'prompt-tuning steps (default 1)'],
  lr: ['--lr <x>', `prompt-tuning learning rate (default ${ADAPT_DEFAULTS.tpt.lr})`],
  selectRatio: [
    '--select-ratio <x>',
    `fraction of the most confident views kept (default ${ADAPT_DEFAULTS.tpt.selectRatio})`,
  ],
  innerSteps: [
    '--inner-steps <k>',
    `metatpt: steps that learn the views (default ${ADAPT_DEFAULTS.meta.innerSteps}; 0 is TPT)`,
  ],
  innerLr: ['--inner-lr <x>', `metatpt: learning rate of the views (default ${ADAPT_DEFAULTS.meta.innerLr})`],
  innerOptimizer: [
    '--inner-optimizer <o>',
    `metatpt: sgd (normalised steps, in proportion to each view's gradient) | adam (default ${ADAPT_DEFAULTS.meta.innerOptimizer})`,
  ],
  variant: ['--variant <v>', 'metatpt: two-stage (default) | one-stage | second-order'],
  seed: ['--seed <s>', "seed of the random views (default 0); each image's seed also depends on its path"],
  minEntropy: ['--min-entropy <x>', 'adapt only images whose zero-shot entropy is above X'],
  augmix: [
    '--augmix',
    'tpt/metatpt: AugMix on the views, as the official TPT code does on fine-grained sets',
  ],
} as const satisfies Partial<Record<keyof AdaptParams, readonly [string, string]>>;

type AdaptSetting = keyof typeof ADAPT_FLAGS;

/** The settings the method options give, in their order on the command line. */
export const ADAPT_SETTINGS = Object.keys(ADAPT_FLAGS) as AdaptSetting[];

/** The method options as commander parses them: strings, and a flag for --augmix. */
export type AdaptOptionValues = { [K in AdaptSetting]?: K extends 'augmix' ? boolean : string };

export function addAdaptOptions(command: Command): Command {
  for (const [flags, description] of Object.values(ADAPT_FLAGS)) command.option(flags, description);
  return command;
}

/** An option's flag from commander's name for it: `selectRatio` -> `--select-ratio`. */
export const flagOf = (setting: string) => `--${setting.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

const DEVICES = ['auto', 'cpu', 'cuda', 'dml', 'coreml'] as const satisfies readonly (
  ExecutionProvider | 'auto'
)[];

/** A numeric option; undefined when the option is absent. Ranges are the caller's to check. */
export function parseNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const number = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(number)) throw new UsageError(`--${name} must be a number, not "${value}"`);
  return number;
}

export function parseDevice(value: string): ExecutionProvider | 'auto' {
  return oneOf(value, DEVICES, 'device');
}

const NAME_SETTINGS: ReadonlySet<string> = new Set(['method', 'preset', 'variant', 'innerOptimizer']);

/**
 * The method options of an adaptation run as the engine's settings (what a stored run keeps),
 * validated by its schema; a bad value is a usage error naming the option.
 */
export function adaptParamsFromArgs(values: AdaptOptionValues): AdaptParams {
  const params: Record<string, string | number | boolean> = {};
  for (const setting of ADAPT_SETTINGS) {
    const value = values[setting];
    if (typeof value === 'boolean') params[setting] = value;
    else if (value !== undefined)
      params[setting] = NAME_SETTINGS.has(setting) ? value : parseNumber(value, flagOf(setting).slice(2))!;
  }
  const parsed = adaptParamsSchema.safeParse(params);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const setting = String(issue.path[0]);
      return setting in ADAPT_FLAGS
        ? `${flagOf(setting)} "${values[setting as AdaptSetting]}": ${issue.message}`
        : issue.message;
    });
    throw new UsageError(problems.join('; '));
  }
  return parsed.data;
}

/**
 * The method options resolved (preset first, then each option given) to the engine's options. The
 * per-image seed is derived from `seed` by the caller (imageSeed).
 */
export function adaptOptionsFromArgs(values: AdaptOptionValues): AdaptOptions {
  return resolveAdaptOptions(adaptParamsFromArgs(values));
}

/**
 * Options that change nothing for the chosen method, as a note for the user (a zero-shot run with
 * --views, say, is usually a forgotten --method).
 */
export function ignoredAdaptOptions(values: AdaptOptionValues, method: AdaptMethod): string[] {
  const adaptOnly = ['preset', 'views', 'steps', 'lr', 'selectRatio', 'minEntropy', 'augmix'] as const;
  const metaOnly = ['innerSteps', 'innerLr', 'innerOptimizer', 'variant'] as const;
  const ignored = [...(method === 'zeroshot' ? adaptOnly : []), ...(method === 'metatpt' ? [] : metaOnly)];
  return ignored.filter((name) => values[name] !== undefined).map(flagOf);
}

export interface ClassSpec {
  names: string[];
  /** Per-class prompt overriding the template (null: use the template). */
  prompts: (string | null)[];
  template: string;
}

/** Rejects empty and duplicate (case-insensitive) class names; `where(i)` names entry i in messages. */
function checkClassNames(names: readonly string[], where: (index: number) => string): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (name === '') throw new Error(`${where(i)}: empty class name`);
    const first = seen.get(name.toLowerCase());
    if (first !== undefined)
      throw new Error(`${where(i)}: duplicate class "${name}" (first at ${where(first)})`);
    seen.set(name.toLowerCase(), i);
  });
}

/**
 * A classes file: a CSV (by its .csv extension) with a `name` column and an optional `prompt`
 * column, or else one class per line with blank lines and `#` comments skipped.
 */
export async function readClassesFile(file: string): Promise<Omit<ClassSpec, 'template'>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`${file}: cannot read the classes file: ${(error as Error).message}`);
  }
  const entries = parseClassList(text, file);
  if (entries.length === 0) throw new Error(`${file}: no classes in the file`);
  checkClassNames(
    entries.map((e) => e.name),
    (i) => `${file}:${entries[i].line}`,
  );
  return { names: entries.map((e) => e.name), prompts: entries.map((e) => e.prompt ?? null) };
}

/** The class set from --classes or --classes-file (exactly one) and --template. */
export async function classSpecFromArgs(values: ClassOptionValues): Promise<ClassSpec> {
  const template = values.template ?? DEFAULT_TEMPLATE;
  if (!template.includes('{}'))
    throw new UsageError(`--template must contain {} where the class name goes, not "${template}"`);
  const { classes, classesFile: file } = values;
  if ((classes === undefined) === (file === undefined))
    throw new UsageError('give the classes with either --classes or --classes-file');
  if (file !== undefined) return { ...(await readClassesFile(file)), template };
  const names = requireOption(classes, 'classes')
    .split(',')
    .map((name) => name.trim());
  try {
    checkClassNames(names, (i) => `--classes entry ${i + 1}`);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { names, prompts: names.map(() => null), template };
}
