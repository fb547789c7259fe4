// Learning a prompt from reviewed labels through the real backend and engine workers (golden tiny
// model): stored, used by runs exactly as the engine uses it directly, kept across a restart and
// after its labels are cleared.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/app.js';
import { ADAPT_DEFAULTS, adaptImage, prepareImage } from '../../../src/engine/adapt/adapt.js';
import { PromptSet } from '../../../src/engine/adapt/prompts.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { Engine } from '../../../src/engine/runtime.js';
import { expectClose } from '../../helpers.js';
import {
  CLASS_NAMES,
  GOLDEN_MODEL_DIR,
  call,
  makeWorkspace,
  runToEnd,
  startBackend,
  type Workspace,
} from '../app-fixtures.js';

let workspace: Workspace;
let backend: Backend;
let ids: { collectionId: number; classSetId: number; modelId: number };

beforeAll(async () => {
  workspace = await makeWorkspace(8);
  backend = await startBackend(workspace);
  const { collection } = await call(backend, 'collections.add', { folder: workspace.photos });
  const classSet = await call(backend, 'classSets.create', {
    name: 'golden',
    classes: CLASS_NAMES.map((name) => ({ name })),
  });
  const [model] = await call(backend, 'models.list', {});
  ids = { collectionId: collection.id, classSetId: classSet.id, modelId: model.id };
  const images = backend.store.images.pageAfter(collection.id, 0, 100);
  for (const [i, image] of images.entries()) {
    await call(backend, 'review.assign', {
      imageIds: [image.id],
      classSetId: classSet.id,
      classOrdinal: i % 4,
    });
  }
});

afterAll(async () => {
  await backend.close();
  workspace.remove();
});

const predictions = (runId: number) =>
  backend.store.runs.items(runId).map((item) => backend.store.results.prediction(runId, item.imageId)!);

describe('learned prompts', () => {
  it('learns CoOp from the labels, and a run with it gives the engine’s own probabilities', async () => {
    expect(
      await call(backend, 'prompts.labelCount', { classSetId: ids.classSetId, modelId: ids.modelId }),
    ).toBe(8);
    const progress: number[] = [];
    const off = backend.events.on(
      'prompts.learnProgress',
      (p) => p.phase === 'train' && progress.push(p.done),
    );
    const learned = await call(backend, 'prompts.learn', {
      classSetId: ids.classSetId,
      modelId: ids.modelId,
      method: 'coop',
      settings: { epochs: 4, validationFraction: 0.25 },
    });
    off();
    expect(progress).toEqual([0, 1, 2, 3, 4].slice(0, progress.length));
    expect(progress.length).toBeGreaterThan(1);
    expect(learned).toMatchObject({ version: 1, method: 'coop', labelCount: 8, heldOutCount: 4, nCtx: 4 });
    expect(learned.accuracy.validationAfter).toBeGreaterThanOrEqual(learned.accuracy.validationBefore!);
    expect(learned.nearestTokens).toHaveLength(4);

    const run = await runToEnd(
      backend,
      await call(backend, 'runs.start', { ...ids, method: 'coop', scope: { kind: 'collection' } }),
    );
    expect(run).toMatchObject({ status: 'done', done: 8, params: { learnedPrompt: learned.id } });

    // The engine, called directly with the stored context.
    const stored = backend.store.learnedPrompts.require(learned.id);
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const prompts = await PromptSet.create(
      new ClipEncoder(ClipModel.load(GOLDEN_MODEL_DIR), engine),
      CLASS_NAMES,
      {
        ctx: stored.ctx,
      },
    );
    for (const item of backend.store.runs.items(run.id)) {
      const direct = await adaptImage(
        prompts,
        await prepareImage(join(workspace.photos, item.relPath), prompts),
        {
          ...ADAPT_DEFAULTS,
          method: 'coop',
        },
      );
      const saved = backend.store.results.prediction(run.id, item.imageId)!;
      expectClose(saved.probs, direct.probs, 1e-5);
      expectClose(saved.zeroShotProbs, direct.zeroShotProbs, 1e-5);
    }
    await engine.dispose();

    // Re-scoring with the learned prompt reads the cached features: done when the call returns.
    const rescored = await call(backend, 'runs.rescore', { ...ids, method: 'coop' });
    expect(rescored).toMatchObject({ status: 'done', done: 8 });
    predictions(rescored.id).forEach((p, i) => expectClose(p.probs, predictions(run.id)[i].probs, 1e-5));
  });

  it('learns Self-TPT and runs selftpt, selftpt-v and TPT from the CoOp prompt', async () => {
    const learned = await call(backend, 'prompts.learn', {
      classSetId: ids.classSetId,
      modelId: ids.modelId,
      method: 'selftpt',
      settings: { epochs: 2, adaptSteps: 2 },
    });
    expect(learned).toMatchObject({ version: 2, method: 'selftpt' });
    const selftpt = await runToEnd(
      backend,
      await call(backend, 'runs.start', { ...ids, method: 'selftpt', scope: { kind: 'collection' } }),
    );
    expect(selftpt).toMatchObject({ status: 'done', done: 8, params: { learnedPrompt: learned.id } });
    const views = await runToEnd(
      backend,
      await call(backend, 'runs.start', {
        ...ids,
        method: 'selftpt-v',
        params: { views: 4 },
        scope: { kind: 'images', imageIds: [predictions(selftpt.id)[0].imageId] },
      }),
    );
    expect(views).toMatchObject({ status: 'done', done: 1 });
    const [coop] = await call(backend, 'prompts.list', { classSetId: ids.classSetId }).then((all) =>
      all.filter((p) => p.method === 'coop'),
    );
    const tpt = await runToEnd(
      backend,
      await call(backend, 'runs.start', {
        ...ids,
        method: 'tpt',
        params: { views: 4, learnedPrompt: coop.id },
        scope: { kind: 'images', imageIds: [predictions(selftpt.id)[0].imageId] },
      }),
    );
    expect(tpt).toMatchObject({ status: 'done', done: 1 });
    await expect(
      call(backend, 'runs.start', {
        ...ids,
        method: 'selftpt',
        params: { learnedPrompt: coop.id },
        scope: { kind: 'collection' },
      }),
    ).rejects.toThrow(/needs a selftpt prompt/);
  });

  it('keeps a learned prompt when its labels are cleared and across a restart', async () => {
    const before = await call(backend, 'prompts.list', { classSetId: ids.classSetId });
    const images = backend.store.images.pageAfter(ids.collectionId, 0, 100).map((i) => i.id);
    await call(backend, 'review.clear', { imageIds: images, classSetId: ids.classSetId });
    // Imported labels are the ground truth runs are evaluated against: never learned from.
    backend.store.importedLabels.replace(
      ids.classSetId,
      images.map((imageId) => ({ imageId, classOrdinal: 0 })),
    );
    expect(
      await call(backend, 'prompts.labelCount', { classSetId: ids.classSetId, modelId: ids.modelId }),
    ).toBe(0);
    await backend.close();
    backend = await startBackend(workspace);
    const after = await call(backend, 'prompts.list', { classSetId: ids.classSetId });
    expect(after).toEqual(before);
    const coop = after.find((p) => p.method === 'coop')!;
    expect(backend.store.learnedPrompts.require(coop.id).labels).toHaveLength(8);
    await expect(
      call(backend, 'prompts.learn', { classSetId: ids.classSetId, modelId: ids.modelId, method: 'coop' }),
    ).rejects.toThrow(/has 0 reviewed images/);
  });
});
