// A native crash while classifying one image (SIGABRT in the engine's process, as an abort in
// onnxruntime or an image codec would raise) fails that image with the reason and nothing else: the
// backend lives on, the other images get results, the run ends done and is not retried forever.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/app.js';
import { call, makeWorkspace, scoreZeroShot, startBackend, type Workspace } from './app-fixtures.js';

let workspace: Workspace;
let backend: Backend;

beforeAll(async () => {
  workspace = await makeWorkspace(3);
  copyFileSync(join(workspace.photos, 'd0000', 'img-0000001.png'), join(workspace.photos, 'die.png'));
  backend = await startBackend(workspace, {
    workerScript: new URL('./engine-host/dying-worker.ts', import.meta.url),
  });
});
afterAll(async () => {
  await backend.close();
  workspace.remove();
});

describe('a native crash on one image', () => {
  it('fails that image with the signal and finishes the run with the others', async () => {
    const { collection } = await call(backend, 'collections.add', { folder: workspace.photos });
    const { run } = await scoreZeroShot(backend, collection.id);
    expect(await call(backend, 'runs.get', { runId: run.id })).toMatchObject({
      status: 'done',
      total: 4,
      done: 3,
      failed: 1,
    });
    const failed = await call(backend, 'runs.items', { runId: run.id, state: 'failed' });
    expect(failed).toEqual([
      expect.objectContaining({ relPath: 'die.png', error: expect.stringMatching(/killed by SIGABRT/) }),
    ]);
    expect(failed[0].attempts).toBe(1);
  });
});
