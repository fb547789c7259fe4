import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeClipModel } from '../../../tools/clip/make-model.js';
import { CLIP_MODEL_FILES } from '../../../src/engine/clip/model-files.js';
import { downloadModel, type DownloadProgress } from '../../../src/backend/models/download.js';
import { listModels, MANIFEST_FILE } from '../../../src/backend/models/installed.js';
import { expectFailure } from './expect-failure.js';
import { startFakeHub, type FakeHub } from './fake-hub.js';

const REPO = 'test-org/clip-tiny';
const tempDir = mkdtempSync(join(tmpdir(), 'model-download-test-'));
const modelDir = join(tempDir, 'source-model');
let files: Map<string, Buffer>;
let hub: FakeHub;
let rootCount = 0;

beforeAll(async () => {
  makeClipModel(modelDir, { preset: 'tiny', seed: 1 });
  files = new Map(Object.values(CLIP_MODEL_FILES).map((f) => [f, readFileSync(join(modelDir, f))]));
  hub = await startFakeHub(new Map([[REPO, files]]));
});
afterAll(async () => {
  await hub.close();
  rmSync(tempDir, { recursive: true, force: true });
});
afterEach(() => {
  Object.assign(hub.behaviour, {
    cutTransfers: 0,
    cutAfterBytes: 0,
    wrongSha256: false,
    ignoreRange: false,
    forceStatus: 0,
  });
  hub.requests.length = 0;
});

const newModelsRoot = () => join(tempDir, `models-${rootCount++}`);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const weightsSize = () => files.get('model.safetensors')!.length;

describe('downloadModel', () => {
  it('downloads, verifies and installs a model, reporting progress per file', async () => {
    const root = newModelsRoot();
    const progress: DownloadProgress[] = [];
    const model = await downloadModel(REPO, root, {
      baseUrl: hub.baseUrl,
      onProgress: (p) => progress.push(p),
    });

    expect(model.id).toBe('test-org--clip-tiny');
    expect(model.dir).toBe(join(root, 'test-org--clip-tiny'));
    expect(model.summary).toMatchObject({ architecture: 'ViT-64x2/8', imageSize: 32, projectionDim: 32 });
    for (const [file, content] of files)
      expect(readFileSync(join(model.dir, file)).equals(content), file).toBe(true);
    expect(model.source).toMatchObject({ type: 'download', repoId: REPO, revision: 'main' });
    const manifest = JSON.parse(readFileSync(join(model.dir, MANIFEST_FILE), 'utf8'));
    expect(manifest.source.sha256['model.safetensors']).toBe(sha256(files.get('model.safetensors')!));
    expect(readdirSync(root)).toEqual(['test-org--clip-tiny']); // no staging left

    const weights = progress.filter((p) => p.file === 'model.safetensors');
    expect(weights.at(-1)).toEqual({
      file: 'model.safetensors',
      receivedBytes: weightsSize(),
      totalBytes: weightsSize(),
    });
    expect(weights.every((p, i) => i === 0 || p.receivedBytes >= weights[i - 1].receivedBytes)).toBe(true);
    expect(new Set(progress.map((p) => p.file))).toEqual(new Set(files.keys()));

    const listed = await listModels(root);
    expect(listed.models.map((m) => [m.id, m.name])).toEqual([['test-org--clip-tiny', REPO]]);
    await expectFailure(downloadModel(REPO, root, { baseUrl: hub.baseUrl }), 'exists', /already installed/);
  });

  it('keeps the partial file of an interrupted transfer and resumes it with a Range request', async () => {
    const root = newModelsRoot();
    Object.assign(hub.behaviour, { cutTransfers: 1, cutAfterBytes: 1_000_000 });
    await expectFailure(
      downloadModel(REPO, root, { baseUrl: hub.baseUrl, retries: 0 }),
      'network',
      /connection broke off.*partial file is kept/,
    );
    const part = join(root, '.download-test-org--clip-tiny', 'model.safetensors.part');
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(weightsSize());

    hub.requests.length = 0;
    const model = await downloadModel(REPO, root, { baseUrl: hub.baseUrl, retries: 0 });
    expect(hub.requests.filter((r) => r.path.endsWith('model.safetensors')).map((r) => r.range)).toContain(
      `bytes=${kept}-`,
    );
    // Files finished in the first attempt are not fetched again.
    expect(hub.requests.some((r) => r.path.endsWith('config.json'))).toBe(false);
    expect(readFileSync(join(model.dir, 'model.safetensors')).equals(files.get('model.safetensors')!)).toBe(
      true,
    );
  });

  it('resumes broken transfers by itself within one call', async () => {
    Object.assign(hub.behaviour, { cutTransfers: 2, cutAfterBytes: 3_000_000 });
    const model = await downloadModel(REPO, newModelsRoot(), { baseUrl: hub.baseUrl });
    const ranges = hub.requests.filter((r) => r.path.startsWith('/lfs/')).map((r) => r.range);
    expect(ranges).toHaveLength(3);
    expect(ranges[0]).toBeUndefined();
    expect(ranges.slice(1).every((r) => r?.startsWith('bytes='))).toBe(true);
    expect(readFileSync(join(model.dir, 'model.safetensors')).equals(files.get('model.safetensors')!)).toBe(
      true,
    );
  });

  it('starts over when the server ignores the Range header', async () => {
    const root = newModelsRoot();
    Object.assign(hub.behaviour, { cutTransfers: 1, cutAfterBytes: 500_000, ignoreRange: true });
    const model = await downloadModel(REPO, root, { baseUrl: hub.baseUrl });
    expect(readFileSync(join(model.dir, 'model.safetensors')).equals(files.get('model.safetensors')!)).toBe(
      true,
    );
  });

  it('deletes the partial file and installs nothing on a checksum mismatch', async () => {
    const root = newModelsRoot();
    hub.behaviour.wrongSha256 = true;
    await expectFailure(
      downloadModel(REPO, root, { baseUrl: hub.baseUrl }),
      'checksum',
      /checksum mismatch for model\.safetensors of test-org\/clip-tiny: expected sha256 0{64}, got [0-9a-f]{64}; the partial download was deleted/,
    );
    const staging = join(root, '.download-test-org--clip-tiny');
    expect(existsSync(join(staging, 'model.safetensors.part'))).toBe(false);
    expect(existsSync(join(staging, 'model.safetensors'))).toBe(false);
    expect((await listModels(root)).models).toEqual([]);
  });

  it('verifies user-supplied checksums, also for files the server gives none for', async () => {
    await expectFailure(
      downloadModel(REPO, newModelsRoot(), {
        baseUrl: hub.baseUrl,
        sha256: { 'config.json': 'ab'.repeat(32) },
      }),
      'checksum',
      /config\.json/,
    );
    const good = { 'config.json': sha256(files.get('config.json')!) };
    await expect(
      downloadModel(REPO, newModelsRoot(), { baseUrl: hub.baseUrl, sha256: good }),
    ).resolves.toBeTruthy();
  });

  it('reports a missing model as not found', async () => {
    await expectFailure(
      downloadModel('nobody/no-such-model', newModelsRoot(), { baseUrl: hub.baseUrl }),
      'not-found',
      /model not found: nobody\/no-such-model has no config\.json/,
    );
    await expectFailure(
      downloadModel('../etc', newModelsRoot(), { baseUrl: hub.baseUrl }),
      'not-found',
      /not a model id/,
    );
  });

  it('reports gated models and server errors by status', async () => {
    hub.behaviour.forceStatus = 401;
    await expectFailure(
      downloadModel(REPO, newModelsRoot(), { baseUrl: hub.baseUrl }),
      'access-denied',
      /access denied to test-org\/clip-tiny \(HTTP 401 .*gated or private/,
    );
    hub.behaviour.forceStatus = 503;
    await expectFailure(
      downloadModel(REPO, newModelsRoot(), { baseUrl: hub.baseUrl }),
      'http',
      /HTTP 503 downloading/,
    );
  });

  it('reports an unreachable server as a network error', async () => {
    const closed = await startFakeHub(new Map());
    await closed.close();
    await expectFailure(
      downloadModel(REPO, newModelsRoot(), { baseUrl: closed.baseUrl, retries: 1 }),
      'network',
      /network error downloading http:\/\/127\.0\.0\.1:\d+\/test-org\/clip-tiny\/resolve\/main\/config\.json/,
    );
  });

  it('can be cancelled, and resumed afterwards', async () => {
    const root = newModelsRoot();
    const controller = new AbortController();
    const onProgress = (p: DownloadProgress) => {
      if (p.file === 'model.safetensors' && p.receivedBytes > 2_000_000) controller.abort();
    };
    await expectFailure(
      downloadModel(REPO, root, { baseUrl: hub.baseUrl, signal: controller.signal, onProgress }),
      'cancelled',
      /cancelled; model\.safetensors can be resumed/,
    );
    const part = join(root, '.download-test-org--clip-tiny', 'model.safetensors.part');
    expect(statSync(part).size).toBeGreaterThan(2_000_000);
    const model = await downloadModel(REPO, root, { baseUrl: hub.baseUrl });
    expect(readFileSync(join(model.dir, 'model.safetensors')).equals(files.get('model.safetensors')!)).toBe(
      true,
    );
  });

  it('discards a download whose files are not a valid CLIP model', async () => {
    const brokenRepo = new Map(files);
    const config = JSON.parse(files.get('config.json')!.toString('utf8'));
    brokenRepo.set('config.json', Buffer.from(JSON.stringify({ ...config, projection_dim: 16 })));
    const brokenHub = await startFakeHub(new Map([['test-org/broken', brokenRepo]]));
    const root = newModelsRoot();
    try {
      await expectFailure(
        downloadModel('test-org/broken', root, { baseUrl: brokenHub.baseUrl }),
        'invalid-model',
        /^test-org\/broken is not a usable CLIP model: .*model\.safetensors: weights do not match config\.json/,
      );
    } finally {
      await brokenHub.close();
    }
    expect(readdirSync(root)).toEqual([]);
  });
});
