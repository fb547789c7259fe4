// Run settings as the form shows them: the engine's parameters (src/engine/adapt/options.ts) with
// their defaults, bounds and presets. The engine validates again; this only guides the form.
export type RunMethod = 'zeroshot' | 'tpt' | 'metatpt';
export type PresetName = 'paper' | 'fast-cpu';

export interface ParamField {
  key: string;
  label: string;
  help: string;
  min?: number;
  max?: number;
  integer: boolean;
  /** Methods the parameter means something for. */
  methods: readonly RunMethod[];
}

const adaptive = ['tpt', 'metatpt'] as const;

export const paramFields: readonly ParamField[] = [
  {
    key: 'views',
    label: 'Views',
    help: 'Augmented views per image (the original is view 0)',
    min: 1,
    max: 512,
    integer: true,
    methods: adaptive,
  },
  {
    key: 'steps',
    label: 'Prompt steps',
    help: 'AdamW steps on the prompt context',
    min: 1,
    max: 100,
    integer: true,
    methods: adaptive,
  },
  {
    key: 'lr',
    label: 'Prompt LR',
    help: 'Learning rate of the prompt context',
    min: 1e-6,
    integer: false,
    methods: adaptive,
  },
  {
    key: 'selectRatio',
    label: 'Confident ratio',
    help: 'Share of lowest-entropy views the prompt is tuned on',
    min: 0.01,
    max: 1,
    integer: false,
    methods: adaptive,
  },
  {
    key: 'innerSteps',
    label: 'View steps',
    help: 'Steps on the view warps before the prompt is tuned (0 = fixed TPT views)',
    min: 0,
    max: 50,
    integer: true,
    methods: ['metatpt'],
  },
  {
    key: 'innerLr',
    label: 'View LR',
    help: 'Step size of the view warps (normalised SGD: how far the average view moves per step)',
    min: 1e-6,
    integer: false,
    methods: ['metatpt'],
  },
  {
    key: 'featureWeight',
    label: 'Feature weight',
    help: 'λ_f: keeps views on the image content',
    min: 0,
    integer: false,
    methods: ['metatpt'],
  },
  {
    key: 'thetaWeight',
    label: 'Warp weight',
    help: 'λ_r: keeps warps near their start',
    min: 0,
    integer: false,
    methods: ['metatpt'],
  },
  {
    key: 'seed',
    label: 'Seed',
    help: 'Seed of the random views',
    min: 0,
    integer: true,
    methods: adaptive,
  },
];

export type ParamValues = Record<string, number>;

const paperValues: ParamValues = {
  views: 64,
  steps: 1,
  lr: 0.005,
  selectRatio: 0.1,
  innerSteps: 1,
  innerLr: 0.01,
  featureWeight: 1,
  thetaWeight: 0,
  seed: 0,
};

/** The values each preset gives the form (mirrors the engine's PRESETS). */
export const presetValues: Record<PresetName, ParamValues> = {
  paper: paperValues,
  'fast-cpu': { ...paperValues, views: 16, innerSteps: 1 },
};

export const presetLabels: Record<PresetName, string> = {
  paper: 'Paper (64 views)',
  'fast-cpu': 'Fast CPU (16 views)',
};

export type MetaVariant = 'two-stage' | 'one-stage' | 'second-order';

/** The `params` of runs.start: the preset named, and only the values that differ from it. */
export function runParams(
  method: RunMethod,
  preset: PresetName,
  values: ParamValues,
  variant: MetaVariant,
): Record<string, number | string> {
  const params: Record<string, number | string> = { method, preset };
  if (method === 'zeroshot') return params;
  for (const field of paramFields) {
    if (!field.methods.includes(method)) continue;
    const value = values[field.key];
    if (value !== undefined && value !== presetValues[preset][field.key]) params[field.key] = value;
  }
  if (method === 'metatpt' && variant !== 'two-stage') params.variant = variant;
  return params;
}

/** A readable problem with a value, or null when it is within the field's bounds. */
export function fieldProblem(field: ParamField, value: number | undefined): string | null {
  if (value === undefined || !Number.isFinite(value)) return `${field.label} needs a number`;
  if (field.integer && !Number.isInteger(value)) return `${field.label} is a whole number`;
  if (field.min !== undefined && value < field.min) return `${field.label} is at least ${field.min}`;
  if (field.max !== undefined && value > field.max) return `${field.label} is at most ${field.max}`;
  return null;
}
