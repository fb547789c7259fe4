// Adaptation settings as they arrive from outside (CLI flags, API calls, stored run parameters):
// validated, with the presets and defaults filled in, into the engine's AdaptOptions.
import { z } from 'zod';
import { ADAPT_DEFAULTS, PRESETS, type AdaptOptions } from './adapt.js';

export const adaptParamsSchema = z
  .object({
    method: z.enum(['zeroshot', 'tpt', 'metatpt']).default('zeroshot'),
    preset: z.enum(['paper', 'fast-cpu']).optional(),
    views: z.number().int().min(1).max(512).optional(),
    seed: z.number().int().min(0).optional(),
    steps: z.number().int().min(1).max(100).optional(),
    lr: z.number().positive().optional(),
    selectRatio: z.number().gt(0).max(1).optional(),
    innerSteps: z.number().int().min(0).max(50).optional(),
    innerLr: z.number().positive().optional(),
    innerOptimizer: z.enum(['sgd', 'adam']).optional(),
    featureWeight: z.number().min(0).optional(),
    thetaWeight: z.number().min(0).optional(),
    variant: z.enum(['two-stage', 'one-stage', 'second-order']).optional(),
    minEntropy: z.number().min(0).nullable().optional(),
    chunk: z.number().int().min(1).max(256).optional(),
    augmix: z.boolean().optional(),
  })
  .strict();

export type AdaptParams = z.input<typeof adaptParamsSchema>;

/** Validates `params` (throwing a readable error) and resolves them to full options. */
export function resolveAdaptOptions(params: unknown): AdaptOptions {
  const parsed = adaptParamsSchema.safeParse(params ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || 'params'}: ${i.message}`)
      .join('; ');
    throw new Error(`invalid adaptation settings: ${problems}`);
  }
  const p = parsed.data;
  const preset = p.preset ? PRESETS[p.preset] : {};
  const base: AdaptOptions = { ...ADAPT_DEFAULTS, ...preset };
  return {
    ...base,
    method: p.method,
    views: p.views ?? base.views,
    seed: p.seed ?? base.seed,
    minEntropy: p.minEntropy ?? null,
    chunk: p.chunk ?? base.chunk,
    augmix: p.augmix ?? base.augmix,
    tpt: {
      ...base.tpt,
      ...(p.steps !== undefined && { steps: p.steps }),
      ...(p.lr !== undefined && { lr: p.lr }),
      ...(p.selectRatio !== undefined && { selectRatio: p.selectRatio }),
    },
    meta: {
      ...base.meta,
      ...(p.innerSteps !== undefined && { innerSteps: p.innerSteps }),
      ...(p.innerLr !== undefined && { innerLr: p.innerLr }),
      ...(p.innerOptimizer !== undefined && { innerOptimizer: p.innerOptimizer }),
      ...(p.featureWeight !== undefined && { featureWeight: p.featureWeight }),
      ...(p.thetaWeight !== undefined && { thetaWeight: p.thetaWeight }),
      ...(p.variant !== undefined && { variant: p.variant }),
    },
  };
}
