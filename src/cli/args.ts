// Argument helpers shared by the commands that load a model, take a class set and run a method
// (classify, run, index): option specs for node:util parseArgs, their usage text, and parsers that
// turn the parsed strings into engine options or a clear usage error.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ADAPT_DEFAULTS, type AdaptMethod, type AdaptOptions } from '../engine/adapt/adapt.js';
import { adaptParamsSchema, resolveAdaptOptions, type AdaptParams } from '../engine/adapt/options.js';
import { DEFAULT_TEMPLATE } from '../engine/adapt/prompts.js';
import type { ExecutionProvider } from '../engine/runtime.js';
import { parseClassList } from '../backend/services/class-sets.js';

type ParseArgsOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];
/** The parsed (string) values of an option table; every option may be absent. */
/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

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

export type OptionValues<T extends ParseArgsOptions> = {
  [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : string;
};

export const MODEL_OPTIONS = {
  model: { type: 'string' },
  device: { type: 'string', default: 'auto' },
} as const satisfies ParseArgsOptions;

export const MODEL_USAGE = `  --model DIR           CLIP model folder (Hugging Face layout: config.json, model.safetensors, tokenizer.json)
  --device D            auto | cpu | cuda | dml | coreml (default auto)`;

export const CLASS_OPTIONS = {
  classes: { type: 'string' },
  'classes-file': { type: 'string' },
  template: { type: 'string' },
} as const satisfies ParseArgsOptions;

export const CLASS_USAGE = `  --classes "a,b,c"     the class names, comma-separated
  --classes-file F      one class per line (# comments), or a CSV with a name and an optional prompt column
  --template T          prompt with {} for the class name (default "${DEFAULT_TEMPLATE}")`;

export const ADAPT_OPTIONS = {
  method: { type: 'string' },
  preset: { type: 'string' },
  views: { type: 'string' },
  steps: { type: 'string' },
  lr: { type: 'string' },
  'select-ratio': { type: 'string' },
  'inner-steps': { type: 'string' },
  'inner-lr': { type: 'string' },
  variant: { type: 'string' },
  seed: { type: 'string' },
  'min-entropy': { type: 'string' },
  augmix: { type: 'boolean' },
} as const satisfies ParseArgsOptions;

export const ADAPT_USAGE = `  --method M            zeroshot (default) | tpt | metatpt
  --preset P            paper (default: 64 views) | fast-cpu (16 views); the options below override it
  --views N             views per image, the original included
  --steps N             prompt-tuning steps (default 1)
  --lr X                prompt-tuning learning rate (default ${ADAPT_DEFAULTS.tpt.lr})
  --select-ratio X      fraction of the most confident views kept (default ${ADAPT_DEFAULTS.tpt.selectRatio})
  --inner-steps K       metatpt: steps that learn the views (default ${ADAPT_DEFAULTS.meta.innerSteps}; 0 is TPT)
  --inner-lr X          metatpt: learning rate of the views (default ${ADAPT_DEFAULTS.meta.innerLr})
  --variant V           metatpt: two-stage (default) | one-stage | second-order
  --seed S              seed of the random views (default 0); each image's seed also depends on its path
  --min-entropy X       adapt only images whose zero-shot entropy is above X
  --augmix              tpt/metatpt: AugMix on the views, as the official TPT code does on fine-grained sets`;

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

/** Each method option and the adaptation setting it gives (src/engine/adapt/options.ts). */
const ADAPT_SETTING_OF = {
  method: 'method',
  preset: 'preset',
  views: 'views',
  steps: 'steps',
  lr: 'lr',
  'select-ratio': 'selectRatio',
  'inner-steps': 'innerSteps',
  'inner-lr': 'innerLr',
  variant: 'variant',
  seed: 'seed',
  'min-entropy': 'minEntropy',
  augmix: 'augmix',
} as const satisfies Record<keyof typeof ADAPT_OPTIONS, keyof AdaptParams>;

const NAME_OPTIONS: ReadonlySet<string> = new Set(['method', 'preset', 'variant']);

/**
 * The method options of an adaptation run as the engine's settings (what a stored run keeps),
 * validated by its schema; a bad value is a usage error naming the option.
 */
export function adaptParamsFromArgs(values: OptionValues<typeof ADAPT_OPTIONS>): AdaptParams {
  const entries = Object.entries(ADAPT_SETTING_OF) as [keyof typeof ADAPT_SETTING_OF, string][];
  const params: Record<string, string | number | boolean> = {};
  for (const [option, setting] of entries) {
    const value = values[option];
    if (typeof value === 'boolean') params[setting] = value;
    else if (value !== undefined)
      params[setting] = NAME_OPTIONS.has(option) ? value : parseNumber(value, option)!;
  }
  const parsed = adaptParamsSchema.safeParse(params);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const option = entries.find(([, setting]) => setting === issue.path[0])?.[0];
      return option ? `--${option} "${values[option]}": ${issue.message}` : issue.message;
    });
    throw new UsageError(problems.join('; '));
  }
  return parsed.data;
}

/**
 * The method options resolved (preset first, then each option given) to the engine's options. The
 * per-image seed is derived from `seed` by the caller (imageSeed).
 */
export function adaptOptionsFromArgs(values: OptionValues<typeof ADAPT_OPTIONS>): AdaptOptions {
  return resolveAdaptOptions(adaptParamsFromArgs(values));
}

/**
 * Options that change nothing for the chosen method, as a note for the user (a zero-shot run with
 * --views, say, is usually a forgotten --method).
 */
export function ignoredAdaptOptions(
  values: OptionValues<typeof ADAPT_OPTIONS>,
  method: AdaptMethod,
): string[] {
  const adaptOnly = ['preset', 'views', 'steps', 'lr', 'select-ratio', 'min-entropy', 'augmix'] as const;
  const metaOnly = ['inner-steps', 'inner-lr', 'variant'] as const;
  const ignored = [...(method === 'zeroshot' ? adaptOnly : []), ...(method === 'metatpt' ? [] : metaOnly)];
  return ignored.filter((name) => values[name] !== undefined).map((name) => `--${name}`);
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
export async function classSpecFromArgs(values: OptionValues<typeof CLASS_OPTIONS>): Promise<ClassSpec> {
  const template = values.template ?? DEFAULT_TEMPLATE;
  if (!template.includes('{}'))
    throw new UsageError(`--template must contain {} where the class name goes, not "${template}"`);
  const { classes, 'classes-file': file } = values;
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

/**
 * Runs a command body: a command-line mistake prints the message and the usage (exit code 2), any
 * other error its message (exit code 1); the messages name the file and the problem.
 */
export async function runWithUsage(
  stderr: (text: string) => void,
  usage: string,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const isUsage =
      error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    stderr(`metatpt: ${message}\n${isUsage ? `${usage}\n` : ''}`);
    return isUsage ? 2 : 1;
  }
}

/** runWithUsage for commands that write to the process's own stderr. */
export function withUsage(usage: string, body: () => Promise<number>): Promise<number> {
  return runWithUsage((text) => process.stderr.write(text), usage, body);
}
