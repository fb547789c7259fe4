import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_FILE } from '../../src/backend/paths.js';
import { openStore } from '../../src/backend/store/index.js';
import { CLASS_NAMES, call, makeWorkspace, nextEvent, startBackend, type Workspace } from './app-fixtures.js';

let workspace: Workspace;

beforeAll(async () => {
  workspace = await makeWorkspace(8);
});

afterAll(() => workspace.remove());

describe('closing and starting the backend', () => {
  it('leaves a run in progress queued at close and finishes it at the next start', async () => {
    const first = await startBackend(workspace);
    const { collection, scan } = await call(first, 'collections.add', { folder: workspace.photos });
    expect(collection.lastScan).toEqual(scan);
    const classSet = await call(first, 'classSets.create', {
      name: 'golden',
      classes: CLASS_NAMES.map((name) => ({ name })),
    });
    const [model] = await call(first, 'models.list', {});
    const underway = nextEvent(first, 'run.progress', (p) => p.done >= 2);
    const run = await call(first, 'runs.start', {
      collectionId: collection.id,
      classSetId: classSet.id,
      modelId: model.id,
      method: 'metatpt',
      params: { views: 16 },
      scope: { kind: 'collection' },
    });
    await underway;
    await first.close();

    const store = openStore(join(workspace.dataDir, DATABASE_FILE));
    const between = store.runs.require(run.id);
    store.close();
    expect(between.status).toBe('queued');
    expect(between.done).toBeGreaterThanOrEqual(2);
    expect(between.done).toBeLessThan(8);

    const second = await startBackend(workspace);
    try {
      // What the scan found is still there to show after the restart.
      const [again] = await call(second, 'collections.list', {});
      expect(again.lastScan).toMatchObject({ added: 8, skippedCount: 0, skipped: [], failed: [] });
      const finished = nextEvent(second, 'run.progress', (p) => p.status === 'done');
      // The run may already be through by the time we listen; then the store says so.
      const current = await call(second, 'runs.get', { runId: run.id });
      if (current.status !== 'done') await finished;
      expect(await call(second, 'runs.get', { runId: run.id })).toMatchObject({
        status: 'done',
        total: 8,
        done: 8,
        failed: 0,
      });
      const items = await call(second, 'runs.items', { runId: run.id });
      expect(items.map((item) => item.state)).toEqual(Array(8).fill('done'));
    } finally {
      await second.close();
    }
  });
});
