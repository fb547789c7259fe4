import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/app.js';
import { ApiError, type ApiEvents } from '../../src/shared/api.js';
import { CLASS_NAMES, call, makeWorkspace, nextEvent, startBackend, type Workspace } from './app-fixtures.js';

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

describe('createBackend', () => {
  it('reports the app, registers the embedded model and offers the demo folder', async () => {
    const info = await call(backend, 'app.info', {});
    expect(info).toEqual({
      version: '0.0.0-test',
      dataDir: workspace.dataDir,
      shell: 'browser',
      device: 'cpu',
      demoFolder: join(workspace.resourcesDir, 'demo'),
    });
    const models = await call(backend, 'models.list', {});
    expect(models.map((m) => [m.name, m.dir, m.config.origin])).toEqual([
      ['tiny', join(workspace.resourcesDir, 'models', 'tiny'), 'embedded'],
    ]);
    expect(await call(backend, 'app.pickFolder', {})).toBeNull();
  });

  it('adds a folder, classifies it zero-shot, pages the grid, and reviews with undo', async () => {
    const scans: ApiEvents['scan.progress'][] = [];
    const offScan = backend.events.on('scan.progress', (p) => scans.push(p));
    const { collection, scan } = await call(backend, 'collections.add', { folder: workspace.photos });
    offScan();
    expect(scan).toMatchObject({ added: 4, changed: 0, removed: 0, errors: 0 });
    expect(collection.root).toBe(realpathSync(workspace.photos));
    expect(scans.length).toBeGreaterThan(0);

    const classSet = await call(backend, 'classSets.create', {
      name: 'golden',
      classes: CLASS_NAMES.map((name) => ({ name })),
    });
    const [model] = await call(backend, 'models.list', {});
    const progress: ApiEvents['run.progress'][] = [];
    const offRun = backend.events.on('run.progress', (p) => progress.push(p));
    const finished = nextEvent(backend, 'run.progress', (p) => p.status === 'done');
    const run = await call(backend, 'runs.start', {
      collectionId: collection.id,
      classSetId: classSet.id,
      modelId: model.id,
      method: 'zeroshot',
      scope: { kind: 'collection' },
    });
    expect(run).toMatchObject({ method: 'zeroshot', total: 4 });
    const last = await finished;
    offRun();
    expect(last).toMatchObject({ runId: run.id, total: 4, done: 4, failed: 0, device: 'cpu' });
    expect(progress.some((p) => p.status === 'running')).toBe(true);
    expect(await call(backend, 'runs.get', { runId: run.id })).toMatchObject({
      status: 'done',
      device: 'cpu',
    });

    const page = await call(backend, 'browse.grid', {
      collectionId: collection.id,
      runId: run.id,
      sort: { key: 'entropy', direction: 'desc' },
    });
    expect(page.items).toHaveLength(4);
    const entropies = page.items.map((item) => item.entropy!);
    expect(entropies).toEqual([...entropies].sort((a, b) => b - a));
    for (const item of page.items) expect(item.predicted).toBeGreaterThanOrEqual(0);

    const detail = await call(backend, 'browse.image', { imageId: page.items[0].imageId });
    expect(detail.results).toHaveLength(1);
    expect(Array.isArray(detail.results[0].prediction.probs)).toBe(true); // plain data, not a typed array
    expect(detail.results[0].prediction.probs).toHaveLength(CLASS_NAMES.length);

    const imageId = page.items[0].imageId;
    const changed = nextEvent(backend, 'labels.changed');
    await call(backend, 'review.assign', { imageIds: [imageId], classSetId: classSet.id, classOrdinal: 2 });
    expect(await changed).toEqual({ collectionId: collection.id, classSetId: classSet.id });
    expect(await call(backend, 'review.labelOf', { imageId, classSetId: classSet.id })).toMatchObject({
      decision: 'label',
      classOrdinal: 2,
      source: 'human',
    });
    await call(backend, 'review.undo', { collectionId: collection.id, classSetId: classSet.id });
    expect(await call(backend, 'review.labelOf', { imageId, classSetId: classSet.id })).toBeNull();
    expect((await call(backend, 'app.info', {})).demoFolder).not.toBeNull();
  });

  it('exports a run with progress events and imports the labels back', async () => {
    const [run] = await call(backend, 'runs.list', {});
    const outDir = join(workspace.root, 'export');
    const progress: ApiEvents['export.progress'][] = [];
    const off = backend.events.on('export.progress', (p) => progress.push(p));
    const exported = await call(backend, 'export.run', {
      runId: run.id,
      format: 'imagefolder',
      include: 'predictions',
      outDir,
    });
    off();
    expect(exported.outDir).toBe(outDir);
    expect(exported.counts).toMatchObject({ predicted: 4, unlabeled: 0 });
    expect(progress.at(-1)).toMatchObject({ runId: run.id, done: 4, total: 4 });
    await expect(call(backend, 'export.run', { runId: run.id, format: 'csv', outDir })).rejects.toThrow();

    const changed = nextEvent(backend, 'labels.changed');
    const imported = await call(backend, 'export.importLabels', {
      collectionId: run.collectionId,
      classSetId: run.classSetId,
      format: 'export',
      path: outDir,
    });
    expect(imported).toMatchObject({ applied: 4, unmatched: 0, unknownClass: 0 });
    expect(await changed).toEqual({ collectionId: run.collectionId, classSetId: run.classSetId });
  });

  it('turns unknown ids into not-found and bad input into invalid-input errors', async () => {
    await expect(call(backend, 'runs.get', { runId: 999 })).rejects.toMatchObject({
      code: 'not-found',
      message: 'run 999 does not exist',
    });
    await expect(
      call(backend, 'review.assign', { imageIds: [12345], classSetId: 1, classOrdinal: 0 }),
    ).rejects.toMatchObject({ code: 'not-found', message: 'image 12345 does not exist' });
    const bad = call(backend, 'runs.get', { runId: -1 } as never);
    await expect(bad).rejects.toBeInstanceOf(ApiError);
    await expect(bad).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(
      call(backend, 'runs.start', {
        collectionId: 1,
        classSetId: 1,
        modelId: 1,
        method: 'tpt',
        params: { views: 0 },
        scope: { kind: 'collection' },
      }),
    ).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/views/) });
  });

  it('serves image files of collections only, and their thumbnails', async () => {
    const [image] = (await call(backend, 'browse.grid', { collectionId: 1 })).items;
    const full = await backend.imageFile(image.imageId, 'full');
    expect(full).toEqual({
      path: join(realpathSync(workspace.photos), image.relPath),
      contentType: 'image/png',
    });
    const thumb = await backend.imageFile(image.imageId, 'thumb');
    expect(thumb.contentType).toBe('image/webp');
    expect(thumb.path.startsWith(join(workspace.dataDir, 'thumbnails'))).toBe(true);
    await expect(backend.imageFile(999, 'full')).rejects.toMatchObject({ code: 'not-found' });
  });
});
