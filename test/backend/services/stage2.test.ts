// Self-TPT stage 2 ahead of runs, through the real backend and engine workers (golden tiny model):
// run in the background when a class set using a Self-TPT prompt is created or edited, cached, used
// at run start with the engine's own probabilities, kept across a restart. Stage-2 executions are
// counted by the engine hosts (backend.stage2Runs(): workers run stage 2 nowhere else).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/app.js';
import { runCli } from '../../../src/cli/command.js';
import { commands } from '../../../src/cli/commands.js';
import { ADAPT_DEFAULTS, adaptImage, prepareImage } from '../../../src/engine/adapt/adapt.js';
import { promptsWithLearnedContext } from '../../../src/engine/adapt/learn.js';
import { PromptSet } from '../../../src/engine/adapt/prompts.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { Engine } from '../../../src/engine/runtime.js';
import type { ClassSet, Stage2Status } from '../../../src/shared/api.js';
import { expectClose } from '../../helpers.js';
import {
  CLASS_NAMES,
  GOLDEN_MODEL_DIR,
  call,
  makeWorkspace,
  nextEvent,
  runToEnd,
  startBackend,
  type Workspace,
} from '../app-fixtures.js';

let workspace: Workspace;
let backend: Backend;
let ids: { collectionId: number; modelId: number };
/** The class set the Self-TPT prompt is learned on, and one that uses it for other classes. */
let source: ClassSet;
let target: ClassSet;
let promptId: number;

const TARGET_NAMES = [CLASS_NAMES[2], CLASS_NAMES[0], 'Granny Smith', CLASS_NAMES[3]];
const classes = (names: string[]) => names.map((name) => ({ name }));

/** Resolves when the class set's stage 2 reaches `state`, asking first (it may be there already). */
async function reaches(classSetId: number, state: Stage2Status['state']): Promise<Stage2Status> {
  const event = nextEvent(backend, 'prompts.stage2', (s) => s.classSetId === classSetId && s.state === state);
  const now = await call(backend, 'prompts.stage2', { classSetId, modelId: ids.modelId });
  return now?.state === state ? now : event;
}

const selfTptRun = async (classSetId: number) =>
  runToEnd(
    backend,
    await call(backend, 'runs.start', {
      ...ids,
      classSetId,
      method: 'selftpt',
      scope: { kind: 'collection' },
    }),
  );

beforeAll(async () => {
  workspace = await makeWorkspace(8);
  backend = await startBackend(workspace);
  const { collection } = await call(backend, 'collections.add', { folder: workspace.photos });
  const [model] = await call(backend, 'models.list', {});
  ids = { collectionId: collection.id, modelId: model.id };
  source = await call(backend, 'classSets.create', { name: 'source', classes: classes(CLASS_NAMES) });
  const images = backend.store.images.pageAfter(collection.id, 0, 100);
  for (const [i, image] of images.entries()) {
    await call(backend, 'review.assign', {
      imageIds: [image.id],
      classSetId: source.id,
      classOrdinal: i % 4,
    });
  }
  const learned = await call(backend, 'prompts.learn', {
    classSetId: source.id,
    modelId: model.id,
    method: 'selftpt',
    settings: { epochs: 2, adaptSteps: 2 },
  });
  promptId = learned.id;
});

afterAll(async () => {
  await backend.close();
  workspace.remove();
});

describe('Self-TPT stage 2 ahead of runs', () => {
  it('runs in the background when a class set is created, with progress, and is cached', async () => {
    // The prompt was learned for the source's own classes: nothing to adapt there.
    expect(
      await call(backend, 'prompts.stage2', { classSetId: source.id, modelId: ids.modelId }),
    ).toMatchObject({
      state: 'ready',
      learnedPromptId: promptId,
    });
    const steps: number[] = [];
    const off = backend.events.on('prompts.stage2', (s) => s.progress && steps.push(s.progress.done));
    target = await call(backend, 'classSets.create', { name: 'target', classes: classes(TARGET_NAMES) });
    const ready = await reaches(target.id, 'ready');
    off();
    expect(ready).toMatchObject({ learnedPromptId: promptId, learnedOnClassSetId: source.id, error: null });
    expect(steps).toEqual([1, 2]);
    expect(backend.stage2Runs()).toBe(1);
    expect(backend.store.selfTptAdaptations.countOf(promptId)).toBe(1);
  });

  it('starts a run from the cache, with the probabilities of stage 2 run in-process', async () => {
    const run = await selfTptRun(target.id);
    expect(run).toMatchObject({ status: 'done', done: 8, params: { learnedPrompt: promptId } });
    expect(backend.stage2Runs()).toBe(1);

    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const encoder = new ClipEncoder(ClipModel.load(GOLDEN_MODEL_DIR), engine);
    const stored = backend.store.learnedPrompts.require(promptId);
    const { prompts } = await promptsWithLearnedContext(
      encoder,
      TARGET_NAMES,
      { template: target.template, contextInit: target.contextInit },
      stored,
    );
    // Stage 2 matters at this tolerance: the stage-1 context alone classifies measurably otherwise.
    const unadapted = await PromptSet.create(encoder, TARGET_NAMES, { ctx: stored.selfTpt!.sourceCtx });
    let stage2Effect = 0;
    for (const item of backend.store.runs.items(run.id)) {
      const direct = await adaptImage(
        prompts,
        await prepareImage(join(workspace.photos, item.relPath), prompts),
        { ...ADAPT_DEFAULTS, method: 'selftpt' },
      );
      const saved = backend.store.results.prediction(run.id, item.imageId)!.probs;
      expectClose(saved, direct.probs, 1e-5);
      const before = await adaptImage(
        unadapted,
        await prepareImage(join(workspace.photos, item.relPath), unadapted),
        { ...ADAPT_DEFAULTS, method: 'selftpt' },
      );
      saved.forEach((p, c) => (stage2Effect = Math.max(stage2Effect, Math.abs(p - before.probs[c]))));
    }
    expect(stage2Effect).toBeGreaterThan(1e-4);
    await engine.dispose();
  });

  it('is keyed by the classes in order: renaming and reordering miss, other class sets’ edits do not', async () => {
    const key = () =>
      backend.store.selfTptAdaptations.get(promptId, ids.modelId, backend.store.classSets.require(target.id));
    const other = await call(backend, 'classSets.create', {
      name: 'other',
      classes: classes(CLASS_NAMES.slice(1)),
    });
    await reaches(other.id, 'ready');
    const runs = backend.stage2Runs();
    await call(backend, 'classSets.update', {
      classSetId: other.id,
      patch: { classes: classes(CLASS_NAMES.slice(0, 3)) },
    });
    await reaches(other.id, 'ready');
    expect(backend.stage2Runs()).toBe(runs + 1);
    expect(key()).toBeDefined(); // the target's adaptation stays
    expect(
      (await call(backend, 'prompts.stage2', { classSetId: target.id, modelId: ids.modelId }))!.state,
    ).toBe('ready');

    const renamed = [...TARGET_NAMES.slice(0, 3), 'espresso'];
    const reordered = [...TARGET_NAMES].reverse();
    for (const names of [renamed, reordered]) {
      const table = {
        ...backend.store.classSets.require(target.id),
        classes: names.map((name) => ({ name, prompt: null })),
      };
      expect(backend.store.selfTptAdaptations.get(promptId, ids.modelId, table)).toBeUndefined();
    }
    const template = { ...backend.store.classSets.require(target.id), template: 'a picture of a {}.' };
    expect(backend.store.selfTptAdaptations.get(promptId, ids.modelId, template)).toBeUndefined();
  });

  it('supersedes a job when the class set is edited again before it ran', async () => {
    const runs = backend.stage2Runs();
    const first = [...TARGET_NAMES.slice(0, 3), 'espresso'];
    const second = [...TARGET_NAMES.slice(0, 3), 'R2-D2'];
    // No await between them: the first job is still waiting for its engine worker to load.
    const edits = [first, second].map((names) =>
      call(backend, 'classSets.update', { classSetId: target.id, patch: { classes: classes(names) } }),
    );
    await Promise.all(edits);
    await reaches(target.id, 'ready');
    expect(backend.stage2Runs()).toBe(runs + 1);
    const table = (names: string[]) => ({
      ...backend.store.classSets.require(target.id),
      classes: names.map((name) => ({ name, prompt: null })),
    });
    expect(backend.store.selfTptAdaptations.get(promptId, ids.modelId, table(first))).toBeUndefined();
    expect(backend.store.selfTptAdaptations.get(promptId, ids.modelId, table(second))).toBeDefined();
  });

  it('computes a missing adaptation once at run start, then reads it', async () => {
    const third = await call(backend, 'classSets.create', {
      name: 'third',
      classes: classes(CLASS_NAMES.slice(0, 2)),
    });
    // Cancelled before it ran: the run start computes it.
    expect(await call(backend, 'prompts.cancelStage2', { classSetId: third.id })).toBe(true);
    expect((await reaches(third.id, 'stale')).error).toBeNull();
    const runs = backend.stage2Runs();
    expect(await selfTptRun(third.id)).toMatchObject({ status: 'done', done: 8 });
    expect(backend.stage2Runs()).toBe(runs + 1);
    expect(
      (await call(backend, 'prompts.stage2', { classSetId: third.id, modelId: ids.modelId }))!.state,
    ).toBe('ready');
    expect(await selfTptRun(third.id)).toMatchObject({ status: 'done', done: 8 });
    expect(backend.stage2Runs()).toBe(runs + 1);
  });

  it('keeps the cache across a restart, and deletes it with its learned prompt', async () => {
    await backend.close();
    backend = await startBackend(workspace);
    expect(
      (await call(backend, 'prompts.stage2', { classSetId: target.id, modelId: ids.modelId }))!.state,
    ).toBe('ready');
    expect(await selfTptRun(target.id)).toMatchObject({ status: 'done', done: 8 });
    expect(backend.stage2Runs()).toBe(0);

    // `metatpt status --json` says the same from the database.
    const out: string[] = [];
    const io = { stdout: (t: string) => void out.push(t), stderr: () => {}, stderrIsTTY: false };
    expect(await runCli(commands, ['status', '--db', backend.store.path, '--json'], io)).toBe(0);
    const { selfTptStage2 } = JSON.parse(out.join('')) as { selfTptStage2: Stage2Status[] };
    expect(selfTptStage2.find((s) => s.classSetId === target.id)).toMatchObject({
      state: 'ready',
      learnedPromptId: promptId,
    });

    expect(backend.store.selfTptAdaptations.countOf(promptId)).toBe(5);
    backend.store.learnedPrompts.remove(promptId);
    expect(backend.store.selfTptAdaptations.countOf(promptId)).toBe(0);
    expect(await call(backend, 'prompts.stage2', { classSetId: target.id, modelId: ids.modelId })).toBeNull();
  });
});
