// Learned prompts (CoOp, Self-TPT) of class sets: the context vectors, and everything they came from.
import type {
  LearnedPromptAccuracy,
  LearnedPromptMethod,
  LearnedPromptSummary,
} from '../../shared/domain/learned-prompts.js';
import type { Db } from './database.js';
import { blobToFloat32, float32ToBlob } from './float32.js';

/** Self-TPT's stage-1 result, what stage 2 adapts to new class names. */
export interface SelfTptSourceRecord {
  sourceCtx: Float32Array;
  head: {
    sizes: [number, number, number];
    w1: Float32Array;
    b1: Float32Array;
    w2: Float32Array;
    b2: Float32Array;
  };
}

/** A labelled image a prompt was learned from; heldOut: in the validation split. */
export interface LearnedFromLabel {
  imageId: number;
  classOrdinal: number;
  heldOut: boolean;
}

export interface LearnedPrompt extends LearnedPromptSummary {
  ctx: Float32Array;
  selfTpt: SelfTptSourceRecord | null;
  labels: LearnedFromLabel[];
}

/** A labelled image of a class set, with its features under a model where they are cached. */
export interface LabelledImage {
  imageId: number;
  classOrdinal: number;
  root: string;
  relPath: string;
  features: Float32Array | null;
}

export type NewLearnedPrompt = Omit<
  LearnedPrompt,
  'id' | 'version' | 'createdAt' | 'labelCount' | 'heldOutCount'
>;

interface Row {
  id: number;
  class_set_id: number;
  model_id: number;
  version: number;
  method: LearnedPromptMethod;
  template: string;
  class_names_json: string;
  ctx: Buffer;
  n_ctx: number;
  source_ctx: Buffer | null;
  head: Buffer | null;
  head_sizes_json: string | null;
  settings_json: string;
  labels_json: string;
  accuracy_json: string;
  history_json: string;
  nearest_tokens_json: string;
  created_at: number;
}

function load(row: Row): LearnedPrompt {
  const labels = (JSON.parse(row.labels_json) as [number, number, 0 | 1][]).map(
    ([imageId, classOrdinal, heldOut]) => ({ imageId, classOrdinal, heldOut: heldOut === 1 }),
  );
  let selfTpt: SelfTptSourceRecord | null = null;
  if (row.source_ctx && row.head && row.head_sizes_json) {
    const sizes = JSON.parse(row.head_sizes_json) as [number, number, number];
    const [p, hidden, out] = sizes;
    const flat = blobToFloat32(row.head);
    const ends = [hidden * p, hidden, out * hidden, out].reduce<number[]>(
      (acc, n) => [...acc, (acc.at(-1) ?? 0) + n],
      [],
    );
    if (ends[3] !== flat.length)
      throw new Error(`learned prompt ${row.id}: head has ${flat.length} values, sizes say ${ends[3]}`);
    const part = (i: number) => flat.slice(i === 0 ? 0 : ends[i - 1], ends[i]);
    selfTpt = {
      sourceCtx: blobToFloat32(row.source_ctx),
      head: { sizes, w1: part(0), b1: part(1), w2: part(2), b2: part(3) },
    };
  }
  return {
    id: row.id,
    classSetId: row.class_set_id,
    modelId: row.model_id,
    version: row.version,
    method: row.method,
    template: row.template,
    classNames: JSON.parse(row.class_names_json) as string[],
    nCtx: row.n_ctx,
    ctx: blobToFloat32(row.ctx),
    selfTpt,
    settings: JSON.parse(row.settings_json) as Record<string, unknown>,
    labels,
    labelCount: labels.length,
    heldOutCount: labels.filter((l) => l.heldOut).length,
    accuracy: JSON.parse(row.accuracy_json) as LearnedPromptAccuracy,
    history: JSON.parse(row.history_json) as Record<string, unknown>[],
    nearestTokens: JSON.parse(row.nearest_tokens_json) as string[][],
    createdAt: row.created_at,
  };
}

/** The summary of a full record. */
export function summarize(prompt: LearnedPrompt): LearnedPromptSummary {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { ctx, selfTpt, labels, ...summary } = prompt;
  return summary;
}

export function learnedPromptsRepository(db: Db) {
  const insert = db.prepare(
    `INSERT INTO learned_prompts (class_set_id, model_id, version, method, template, class_names_json, ctx,
       n_ctx, source_ctx, head, head_sizes_json, settings_json, labels_json, accuracy_json, history_json,
       nearest_tokens_json, created_at)
     VALUES (@classSetId, @modelId,
       (SELECT COALESCE(MAX(version), 0) + 1 FROM learned_prompts WHERE class_set_id = @classSetId),
       @method, @template, @classNames, @ctx, @nCtx, @sourceCtx, @head, @headSizes, @settings, @labels,
       @accuracy, @history, @nearestTokens, @now)`,
  );
  const byId = db.prepare<[number], Row>('SELECT * FROM learned_prompts WHERE id = ?');
  const ofClassSet = db.prepare<[number], Row>(
    'SELECT * FROM learned_prompts WHERE class_set_id = ? ORDER BY version DESC',
  );
  const latestOwn = db.prepare<[number, number, string], Row>(
    `SELECT * FROM learned_prompts WHERE class_set_id = ? AND model_id = ? AND method = ?
     ORDER BY version DESC LIMIT 1`,
  );
  const latestAny = db.prepare<[number, string], Row>(
    `SELECT * FROM learned_prompts WHERE model_id = ? AND method = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
  );
  const remove = db.prepare<[number]>('DELETE FROM learned_prompts WHERE id = ?');
  const labelled = db.prepare<
    [number, number],
    { imageId: number; classOrdinal: number; root: string; relPath: string; features: Buffer | null }
  >(
    `SELECT l.image_id AS imageId, l.class_ordinal AS classOrdinal, c.root, i.rel_path AS relPath, f.features
     FROM labels l
     JOIN images i ON i.id = l.image_id
     JOIN collections c ON c.id = i.collection_id
     LEFT JOIN image_features f ON f.model_id = ? AND f.image_id = l.image_id
     WHERE l.class_set_id = ? AND l.decision = 'label' AND i.status = 'ok'
     ORDER BY l.image_id`,
  );

  return {
    add(prompt: NewLearnedPrompt): LearnedPrompt {
      const head = prompt.selfTpt?.head;
      const { lastInsertRowid } = insert.run({
        classSetId: prompt.classSetId,
        modelId: prompt.modelId,
        method: prompt.method,
        template: prompt.template,
        classNames: JSON.stringify(prompt.classNames),
        ctx: float32ToBlob(prompt.ctx),
        nCtx: prompt.nCtx,
        sourceCtx: prompt.selfTpt ? float32ToBlob(prompt.selfTpt.sourceCtx) : null,
        head: head
          ? float32ToBlob(Float32Array.from([...head.w1, ...head.b1, ...head.w2, ...head.b2]))
          : null,
        headSizes: head ? JSON.stringify(head.sizes) : null,
        settings: JSON.stringify(prompt.settings),
        labels: JSON.stringify(prompt.labels.map((l) => [l.imageId, l.classOrdinal, l.heldOut ? 1 : 0])),
        accuracy: JSON.stringify(prompt.accuracy),
        history: JSON.stringify(prompt.history),
        nearestTokens: JSON.stringify(prompt.nearestTokens),
        now: Date.now(),
      });
      return load(byId.get(Number(lastInsertRowid))!);
    },
    get(id: number): LearnedPrompt | undefined {
      const row = byId.get(id);
      return row && load(row);
    },
    require(id: number): LearnedPrompt {
      const row = byId.get(id);
      if (!row) throw new Error(`learned prompt ${id} does not exist`);
      return load(row);
    },
    /** A class set's learned prompts, newest version first. */
    ofClassSet(classSetId: number): LearnedPromptSummary[] {
      return ofClassSet.all(classSetId).map((row) => summarize(load(row)));
    },
    /**
     * The prompt a method uses by default: the class set's newest of that method under the model; for
     * Self-TPT, failing that, the newest under the model from any class set (stage 2 adapts it).
     */
    latest(classSetId: number, modelId: number, method: LearnedPromptMethod): LearnedPrompt | undefined {
      const row =
        latestOwn.get(classSetId, modelId, method) ??
        (method === 'selftpt' ? latestAny.get(modelId, method) : undefined);
      return row && load(row);
    },
    remove(id: number): void {
      remove.run(id);
    },
    /**
     * The class set's reviewed images (labelled by a person or accepted; any collection, files present),
     * with features cached under the model. Imported labels are left out: they are the ground truth
     * runs are evaluated against, and a prompt learned on them would be scored on its own training data.
     */
    labelledImages(classSetId: number, modelId: number): LabelledImage[] {
      return labelled.all(modelId, classSetId).map((row) => ({
        ...row,
        features: row.features && blobToFloat32(row.features),
      }));
    },
  };
}

export type LearnedPromptsRepository = ReturnType<typeof learnedPromptsRepository>;
