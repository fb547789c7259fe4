// The run form's settings, generated from the one settings table (src/shared/domain/adaptation.ts):
// which fields each method shows, their bounds, the values each preset gives, and the params a run
// is started with. The backend validates again with the schema made from the same table.
import {
  DEFAULT_SETTINGS,
  NUMBER_SETTINGS,
  VISION_PRECISIONS,
  presetSettings,
  type AdaptMethod,
  type MetaVariant,
  type NumberSetting,
  type NumberSettingName,
  type PresetName,
  type VisionPrecision,
} from '../../../shared/domain/adaptation.js';

export interface ParamField extends NumberSetting {
  key: NumberSettingName;
}

/** The numeric settings the form shows, in the table's order. */
export const paramFields: readonly ParamField[] = (
  Object.entries(NUMBER_SETTINGS) as [NumberSettingName, NumberSetting][]
)
  .filter(([, setting]) => setting.inForm)
  .map(([key, setting]) => ({ key, ...setting }));

export type ParamValues = Partial<Record<NumberSettingName, number>>;

/** The values a preset gives the form's fields. */
export function presetValues(preset: PresetName): ParamValues {
  const settings = presetSettings(preset);
  return Object.fromEntries(paramFields.map((field) => [field.key, settings[field.key]]));
}

/** The `params` of runs.start: the preset named, and only the values that differ from it. */
export function runParams(
  method: AdaptMethod,
  preset: PresetName,
  values: ParamValues,
  variant: MetaVariant,
  precision: VisionPrecision = DEFAULT_SETTINGS.precision,
): Record<string, number | string> {
  const params: Record<string, number | string> = { method, preset };
  if (precision !== DEFAULT_SETTINGS.precision) params.precision = precision;
  if (method === 'zeroshot') return params;
  const base = presetValues(preset);
  for (const field of paramFields) {
    if (!field.methods.includes(method)) continue;
    const value = values[field.key];
    if (value !== undefined && value !== base[field.key]) params[field.key] = value;
  }
  if (method === 'metatpt' && variant !== 'two-stage') params.variant = variant;
  return params;
}

/** A readable problem with a value, or null when it is within the field's bounds. */
export function fieldProblem(field: ParamField, value: number | undefined): string | null {
  if (value === undefined || !Number.isFinite(value)) return `${field.label} needs a number`;
  if (field.integer && !Number.isInteger(value)) return `${field.label} is a whole number`;
  if (field.min !== undefined && value < field.min) return `${field.label} is at least ${field.min}`;
  if (field.greaterThan !== undefined && value <= field.greaterThan)
    return `${field.label} is more than ${field.greaterThan}`;
  if (field.max !== undefined && value > field.max) return `${field.label} is at most ${field.max}`;
  return null;
}

/** A stored run's precision: the default unless its params name another. */
export function runPrecision(params: Record<string, unknown>): VisionPrecision {
  return VISION_PRECISIONS.find((p) => p === params.precision) ?? DEFAULT_SETTINGS.precision;
}
