// Re-scoring a collection after a prompt change, from the image features cached by an earlier run,
// against the golden tiny model through the real backend and engine workers.
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/app.js';
import type { Run } from '../../../src/shared/api.js';
import {
  CLASS_NAMES,
  call,
  makeWorkspace,
  nextEvent,
  startBackend,
  type Workspace,
} from '../app-fixtures.js';

let workspace: Workspace;
let backend: Backend;

beforeAll(async () => {
  workspace = await makeWorkspace(4);
  backend = await startBackend(workspace);
});

afterAll(async () => {
  await backend.close();
  workspace.remove();
});

/**
 * Starts a run with `start` and resolves when it is done, with the images the executor handed to the
 * engine (each counts an attempt on its work item; re-scored items are never attempted).
 */
async function runToEnd(start: () => Promise<Run>): Promise<{ run: Run; encoded: Set<string> }> {
  const run = await start();
  if (run.status !== 'done') {
    await nextEvent(backend, 'run.progress', (p) => p.runId === run.id && p.status === 'done');
  }
  const items = backend.store.runs.items(run.id, { limit: 1000 });
  const encoded = new Set(items.filter((item) => item.attempts > 0).map((item) => item.relPath));
  return { run: await call(backend, 'runs.get', { runId: run.id }), encoded };
}

const writeImage = (path: string, color: string) =>
  sharp({ create: { width: 44, height: 36, channels: 3, background: color } })
    .png()
    .toFile(path);

describe('runs.rescore', () => {
  it('scores cached images at once as a full zero-shot run would, and encodes only new or changed ones', async () => {
    const { collection } = await call(backend, 'collections.add', { folder: workspace.photos });
    const classSet = await call(backend, 'classSets.create', {
      name: 'golden',
      classes: CLASS_NAMES.map((name) => ({ name })),
    });
    const [model] = await call(backend, 'models.list', {});
    const ids = { collectionId: collection.id, classSetId: classSet.id, modelId: model.id };
    const zeroShot = () =>
      call(backend, 'runs.start', { ...ids, method: 'zeroshot', scope: { kind: 'collection' } });
    const predictions = (runId: number) =>
      backend.store.runs.items(runId).map((item) => backend.store.results.prediction(runId, item.imageId)!);

    const first = await runToEnd(zeroShot);
    expect(first.encoded.size).toBe(4);
    const images = first.run.total;
    expect(images).toBe(4);

    // New prompts: every image is cached, so the run is done when the call returns.
    await call(backend, 'classSets.update', {
      classSetId: classSet.id,
      patch: {
        template: 'a blurry photo of a {}.',
        contextInit: 'a blurry photo of a',
        classes: CLASS_NAMES.map((name, i) => ({ name, prompt: i === 0 ? `a close-up of a ${name}` : null })),
      },
    });
    const instant = await call(backend, 'runs.rescore', ids);
    expect(instant).toMatchObject({ method: 'zeroshot', status: 'done', total: 4, done: 4, failed: 0 });

    const fresh = await runToEnd(zeroShot);
    expect(fresh.encoded.size).toBe(4);
    const [rescored, full] = [predictions(instant.id), predictions(fresh.run.id)];
    expect(rescored.map((p) => p.imageId)).toEqual(full.map((p) => p.imageId));
    rescored.forEach((p, i) => {
      expect(p.label).toBe(full[i].label);
      expect(p.adapted).toBe(false);
      expect(p.entropy).toBeCloseTo(full[i].entropy, 5);
      expect(p.zeroShotEntropy).toBeCloseTo(full[i].zeroShotEntropy, 5);
      p.probs.forEach((q, c) => expect(Math.abs(q - full[i].probs[c])).toBeLessThan(1e-5));
      expect(Array.from(p.zeroShotProbs)).toEqual(Array.from(p.probs));
    });
    // The prompts changed the scores (otherwise the comparison above proves little).
    const before = predictions(first.run.id);
    expect(rescored.some((p, i) => Math.abs(p.probs[p.label] - before[i].probs[p.label]) > 1e-3)).toBe(true);

    // A new file and a changed one: only those two go through the engine.
    const [changed] = backend.store.runs.items(first.run.id);
    await writeImage(join(workspace.photos, changed.relPath), '#2c8');
    await writeImage(join(workspace.photos, 'extra.png'), '#c52');
    await call(backend, 'collections.rescan', { collectionId: collection.id });
    const mixed = await runToEnd(() => call(backend, 'runs.rescore', ids));
    expect(mixed.run).toMatchObject({ status: 'done', total: 5, done: 5 });
    expect([...mixed.encoded].sort()).toEqual([changed.relPath, 'extra.png'].sort());

    const again = await runToEnd(() => call(backend, 'runs.rescore', ids));
    expect(again.encoded.size).toBe(0);
    predictions(again.run.id).forEach((p, i) => {
      const encoded = predictions(mixed.run.id)[i];
      p.probs.forEach((q, c) => expect(Math.abs(q - encoded.probs[c])).toBeLessThan(1e-5));
    });
  });

  it('refuses ids that name nothing', async () => {
    await expect(
      call(backend, 'runs.rescore', { collectionId: 999, classSetId: 1, modelId: 1 }),
    ).rejects.toThrow(/collection 999 does not exist/);
  });
});
