// Workers without shared storage: images and the model come from the workbench's serve address with
// the worker token (and nothing else opens with it), checked by hash on arrival; the model is cached.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type TestRedis } from '../../../scripts/redis-server.js';
import type { Backend } from '../../../src/backend/app.js';
import { ENGINE_WORKER_SCRIPT } from '../../../src/backend/engine-host/host.js';
import { startRemoteWorker, type RemoteWorker } from '../../../src/backend/scale-out/worker.js';
import { startServer, type ServeHandle } from '../../../src/backend/serve/server.js';
import { call, makeWorkspace, startBackend, startCollectionRun, type Workspace } from '../app-fixtures.js';

const QUEUE = 'downloads-test';
const WORKER_TOKEN = 'worker-token-for-the-downloads-test';
let workspace: Workspace;
let redis: TestRedis;
let backend: Backend;
let server: ServeHandle;
let worker: RemoteWorker;
let cacheDir: string;

beforeAll(async () => {
  [workspace, redis] = await Promise.all([makeWorkspace(3), startRedis()]);
  const port = await freePort();
  backend = await startBackend(workspace, {
    scaleOut: {
      redisUrl: redis.url,
      queue: QUEUE,
      attempts: 1,
      download: { baseUrl: `http://127.0.0.1:${port}`, token: WORKER_TOKEN },
    },
  });
  server = await startServer({ backend, port, rendererDir: null, workerToken: WORKER_TOKEN });
  cacheDir = join(workspace.root, 'worker-cache');
  worker = await startRemoteWorker({
    redisUrl: redis.url,
    queue: QUEUE,
    provider: 'cpu',
    workerScript: ENGINE_WORKER_SCRIPT,
    cacheDir,
  });
  await call(backend, 'collections.add', { folder: workspace.photos });
});
afterAll(async () => {
  await worker?.close();
  await server?.close();
  await backend?.close();
  await redis?.stop();
  workspace?.remove();
});

async function zeroShotRun() {
  const run = await startCollectionRun(backend, 'zeroshot');
  await backend.executor.idle();
  return backend.store.runs.require(run.id);
}

describe('scale-out downloads', () => {
  it('a worker downloads the model (cached, checked) and each image, and deletes the images', async () => {
    expect(await zeroShotRun()).toMatchObject({ status: 'done', done: 3, failed: 0 });
    const [modelDir] = readdirSync(join(cacheDir, 'models'));
    expect(existsSync(join(cacheDir, 'models', modelDir, '.complete'))).toBe(true);
    expect(existsSync(join(cacheDir, 'models', modelDir, 'model.safetensors'))).toBe(true);
    expect(readdirSync(join(cacheDir, 'images'))).toEqual([]);
  });

  it('an image changed since indexing fails with the hash mismatch', async () => {
    const [collection] = await call(backend, 'collections.list', {});
    const [victim] = backend.store.images.pageAfter(collection.id, 0, 1);
    writeFileSync(join(workspace.photos, victim.relPath), 'other bytes');
    const run = await zeroShotRun();
    expect(run).toMatchObject({ status: 'done', done: 2, failed: 1 });
    const [failed] = await call(backend, 'runs.items', { runId: run.id, state: 'failed' });
    expect(failed.error).toMatch(/arrived with sha1 [0-9a-f]{40}, not [0-9a-f]{40} \(changed or damaged\)/);
  });

  it('the worker token opens worker files only, and the API token does not open them', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const get = (path: string, token: string) =>
      fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await get('/scale-out/models/1/config.json', WORKER_TOKEN)).status).toBe(200);
    expect((await get('/scale-out/models/1/config.json', server.token)).status).toBe(401);
    expect((await get('/scale-out/images/2', server.token)).status).toBe(401);
    expect((await get('/scale-out/models/1/..%2Fsecret', WORKER_TOKEN)).status).toBe(404);
    const api = await fetch(`${base}/api/app.info`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WORKER_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(api.status).toBe(401);
  });
});
