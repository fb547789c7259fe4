// Adaptation settings, declared once: the methods, the settings with their defaults, bounds and
// presets, and what the run form and the CLI need to show them (label, unit, help). The zod schema
// that validates settings from any source (CLI flags, API calls, stored runs), the renderer's run
// form and the CLI's method flags are all generated from the tables below.
//
// Sources: TPT (Shu et al., NeurIPS 2022) for views, steps, lr and the confident-view ratio;
// MetaTPT (Lei et al., 2025) as reconstructed in DESIGN.md §4 for the inner loop on the views;
// CoOp (Zhou et al., 2022) and Self-TPT (Zhu et al., arXiv 2408.05775) classify with a prompt learned
// from the expert's labels (docs/methods.md).
import { z } from 'zod';
import { describeIssues } from './issues.js';

/**
 * Per-image methods: CLIP zero-shot, TPT, and MetaTPT (TPT on learned views); and the methods that
 * classify with a learned prompt of the class set: CoOp, Self-TPT, and Self-TPT-v (averaged over views).
 */
export const ADAPT_METHODS = ['zeroshot', 'tpt', 'metatpt', 'coop', 'selftpt', 'selftpt-v'] as const;
export type AdaptMethod = (typeof ADAPT_METHODS)[number];

/** Methods that classify with a learned prompt as it is (no tuning per image). */
export const LEARNED_PROMPT_METHODS: readonly AdaptMethod[] = ['coop', 'selftpt', 'selftpt-v'];

/** The kind of learned prompt a method classifies with; null where it needs none. */
export function learnedPromptKind(method: AdaptMethod): 'coop' | 'selftpt' | null {
  if (method === 'coop') return 'coop';
  return method === 'selftpt' || method === 'selftpt-v' ? 'selftpt' : null;
}

/** How each method is named and described where a user picks one. */
export const METHOD_INFO: Record<AdaptMethod, { label: string; hint: string }> = {
  zeroshot: { label: 'Zero-shot', hint: 'CLIP with your prompts; fast, every image' },
  tpt: { label: 'TPT', hint: 'Tunes the prompt per image on confident augmented views' },
  metatpt: { label: 'MetaTPT', hint: 'Also learns the views (reconstruction of the paper)' },
  coop: { label: 'CoOp', hint: 'The prompt learned from your labels (Classes); zero-shot speed' },
  selftpt: { label: 'Self-TPT', hint: 'Learned prompt adapted to the class names; zero-shot speed' },
  'selftpt-v': { label: 'Self-TPT-v', hint: 'Self-TPT averaged over augmented views (no tuning)' },
};

/**
 * MetaTPT's optimisation schedule. two-stage: learn the views, then tune the prompt on them (the
 * default); one-stage: views and prompt take joint steps on one loss; second-order: the inner steps
 * are differentiated through (meta-gradient).
 */
export const META_VARIANTS = ['two-stage', 'one-stage', 'second-order'] as const;
export type MetaVariant = (typeof META_VARIANTS)[number];

export const VARIANT_LABELS: Record<MetaVariant, string> = {
  'two-stage': 'Two-stage (views, then prompt)',
  'one-stage': 'One-stage (views and prompt on one loss, alternating)',
  'second-order': 'Second-order (meta-gradient)',
};

/**
 * How MetaTPT's views take their inner steps. sgd: normalised gradient descent (the mean view moves
 * lr; each view in proportion to its own gradient); adam: Adam (its first step moves every entry lr).
 */
export const INNER_OPTIMIZERS = ['sgd', 'adam'] as const;
export type InnerOptimizer = (typeof INNER_OPTIMIZERS)[number];

/**
 * Arithmetic of the vision tower where no gradient flows through it (the image itself, the views
 * TPT tunes on; MetaTPT's inner loop stays fp32). fp32: exact, the default. int8: dynamic
 * quantisation of the linear layers (int8 weights per output channel, activations quantised per
 * call), run by onnxruntime's integer GEMM; deviation from fp32 in BENCHMARKS.md ("precision").
 */
export const VISION_PRECISIONS = ['fp32', 'int8'] as const;
export type VisionPrecision = (typeof VISION_PRECISIONS)[number];

/** A numeric setting: its bounds (inclusive unless `greaterThan`) and how it is shown. */
export interface NumberSetting {
  label: string;
  /** One line for the form's hint and the CLI's help. */
  help: string;
  unit?: string;
  /** The CLI's name for the value in `--flag <value>`. */
  valueName: string;
  integer: boolean;
  min?: number;
  /** Exclusive lower bound (a learning rate must be positive). */
  greaterThan?: number;
  max?: number;
  /** The methods it means something for. */
  methods: readonly AdaptMethod[];
  /** Shown in the run form (false: CLI and API only). */
  inForm: boolean;
}

const ADAPTIVE = ['tpt', 'metatpt'] as const;
/** Methods that look at augmented views of each image (Self-TPT-v only averages over them). */
const VIEWING = ['tpt', 'metatpt', 'selftpt-v'] as const;

/** Every numeric setting, in the order the form and the CLI's help list them. */
export const NUMBER_SETTINGS = {
  views: {
    label: 'Views',
    help: 'augmented views per image, the original (view 0) included',
    unit: 'views',
    valueName: 'n',
    integer: true,
    min: 1,
    max: 512,
    methods: VIEWING,
    inForm: true,
  },
  steps: {
    label: 'Prompt steps',
    help: 'AdamW steps on the prompt context',
    unit: 'steps',
    valueName: 'n',
    integer: true,
    min: 1,
    max: 100,
    methods: ADAPTIVE,
    inForm: true,
  },
  lr: {
    label: 'Prompt LR',
    help: 'learning rate of the prompt context',
    valueName: 'x',
    integer: false,
    greaterThan: 0,
    methods: ADAPTIVE,
    inForm: true,
  },
  selectRatio: {
    label: 'Confident ratio',
    help: 'share of lowest-entropy views the prompt is tuned on',
    valueName: 'x',
    integer: false,
    greaterThan: 0,
    max: 1,
    methods: ADAPTIVE,
    inForm: true,
  },
  innerSteps: {
    label: 'View steps',
    help: 'steps on the view warps before the prompt is tuned (0: fixed TPT views)',
    unit: 'steps',
    valueName: 'k',
    integer: true,
    min: 0,
    max: 50,
    methods: ['metatpt'],
    inForm: true,
  },
  innerLr: {
    label: 'View LR',
    help: 'step size of the view warps (normalised SGD: how far the average view moves per step)',
    valueName: 'x',
    integer: false,
    greaterThan: 0,
    methods: ['metatpt'],
    inForm: true,
  },
  featureWeight: {
    label: 'Feature weight',
    help: 'λ_f: keeps the views on the image content',
    valueName: 'x',
    integer: false,
    min: 0,
    methods: ['metatpt'],
    inForm: true,
  },
  thetaWeight: {
    label: 'Warp weight',
    help: 'λ_r: keeps the warps near their start',
    valueName: 'x',
    integer: false,
    min: 0,
    methods: ['metatpt'],
    inForm: true,
  },
  seed: {
    label: 'Seed',
    help: "seed of the random views; each image's seed also depends on its path",
    valueName: 's',
    integer: true,
    min: 0,
    methods: VIEWING,
    inForm: true,
  },
  minEntropy: {
    label: 'Minimum entropy',
    help: 'adapt only images whose zero-shot entropy is above this',
    unit: 'nats',
    valueName: 'x',
    integer: false,
    min: 0,
    methods: ADAPTIVE,
    inForm: false,
  },
  chunk: {
    label: 'Views per pass',
    help: 'views per vision-tower run (bounds memory; does not change results)',
    unit: 'views',
    valueName: 'n',
    integer: true,
    min: 1,
    max: 256,
    methods: VIEWING,
    inForm: false,
  },
  learnedPrompt: {
    label: 'Learned prompt',
    help: "id of the stored learned prompt to use (default for coop/selftpt: the class set's newest); with tpt/metatpt its context is where tuning starts (TPT + CoOp init)",
    valueName: 'id',
    integer: true,
    min: 1,
    methods: ['tpt', 'metatpt', 'coop', 'selftpt', 'selftpt-v'],
    inForm: false,
  },
} as const satisfies Record<string, NumberSetting>;

/** Settings whose absence is a value of its own (null): no entropy threshold, no learned prompt. */
type NullableSetting = 'minEntropy' | 'learnedPrompt';

export type NumberSettingName = keyof typeof NUMBER_SETTINGS;

export const PRESET_NAMES = ['paper', 'fast-cpu'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** A setting chosen from a list, and the one on/off setting. */
export interface OtherSetting {
  label: string;
  help: string;
  choices?: readonly string[];
  methods: readonly AdaptMethod[];
}

/** The settings that are not numbers. `preset` is not kept: it resolves to numbers. */
export const OTHER_SETTINGS = {
  preset: {
    label: 'Preset',
    help: 'a named starting point (paper: 64 views, fast-cpu: 16); the other settings override it',
    choices: PRESET_NAMES,
    methods: VIEWING,
  },
  innerOptimizer: {
    label: 'View optimiser',
    help: "sgd: normalised steps, in proportion to each view's gradient; adam: Adam",
    choices: INNER_OPTIMIZERS,
    methods: ['metatpt'],
  },
  variant: {
    label: 'Variant',
    help: 'two-stage: views, then prompt; one-stage: joint steps; second-order: meta-gradient',
    choices: META_VARIANTS,
    methods: ['metatpt'],
  },
  precision: {
    label: 'Precision',
    help:
      'vision tower arithmetic where no gradient flows: fp32 (exact) or int8 — measured: views encoded ' +
      '2.6–3.3× faster (ViT-B/16 shape), the same label as fp32 on 99 % of the embedded test images ' +
      '(accuracy within 0.3 points), unit features within 0.008 (BENCHMARKS.md "precision")',
    choices: VISION_PRECISIONS,
    methods: ADAPT_METHODS,
  },
  augmix: {
    label: 'AugMix',
    help: 'AugMix on the views, as the official TPT code does on fine-grained sets',
    methods: VIEWING,
  },
} as const satisfies Record<string, OtherSetting>;

/** Every setting but the method, in the order the CLI's help lists them. */
export const SETTING_NAMES = [
  'preset',
  ...(Object.keys(NUMBER_SETTINGS) as NumberSettingName[]),
  'innerOptimizer',
  'variant',
  'precision',
  'augmix',
] as const;
export type SettingName = (typeof SETTING_NAMES)[number];

/** The methods a setting means something for (a zero-shot run ignores --views, say). */
export function settingMethods(name: SettingName): readonly AdaptMethod[] {
  return name in NUMBER_SETTINGS
    ? NUMBER_SETTINGS[name as NumberSettingName].methods
    : OTHER_SETTINGS[name as keyof typeof OTHER_SETTINGS].methods;
}

/** Every setting resolved: what the engine adapts an image with. */
export type AdaptSettings = {
  [K in NumberSettingName]: K extends NullableSetting ? number | null : number;
} & {
  method: AdaptMethod;
  innerOptimizer: InnerOptimizer;
  variant: MetaVariant;
  /** AugMix on every view but the original, as the official TPT code does on fine-grained sets. */
  augmix: boolean;
  precision: VisionPrecision;
};

/** The papers' settings: TPT's 64 views, one AdamW step at 5e-3 on the 10 % most confident views. */
export const DEFAULT_SETTINGS: AdaptSettings = {
  method: 'zeroshot',
  views: 64,
  steps: 1,
  lr: 5e-3,
  selectRatio: 0.1,
  innerSteps: 1,
  innerLr: 0.03,
  featureWeight: 1,
  thetaWeight: 0,
  seed: 0,
  minEntropy: null,
  chunk: 16,
  learnedPrompt: null,
  innerOptimizer: 'sgd',
  variant: 'two-stage',
  augmix: false,
  precision: 'fp32',
};

/** Named starting points; explicit settings override them. */
export const PRESETS: Record<PresetName, { label: string; settings: Partial<AdaptSettings> }> = {
  paper: { label: 'Paper (64 views)', settings: {} },
  'fast-cpu': { label: 'Fast CPU (16 views)', settings: { views: 16 } },
};

/** The settings a preset gives, defaults filled in. */
export function presetSettings(preset: PresetName | undefined): AdaptSettings {
  return { ...DEFAULT_SETTINGS, ...(preset ? PRESETS[preset].settings : {}) };
}

/** A numeric setting's bounds as a schema. */
export function numberSchema(setting: NumberSetting): z.ZodNumber {
  let schema = setting.integer ? z.number().int() : z.number();
  if (setting.min !== undefined) schema = schema.min(setting.min);
  if (setting.greaterThan !== undefined) schema = schema.gt(setting.greaterThan);
  if (setting.max !== undefined) schema = schema.max(setting.max);
  return schema;
}

const numberShape = Object.fromEntries(
  Object.entries(NUMBER_SETTINGS).map(([name, setting]) => {
    const schema = numberSchema(setting);
    const nullable = name === 'minEntropy' || name === 'learnedPrompt';
    return [name, (nullable ? schema.nullable() : schema).optional()];
  }),
) as {
  [K in NumberSettingName]: z.ZodOptional<
    K extends NullableSetting ? z.ZodNullable<z.ZodNumber> : z.ZodNumber
  >;
};

/**
 * Adaptation settings as they arrive from outside: the method (zero-shot when absent), a preset,
 * and any setting that overrides it. Unknown keys are errors.
 */
export const adaptParamsSchema = z
  .object({
    method: z.enum(ADAPT_METHODS).default('zeroshot'),
    preset: z.enum(OTHER_SETTINGS.preset.choices).optional(),
    innerOptimizer: z.enum(OTHER_SETTINGS.innerOptimizer.choices).optional(),
    variant: z.enum(OTHER_SETTINGS.variant.choices).optional(),
    precision: z.enum(OTHER_SETTINGS.precision.choices).optional(),
    augmix: z.boolean().optional(),
    ...numberShape,
  })
  .strict();

export type AdaptParams = z.input<typeof adaptParamsSchema>;
/** Params that passed the schema. */
export type ValidAdaptParams = z.output<typeof adaptParamsSchema>;

/** Validated params resolved to every setting: the preset first, then each setting given. */
export function resolveSettings(params: ValidAdaptParams): AdaptSettings {
  const { preset, ...given } = params;
  const defined = Object.entries(given).filter(([, value]) => value !== undefined);
  return { ...presetSettings(preset), ...Object.fromEntries(defined) };
}

/**
 * Validates settings from any source and resolves them; throws an Error naming every bad setting
 * ("invalid adaptation settings: views: Too small: …; bogus: Unrecognized key").
 */
export function parseAdaptSettings(params: unknown): AdaptSettings {
  const parsed = adaptParamsSchema.safeParse(params ?? {});
  if (!parsed.success) {
    throw new Error(`invalid adaptation settings: ${describeIssues(parsed.error, { root: 'params' })}`);
  }
  return resolveSettings(parsed.data);
}

/** The prompt template a new class set starts with ({} is the class name). */
export const DEFAULT_TEMPLATE = 'a photo of a {}.';
/** The words the tuned prompt context starts from (CoOp/TPT: the template's words before the name). */
export const DEFAULT_CONTEXT_INIT = 'a photo of a';
