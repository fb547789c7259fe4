// What travels through the BullMQ queue between the workbench and `metatpt worker` processes: an
// image job's data and its return value. Both are JSON in Redis; each side validates what it reads
// (another version of the program, or anything else with access to the Redis, may have written it).
import { z } from 'zod';
import { parseAdaptSettings } from '../../shared/domain/adaptation.js';
import { describeIssues } from '../../shared/domain/issues.js';
import type { WorkerProgress } from '../../shared/domain/runs.js';
import type { ImageTask, RunSpec } from '../jobs/types.js';
import type { ImageResult } from '../store/index.js';

/** Bumped when the job or result shape changes; a worker refuses jobs of another version. */
export const WIRE_VERSION = 1;

/** Where a worker downloads what it cannot read from a shared path: the workbench's serve address. */
export interface DownloadSource {
  /** e.g. http://10.0.0.5:8417 */
  baseUrl: string;
  /** The workbench's worker credential: it reads image and model files, nothing else. */
  token: string;
}

/** One file of a model folder, for a worker that downloads the model: checked by SHA-256. */
export interface ModelFileRef {
  name: string;
  size: number;
  sha256: string;
}

/** An image job as the worker reads it (the workbench sends it encoded: see encodeImageJob). */
export interface ImageJobData {
  v: typeof WIRE_VERSION;
  spec: RunSpec;
  image: ImageTask;
  /** Present only where the workbench serves files to workers; otherwise paths are shared. */
  download?: DownloadSource & { modelFiles: ModelFileRef[] };
}

/** The worker process that produced a result. */
export type WorkerIdentity = Pick<WorkerProgress, 'id' | 'host' | 'device'>;

const id = z.number().int().positive();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** Float32 arrays travel as base64 of their little-endian bytes: exact, and a third of JSON's size. */
const floats = (array: ArrayLike<number>): string =>
  Buffer.from(Float32Array.from(array).buffer).toString('base64');

function unfloats(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) throw new Error('a float32 array of a length not a multiple of 4 bytes');
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

const floatsSchema = z.base64().transform(unfloats);

/** A CoOp or Self-TPT prompt the run classifies with, its arrays as base64. */
const learnedPromptSchema = z.object({
  method: z.enum(['coop', 'selftpt']),
  ctx: floatsSchema,
  classNames: z.array(z.string()).readonly(),
  selfTpt: z
    .object({
      sourceCtx: floatsSchema,
      head: z.object({
        w1: floatsSchema,
        b1: floatsSchema,
        w2: floatsSchema,
        b2: floatsSchema,
        sizes: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
      }),
    })
    .nullable(),
  settings: z.unknown(),
});

const jobSchema = z.object({
  v: z.literal(WIRE_VERSION),
  spec: z.object({
    runId: id,
    // Checked by the one schema of adaptation settings (and resolved again: the same values).
    settings: z.unknown().transform((settings, context) => {
      try {
        return parseAdaptSettings(settings);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
    model: z.object({ id, name: z.string(), dir: z.string().min(1) }),
    classSet: z.object({
      id,
      name: z.string(),
      template: z.string(),
      contextInit: z.string(),
      classes: z.array(z.object({ name: z.string(), prompt: z.string().nullable() })).min(1),
      learnedPrompt: learnedPromptSchema.nullable().optional(),
    }),
  }),
  image: z.object({
    imageId: id,
    path: z.string().min(1),
    seedKey: z.string().min(1),
    contentHash: z
      .string()
      .regex(/^[0-9a-f]{40}$/)
      .nullable(),
  }),
  download: z
    .object({
      baseUrl: z.url({ protocol: /^https?$/ }),
      token: z.string().min(16),
      modelFiles: z
        .array(
          z.object({
            name: z.string().regex(/^[\w.-]+$/),
            size: z.number().int().min(0),
            sha256,
          }),
        )
        .min(1),
    })
    .optional(),
});
/** What the workbench puts in the queue: ImageJobData with the learned prompt's arrays as base64. */
export type EncodedImageJob = z.input<typeof jobSchema>;

/** Checks and decodes an image job read from the queue. */
export const imageJobDataSchema: z.ZodType<ImageJobData, EncodedImageJob> = jobSchema;

type SelfTptPrompt = NonNullable<NonNullable<RunSpec['classSet']['learnedPrompt']>['selfTpt']>;

const encodeSelfTpt = ({ sourceCtx, head }: SelfTptPrompt) => ({
  sourceCtx: floats(sourceCtx),
  head: { ...head, w1: floats(head.w1), b1: floats(head.b1), w2: floats(head.w2), b2: floats(head.b2) },
});

/** An image job as JSON for the queue. */
export function encodeImageJob(job: ImageJobData): EncodedImageJob {
  const learned = job.spec.classSet.learnedPrompt;
  const learnedPrompt = learned && {
    ...learned,
    ctx: floats(learned.ctx),
    selfTpt: learned.selfTpt && encodeSelfTpt(learned.selfTpt),
  };
  return { ...job, spec: { ...job.spec, classSet: { ...job.spec.classSet, learnedPrompt } } };
}

const resultSchema = z.object({
  worker: z.object({ id: z.string().min(1), host: z.string(), device: z.string() }),
  result: z.object({
    label: z.number().int().min(0),
    probs: floatsSchema,
    zeroShotProbs: floatsSchema,
    entropy: z.number(),
    zeroShotEntropy: z.number(),
    adapted: z.boolean(),
    imageFeatures: floatsSchema.optional(),
    ctx: z.object({ shape: z.array(z.number().int().min(0)), data: floatsSchema }).optional(),
    nearestTokens: z.array(z.array(z.string())).optional(),
    views: z.array(z.object({ theta: floatsSchema, entropy: z.number(), selected: z.boolean() })).optional(),
    losses: z.record(z.string(), z.array(z.number())).optional(),
    timings: z.record(z.string(), z.number()),
  }),
});

export type EncodedResult = z.input<typeof resultSchema>;

/** An image's result as a job's return value (JSON). */
export function encodeResult(result: ImageResult, worker: WorkerIdentity): EncodedResult {
  return {
    worker,
    result: {
      ...result,
      probs: floats(result.probs),
      zeroShotProbs: floats(result.zeroShotProbs),
      imageFeatures: result.imageFeatures && floats(result.imageFeatures),
      ctx: result.ctx && { shape: result.ctx.shape, data: floats(result.ctx.data) },
      views: result.views?.map((view) => ({ ...view, theta: floats(view.theta) })),
    },
  };
}

/** A job's return value back as an image result; throws naming the problem when it is not one. */
export function decodeResult(value: unknown): { result: ImageResult; worker: WorkerIdentity } {
  const parsed = resultSchema.safeParse(value);
  if (!parsed.success) {
    throw new Error(
      `a worker returned a malformed result: ${describeIssues(parsed.error, { root: 'result' })}`,
    );
  }
  return parsed.data;
}
