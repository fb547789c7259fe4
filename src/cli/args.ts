// Argument helpers shared by the commands that load a model, take a class set and run a method
// (classify, run): the options they declare on their commander command, and parsers that turn the
// parsed strings into engine options or a clear usage error.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { adaptOptions, type AdaptOptions } from '../engine/adapt/adapt.js';
import {
  ADAPT_METHODS,
  DEFAULT_SETTINGS,
  DEFAULT_TEMPLATE,
  NUMBER_SETTINGS,
  OTHER_SETTINGS,
  SETTING_NAMES,
  adaptParamsSchema,
  resolveSettings,
  settingMethods,
  type AdaptMethod,
  type InnerOptimizer,
  type MetaVariant,
  type NumberSetting,
  type NumberSettingName,
  type PresetName,
  type ValidAdaptParams,
  type VisionPrecision,
} from '../shared/domain/adaptation.js';
import { describeIssues } from '../shared/domain/issues.js';
import type { ExecutionProvider } from '../engine/runtime.js';
import { readClassFile } from '../backend/services/class-sets.js';
import { classNameProblems, normaliseClassName } from '../shared/domain/class-names.js';
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
        'a stored run registers it in the database; default: the embedded model (resources/models)',
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

/** The method options as commander parses them (--method and the choices are checked by commander). */
export type AdaptOptionValues = Partial<
  {
    method: AdaptMethod;
    preset: PresetName;
    innerOptimizer: InnerOptimizer;
    variant: MetaVariant;
    precision: VisionPrecision;
    augmix: boolean;
  } & Record<NumberSettingName, number>
>;

/** Commander's names of the method options: --method and one per setting. */
export const ADAPT_OPTION_NAMES = ['method', ...SETTING_NAMES] as const;

/** An option's flag from commander's name for it: `selectRatio` -> `--select-ratio`. */
export const flagOf = (setting: string) => `--${setting.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** "metatpt: " before the help of a setting only one adaptive method uses. */
const methodNote = (methods: readonly AdaptMethod[]) => (methods.length === 1 ? `${methods[0]}: ` : '');

/** "1..512 views", "> 0", ">= 0". */
function boundsText({ min, greaterThan, max, unit }: NumberSetting): string {
  const low = greaterThan !== undefined ? `> ${greaterThan}` : min !== undefined ? `>= ${min}` : '';
  const range = min !== undefined && max !== undefined ? `${min}..${max}` : low;
  return [range, unit].filter(Boolean).join(' ');
}

/** Commander's parser of a numeric option: a number, or commander's usage error naming the option. */
function numberArgument(value: string): number {
  const number = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(number)) throw new InvalidArgumentError('It must be a number.');
  return number;
}

/**
 * Declares the method options, generated from the settings' table (src/shared/domain/adaptation.ts):
 * --method, --preset, one per numeric setting, --inner-optimizer, --variant, --precision and --augmix.
 */
export function addAdaptOptions(command: Command): Command {
  command.addOption(
    new Option(
      '--method <m>',
      'zero-shot CLIP, adapt each image with TPT or MetaTPT, or classify with a prompt learned by `metatpt learn` (coop, selftpt, selftpt-v) (default zeroshot)',
    ).choices(ADAPT_METHODS),
  );
  for (const name of SETTING_NAMES) {
    const flag = flagOf(name);
    if (name === 'augmix') {
      command.option(flag, `${methodNote(settingMethods(name))}${OTHER_SETTINGS.augmix.help}`);
      continue;
    }
    if (name === 'preset' || name === 'innerOptimizer' || name === 'variant' || name === 'precision') {
      const { help, choices } = OTHER_SETTINGS[name];
      command.addOption(
        new Option(`${flag} <name>`, `${methodNote(settingMethods(name))}${help}`).choices(choices),
      );
      continue;
    }
    const setting: NumberSetting = NUMBER_SETTINGS[name];
    const fallback = DEFAULT_SETTINGS[name];
    const detail = [boundsText(setting), fallback === null ? '' : `default ${fallback}`].filter(Boolean);
    command.addOption(
      new Option(
        `${flag} <${setting.valueName}>`,
        `${methodNote(setting.methods)}${setting.help} (${detail.join('; ')})`,
      ).argParser(numberArgument),
    );
  }
  return command;
}

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

/**
 * The method options of an adaptation run as the settings a stored run keeps, validated by their
 * schema; a bad value is a usage error naming the option and the value given.
 */
export function adaptParamsFromArgs(values: AdaptOptionValues): ValidAdaptParams {
  const given = ADAPT_OPTION_NAMES.filter((name) => values[name] !== undefined);
  const parsed = adaptParamsSchema.safeParse(Object.fromEntries(given.map((name) => [name, values[name]])));
  if (!parsed.success) {
    const field = (setting: string) => `${flagOf(setting)} "${values[setting as keyof AdaptOptionValues]}"`;
    throw new UsageError(describeIssues(parsed.error, { field }));
  }
  return parsed.data;
}

/**
 * The method options resolved (preset first, then each option given) to the engine's options. The
 * per-image seed is derived from `seed` by the caller (imageSeed).
 */
export function adaptOptionsFromArgs(values: AdaptOptionValues): AdaptOptions {
  return adaptOptions(resolveSettings(adaptParamsFromArgs(values)));
}

/**
 * Options that change nothing for the chosen method, as a note for the user (a zero-shot run with
 * --views, say, is usually a forgotten --method).
 */
export function ignoredAdaptOptions(values: AdaptOptionValues, method: AdaptMethod): string[] {
  return SETTING_NAMES.filter(
    (name) => values[name] !== undefined && !settingMethods(name).includes(method),
  ).map(flagOf);
}

export interface ClassSpec {
  names: string[];
  /** Per-class prompt overriding the template (null: use the template). */
  prompts: (string | null)[];
  template: string;
  /** What the classes file's reader decided that the user should know (printed by the command). */
  warnings: string[];
}

/** The class set from --classes or --classes-file (exactly one) and --template. */
export async function classSpecFromArgs(values: ClassOptionValues): Promise<ClassSpec> {
  const template = values.template ?? DEFAULT_TEMPLATE;
  if (!template.includes('{}'))
    throw new UsageError(`--template must contain {} where the class name goes, not "${template}"`);
  const { classes, classesFile: file } = values;
  if ((classes === undefined) === (file === undefined))
    throw new UsageError('give the classes with either --classes or --classes-file');
  if (file !== undefined) {
    const { entries, warnings } = await readClassFile(file);
    return {
      names: entries.map((e) => e.name),
      prompts: entries.map((e) => e.prompt ?? null),
      template,
      warnings,
    };
  }
  const names = requireOption(classes, 'classes').split(',').map(normaliseClassName);
  const [problem] = classNameProblems(names);
  if (problem) {
    const first =
      problem.firstIndex === undefined ? '' : ` (first at --classes entry ${problem.firstIndex + 1})`;
    throw new UsageError(`--classes entry ${problem.index + 1}: ${problem.message}${first}`);
  }
  return { names, prompts: names.map(() => null), template, warnings: [] };
}
