// Self-TPT stage 2's adapted contexts, cached per (learned prompt, model, classes): what a Self-TPT
// run of an edited or new class set classifies with, computed once instead of at every run start.
import type { Db } from './database.js';
import { blobToFloat32, float32ToBlob } from './float32.js';

/** Everything of a class set that stage 2 reads: the classes in order with their prompts, the template, the context init. */
export interface Stage2Classes {
  template: string;
  contextInit: string;
  classes: readonly { name: string; prompt: string | null }[];
}

/** A cached stage-2 result: the adapted context [nCtx, D], CPT's loss before each step, the seconds it took. */
export interface Stage2Adaptation {
  ctx: Float32Array;
  losses: number[];
  seconds: number;
  createdAt: number;
}

/**
 * The cache key of a class set's classes: renaming, adding, removing or reordering a class, or
 * changing a class's prompt, the template or the context init, changes it; nothing else does.
 */
export function stage2ClassKey({ template, contextInit, classes }: Stage2Classes): string {
  return JSON.stringify({ classes: classes.map((c) => [c.name, c.prompt]), template, contextInit });
}

interface Row {
  ctx: Buffer;
  losses_json: string;
  seconds: number;
  created_at: number;
}

export function selfTptAdaptationsRepository(db: Db) {
  const get = db.prepare<[number, number, string], Row>(
    `SELECT ctx, losses_json, seconds, created_at FROM selftpt_adaptations
     WHERE learned_prompt_id = ? AND model_id = ? AND class_key = ?`,
  );
  const put = db.prepare(
    `INSERT OR REPLACE INTO selftpt_adaptations
       (learned_prompt_id, model_id, class_key, ctx, losses_json, seconds, created_at)
     VALUES (@learnedPromptId, @modelId, @classKey, @ctx, @losses, @seconds, @now)`,
  );
  const has = db.prepare<[number, number, string], { one: number }>(
    `SELECT 1 AS one FROM selftpt_adaptations
     WHERE learned_prompt_id = ? AND model_id = ? AND class_key = ?`,
  );
  const countOf = db.prepare<[number], { n: number }>(
    'SELECT COUNT(*) AS n FROM selftpt_adaptations WHERE learned_prompt_id = ?',
  );
  return {
    get(learnedPromptId: number, modelId: number, classes: Stage2Classes): Stage2Adaptation | undefined {
      const row = get.get(learnedPromptId, modelId, stage2ClassKey(classes));
      return (
        row && {
          ctx: blobToFloat32(row.ctx),
          losses: JSON.parse(row.losses_json) as number[],
          seconds: row.seconds,
          createdAt: row.created_at,
        }
      );
    },
    /** Whether an adaptation is cached (without decoding it: status checks run at every CPT step). */
    has: (learnedPromptId: number, modelId: number, classes: Stage2Classes): boolean =>
      has.get(learnedPromptId, modelId, stage2ClassKey(classes)) !== undefined,
    put(
      learnedPromptId: number,
      modelId: number,
      classes: Stage2Classes,
      { ctx, losses, seconds }: Omit<Stage2Adaptation, 'createdAt'>,
    ): void {
      put.run({
        learnedPromptId,
        modelId,
        classKey: stage2ClassKey(classes),
        ctx: float32ToBlob(ctx),
        losses: JSON.stringify(losses),
        seconds,
        now: Date.now(),
      });
    },
    /** How many class lists the learned prompt has an adaptation cached for. */
    countOf: (learnedPromptId: number): number => countOf.get(learnedPromptId)!.n,
  };
}
