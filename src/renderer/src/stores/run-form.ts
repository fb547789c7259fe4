// The Runs form's choices (model, method, preset, its parameters, variant, precision, which images,
// the entropy threshold, CoOp start, whether the parameters are open), kept in local storage so that a
// reload or a restart comes back to the form as the user left it. Local storage belongs to the page's
// origin: in serve mode a restart keeps the choices where it keeps its port (--port, --keep-token). The class set is kept in the page
// address (`k=`) and the uncertain images' base run follows the shown one: neither is kept here.
import { useLocalStorage } from '@vueuse/core';
import { defineStore } from 'pinia';
import { computed, watch, type WritableComputedRef } from 'vue';
import {
  ADAPT_METHODS,
  DEFAULT_SETTINGS,
  META_VARIANTS,
  PRESET_NAMES,
  VISION_PRECISIONS,
  type AdaptMethod,
  type MetaVariant,
  type PresetName,
  type VisionPrecision,
} from '../../../shared/domain/adaptation.js';
import { paramFields, presetValues, type ParamValues } from '../lib/run-params.js';

export const SCOPE_KINDS = ['collection', 'images', 'uncertain'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];

export interface RunFormChoices {
  /** null: the first installed model. */
  modelId: number | null;
  method: AdaptMethod;
  preset: PresetName;
  values: ParamValues;
  variant: MetaVariant;
  precision: VisionPrecision;
  scopeKind: ScopeKind;
  minEntropy: number;
  showAdvanced: boolean;
  /** TPT / MetaTPT start from the class set's newest CoOp prompt (the TPT paper's best variant). */
  coopInit: boolean;
}

export const defaultRunForm = (): RunFormChoices => ({
  modelId: null,
  method: 'zeroshot',
  preset: 'fast-cpu',
  values: presetValues('fast-cpu'),
  variant: 'two-stage',
  precision: DEFAULT_SETTINGS.precision,
  scopeKind: 'collection',
  minEntropy: 0.5,
  showAdvanced: false,
  coopInit: false,
});

const oneOf = <T extends string>(choices: readonly T[], value: unknown, fallback: T): T =>
  choices.find((choice) => choice === value) ?? fallback;
const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/**
 * Stored choices as the form takes them: anything unknown, missing or of the wrong type (an edited
 * store, a method or setting since removed, unreadable JSON) falls back to the default for that choice
 * alone; a parameter falls back to the stored preset's value.
 */
export function readRunForm(stored: string | null): RunFormChoices {
  const fallback = defaultRunForm();
  let raw: Partial<Record<keyof RunFormChoices, unknown>> = {};
  try {
    const parsed: unknown = stored === null ? null : JSON.parse(stored);
    if (parsed !== null && typeof parsed === 'object') raw = parsed;
  } catch {
    // Unreadable: the defaults.
  }
  const preset = oneOf(PRESET_NAMES, raw.preset, fallback.preset);
  const storedValues = (raw.values ?? {}) as Record<string, unknown>;
  const base = presetValues(preset);
  return {
    modelId: finite(raw.modelId) ? raw.modelId : null,
    method: oneOf(ADAPT_METHODS, raw.method, fallback.method),
    preset,
    values: Object.fromEntries(
      paramFields.map(({ key }) => [key, finite(storedValues[key]) ? storedValues[key] : base[key]]),
    ),
    variant: oneOf(META_VARIANTS, raw.variant, fallback.variant),
    precision: oneOf(VISION_PRECISIONS, raw.precision, fallback.precision),
    scopeKind: oneOf(SCOPE_KINDS, raw.scopeKind, fallback.scopeKind),
    minEntropy: finite(raw.minEntropy) ? raw.minEntropy : fallback.minEntropy,
    showAdvanced: typeof raw.showAdvanced === 'boolean' ? raw.showAdvanced : fallback.showAdvanced,
    coopInit: typeof raw.coopInit === 'boolean' ? raw.coopInit : fallback.coopInit,
  };
}

export const useRunFormStore = defineStore('runForm', () => {
  // Where there is no local storage, the choices last for the page.
  const stored = useLocalStorage<RunFormChoices>('workbench.runForm', defaultRunForm(), {
    serializer: { read: readRunForm, write: (choices) => JSON.stringify(choices) },
  });
  const choice = <K extends keyof RunFormChoices>(key: K): WritableComputedRef<RunFormChoices[K]> =>
    computed({
      get: () => stored.value[key],
      set: (value) => (stored.value = { ...stored.value, [key]: value }),
    });

  const preset = choice('preset');
  // Choosing a preset sets its parameters (a reload keeps the values as they were edited).
  watch(preset, (name) => (stored.value = { ...stored.value, values: presetValues(name) }));

  return {
    modelId: choice('modelId'),
    method: choice('method'),
    preset,
    values: choice('values'),
    variant: choice('variant'),
    precision: choice('precision'),
    scopeKind: choice('scopeKind'),
    minEntropy: choice('minEntropy'),
    showAdvanced: choice('showAdvanced'),
    coopInit: choice('coopInit'),
  };
});
