import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/app.js';
import type { ApiEvents } from '../../src/shared/api.js';
import { startFakeHub, type FakeHub } from './models/fake-hub.js';
import { GOLDEN_MODEL_DIR, call, makeWorkspace, startBackend, type Workspace } from './app-fixtures.js';

let workspace: Workspace;
let hub: FakeHub;
let backend: Backend;

beforeAll(async () => {
  workspace = await makeWorkspace(0);
  const files = new Map(
    readdirSync(GOLDEN_MODEL_DIR).map((name) => [name, readFileSync(join(GOLDEN_MODEL_DIR, name))]),
  );
  hub = await startFakeHub(new Map([['tiny/clip', files]]));
  backend = await startBackend(workspace, { download: { baseUrl: hub.baseUrl } });
});

afterAll(async () => {
  await backend.close();
  await hub.close();
  workspace.remove();
});

describe('models calls', () => {
  it('imports a model folder into the data folder and lists it', async () => {
    const imported = await call(backend, 'models.import', { folder: GOLDEN_MODEL_DIR, name: 'golden copy' });
    expect(imported).toMatchObject({
      name: 'golden copy',
      dir: join(workspace.dataDir, 'models', 'golden-copy'),
      config: { origin: 'installed', source: { type: 'import', path: GOLDEN_MODEL_DIR } },
    });
    const names = (await call(backend, 'models.list', {})).map((m) => m.name);
    expect(names).toEqual(['golden copy', 'tiny']);
    await expect(
      call(backend, 'models.import', { folder: GOLDEN_MODEL_DIR, name: 'golden copy' }),
    ).rejects.toThrow(/already installed/);
    await expect(call(backend, 'models.import', { folder: workspace.photos })).rejects.toThrow(
      /not found|missing/,
    );
  });

  it('downloads a model with progress events and registers it', async () => {
    const progress: ApiEvents['model.download'][] = [];
    const off = backend.events.on('model.download', (p) => progress.push(p));
    const downloaded = await call(backend, 'models.download', { repoId: 'tiny/clip' });
    off();
    expect(downloaded).toMatchObject({
      name: 'tiny/clip',
      dir: join(workspace.dataDir, 'models', 'tiny--clip'),
    });
    const weights = progress.filter((p) => p.file === 'model.safetensors');
    expect(weights.at(-1)).toMatchObject({ repoId: 'tiny/clip', receivedBytes: weights.at(-1)!.totalBytes });
    await expect(call(backend, 'models.download', { repoId: 'nobody/nothing' })).rejects.toMatchObject({
      code: 'not-found',
    });
  });
});
