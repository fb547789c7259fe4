// Learning a class set's prompt from labelled images, one entry point for both methods (CoOp and
// Self-TPT), and the prompt set a stored learned prompt gives for a class set's current names.
import { z } from 'zod';
import { describeIssues } from '../../shared/domain/issues.js';
import type { ClipEncoder } from '../clip/encoder.js';
import {
  coopObjective,
  evaluatePrompt,
  fitPrompt,
  pickRows,
  type FitHooks,
  type LabelledFeatures,
  type PromptFit,
} from './coop.js';
import { PromptSet, type PromptSetOptions } from './prompts.js';
import {
  adaptToClasses,
  selfTptDefaults,
  trainSelfTpt,
  type ProjectionHead,
  type SelfTptOptions,
} from './selftpt.js';
import { normalizeRowsHost } from '../host-math.js';

export type LearnMethod = 'coop' | 'selftpt';

/** Learning settings as they arrive from outside (CLI flags, API calls); all optional. */
export const learnSettingsSchema = z
  .object({
    epochs: z.number().int().min(1).max(1000).optional(),
    patience: z.number().int().min(0).max(1000).optional(),
    lr: z.number().positive().optional(),
    batchSize: z.number().int().min(1).max(4096).optional(),
    validationFraction: z.number().min(0).max(0.9).optional(),
    seed: z.number().int().min(0).optional(),
    temperature: z.number().positive().optional(),
    matchWeight: z.number().min(0).optional(),
    matchDecay: z.number().min(0).max(1).optional(),
    adaptSteps: z.number().int().min(0).max(200).optional(),
    adaptLr: z.number().positive().optional(),
  })
  .strict();

export type LearnSettings = z.input<typeof learnSettingsSchema>;

/** Validates `settings` (throwing a readable error) and fills in the defaults for features of width P. */
export function resolveLearnSettings(settings: unknown, width: number): SelfTptOptions {
  const parsed = learnSettingsSchema.safeParse(settings ?? {});
  if (!parsed.success)
    throw new Error(`invalid learning settings: ${describeIssues(parsed.error, { root: 'settings' })}`);
  const { epochs, patience, lr, batchSize, validationFraction, seed, ...rest } = parsed.data;
  const base = selfTptDefaults(width);
  const defined = <T extends object>(o: T): Partial<T> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return {
    ...base,
    ...defined(rest),
    training: { ...base.training, ...defined({ epochs, patience, lr, batchSize, validationFraction, seed }) },
  };
}

/** Resolved options in the flat form of learnSettingsSchema (what a stored learned prompt records). */
export function flatLearnSettings(options: SelfTptOptions): Required<LearnSettings> {
  const { epochs, patience, lr, batchSize, validationFraction, seed } = options.training;
  const { temperature, matchWeight, matchDecay, adaptSteps, adaptLr } = options;
  return {
    epochs,
    patience,
    lr,
    batchSize,
    validationFraction,
    seed,
    temperature,
    matchWeight,
    matchDecay,
    adaptSteps,
    adaptLr,
  };
}

export interface LearnedPromptResult {
  method: LearnMethod;
  /** The context that classifies [nCtx, D] (Self-TPT: after stage 2 on these class names). */
  ctx: Float32Array;
  /** Self-TPT's stage-1 context and head, where stage 2 starts for other class names. */
  selfTpt: { sourceCtx: Float32Array; head: ProjectionHead } | null;
  fit: PromptFit;
  /** Accuracy of the hand-written prompts (before) and of `ctx` (after) on both splits. */
  accuracy: {
    trainBefore: number;
    trainAfter: number;
    validationBefore: number | null;
    validationAfter: number | null;
  };
  /** Self-TPT: CPT's loss before each stage-2 step. */
  adaptLosses: number[];
  options: SelfTptOptions;
}

/**
 * Learns the prompt set's context from labelled features by CoOp or Self-TPT (stage 1, then stage 2
 * on the same class names). Throws on bad labels; rejects when hooks.signal aborts.
 */
export async function learnPrompt(
  prompts: PromptSet,
  data: LabelledFeatures,
  method: LearnMethod,
  options: SelfTptOptions,
  hooks: FitHooks = {},
): Promise<LearnedPromptResult> {
  if (method === 'coop') {
    const fit = await fitPrompt(prompts, data, coopObjective(prompts), options.training, hooks);
    return {
      method,
      ctx: fit.params[0],
      selfTpt: null,
      fit,
      accuracy: {
        trainBefore: fit.before.trainAccuracy,
        trainAfter: fit.after.trainAccuracy,
        validationBefore: fit.before.validationAccuracy,
        validationAfter: fit.after.validationAccuracy,
      },
      adaptLosses: [],
      options,
    };
  }
  const source = await trainSelfTpt(prompts, data, options, hooks);
  const adapted = await adaptToClasses(prompts, source, options, { signal: hooks.signal });
  const { encoder } = prompts;
  const width = encoder.projectionDim;
  const text = normalizeRowsHost(await encoder.encodeText(prompts.tokens, { ctx: adapted.ctx }), width);
  const score = (rows: number[]) =>
    evaluatePrompt(pickRows(data, rows), text, width, encoder.model.logitScale).accuracy;
  const { fit } = source;
  return {
    method,
    ctx: adapted.ctx,
    selfTpt: { sourceCtx: source.ctx, head: source.head },
    fit,
    accuracy: {
      trainBefore: fit.before.trainAccuracy,
      trainAfter: score(fit.split.train),
      validationBefore: fit.before.validationAccuracy,
      validationAfter: fit.split.validation.length > 0 ? score(fit.split.validation) : null,
    },
    adaptLosses: adapted.losses,
    options,
  };
}

/** A stored learned prompt, as much of it as building a class set's prompts needs. */
export interface LearnedContext {
  method: LearnMethod;
  ctx: Float32Array;
  /** The class names `ctx` was learned or adapted for. */
  classNames: readonly string[];
  selfTpt: { sourceCtx: Float32Array; head: ProjectionHead } | null;
  /** The learning settings it was made with (stage 2 reuses τ, steps and lr). */
  settings: unknown;
}

/** Whether `learned`'s context classifies `classNames` as it is: CoOp's always, Self-TPT's for its own names. */
export function usableAsLearned(learned: LearnedContext, classNames: readonly string[]): boolean {
  return (
    learned.method === 'coop' ||
    (learned.classNames.length === classNames.length &&
      learned.classNames.every((n, i) => n === classNames[i]))
  );
}

/**
 * Self-TPT stage 2 (CPT alone, no images) of a stored Self-TPT prompt on `base`'s class names, from
 * its stage-1 context and head with the settings it was learned with (τ, steps, lr). `base` is the
 * class set's prompt set with its hand-written context. Returns the adapted context [nCtx, D] and
 * CPT's loss before each step. Throws when the prompt has no stage-1 record; rejects on abort.
 */
export function adaptLearnedContext(
  base: PromptSet,
  learned: LearnedContext,
  hooks: { signal?: AbortSignal; onStep?: (step: number, steps: number) => void } = {},
): Promise<{ ctx: Float32Array; losses: number[] }> {
  if (!learned.selfTpt) throw new Error('a Self-TPT prompt needs its stage-1 context and head to adapt');
  const settings = resolveLearnSettings(learned.settings, base.encoder.projectionDim);
  return adaptToClasses(
    base,
    { ctx: learned.selfTpt.sourceCtx, head: learned.selfTpt.head },
    settings,
    hooks,
  );
}

/**
 * The prompt set of `classNames` with a learned context. A CoOp context is used as it is; a Self-TPT
 * prompt made for other class names first runs stage 2 (adaptLearnedContext) on these names —
 * Self-TPT's test-time adaptation of a new or edited class set.
 */
export async function promptsWithLearnedContext(
  encoder: ClipEncoder,
  classNames: readonly string[],
  options: Omit<PromptSetOptions, 'ctx'>,
  learned: LearnedContext,
  signal?: AbortSignal,
): Promise<{ prompts: PromptSet; adaptLosses: number[] }> {
  if (usableAsLearned(learned, classNames)) {
    return {
      prompts: await PromptSet.create(encoder, classNames, { ...options, ctx: learned.ctx }),
      adaptLosses: [],
    };
  }
  const base = await PromptSet.create(encoder, classNames, options);
  const adapted = await adaptLearnedContext(base, learned, { signal });
  return {
    prompts: await PromptSet.create(encoder, classNames, { ...options, ctx: adapted.ctx }),
    adaptLosses: adapted.losses,
  };
}
