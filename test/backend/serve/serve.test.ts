import { mkdirSync, realpathSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Backend } from '../../../src/backend/app.js';
import { keptTokenPath, loadKeptToken, saveKeptToken } from '../../../src/backend/serve/kept-token.js';
import { startServer, type ServeHandle } from '../../../src/backend/serve/server.js';
import { MAX_CLASS_FILE_BYTES } from '../../../src/backend/services/class-sets.js';
import type { ApiEvents, ApiResponse, ClassSet, CollectionSummary } from '../../../src/shared/api.js';
import { createHttpClient, eventSocketProtocols, type HttpClient } from '../../../src/shared/client-http.js';
import { CLASS_NAMES, makeWorkspace, startBackend, type Workspace } from '../app-fixtures.js';

let workspace: Workspace;
let backend: Backend;
let server: ServeHandle;
let client: HttpClient;
let base: string;
let collection: CollectionSummary;
let classSet: ClassSet;
let imageIds: number[];
/** Resolves when the client's events socket is open. */
let eventsOpen: Promise<void>;

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with the path exactly as given (fetch would normalise '..' away before sending). */
function raw(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: server.host,
        port: server.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const bearer = (token = server.token) => ({ authorization: `Bearer ${token}` });

function apiCall(method: string, body: string, token = server.token): Promise<RawResponse> {
  return raw(`/api/${method}`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body,
  });
}

/** Whether a WebSocket to `path` opens; the HTTP status when it is refused. */
function socketStatus(
  path: string,
  headers: Record<string, string> = {},
  protocols: string[] = [],
): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${server.host}:${server.port}${path}`, protocols, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
    ws.on('error', () => {});
  });
}

beforeAll(async () => {
  workspace = await makeWorkspace(3);
  const rendererDir = join(workspace.root, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>workbench</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log("app");');
  writeFileSync(join(workspace.root, 'secret.txt'), 'secret');
  symlinkSync(join(workspace.root, 'secret.txt'), join(rendererDir, 'assets', 'linked.txt'));

  backend = await startBackend(workspace);
  server = await startServer({ backend, rendererDir });
  base = `http://${server.host}:${server.port}`;
  client = createHttpClient({
    baseUrl: base,
    token: server.token,
    openSocket: (url, protocols) => {
      const ws = new WebSocket(url, protocols);
      eventsOpen = once(ws, 'open').then(() => {});
      return ws;
    },
  });
  collection = (await client.call('collections.add', { folder: workspace.photos })).collection;
  classSet = await client.call('classSets.create', {
    name: 'golden',
    classes: CLASS_NAMES.map((name) => ({ name })),
  });
  imageIds = (await client.call('browse.grid', { collectionId: collection.id })).items.map((i) => i.imageId);
});

afterAll(async () => {
  client?.close();
  await server?.close();
  await backend?.close();
  workspace?.remove();
});

describe('serve mode', () => {
  it('listens on 127.0.0.1 only and prints the URL with the token', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.token).toMatch(/^[\w-]{32}$/);
  });

  it('rejects every kind of route without the token or with a wrong one', async () => {
    const imageId = imageIds[0];
    for (const token of [null, 'wrong-token']) {
      const auth: Record<string, string> = token ? bearer(token) : {};
      const query = token ? `?token=${token}` : '';
      const api = await raw(`/api/app.info${query}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(api.status).toBe(401);
      expect((JSON.parse(api.body) as ApiResponse).ok).toBe(false);
      for (const path of [
        `/files/full/${imageId}`,
        `/files/thumb/${imageId}`,
        '/',
        '/assets/app.js',
        '/nowhere',
      ]) {
        expect((await raw(`${path}${query}`, { headers: auth })).status, path).toBe(401);
      }
      expect(await socketStatus(`/events${query}`, auth)).toBe(401);
      expect(await socketStatus('/events', {}, eventSocketProtocols(token ?? ''))).toBe(401);
    }
  });

  it('takes the API token only as a header or socket subprotocol, never from a cookie or the URL', async () => {
    const appInfo = (headers: Record<string, string>, query = '') =>
      raw(`/api/app.info${query}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: '{}',
      });
    const asCookie = { cookie: `metatpt_token_${server.port}=${server.token}` };
    expect((await appInfo(asCookie)).status).toBe(401);
    expect((await appInfo({}, `?token=${server.token}`)).status).toBe(401);
    expect(await socketStatus(`/events?token=${server.token}`)).toBe(401);
    expect(await socketStatus('/events', asCookie)).toBe(401);
    expect((await appInfo(bearer())).status).toBe(200);
    expect(await socketStatus('/events', {}, eventSocketProtocols(server.token))).toBe(101);
    expect(await socketStatus('/events', bearer())).toBe(101);
  });

  it('serves the page only with the token, with a strict CSP and an asset cookie that opens nothing else', async () => {
    const page = await raw(`/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>workbench</title>');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    const setCookie = String(page.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(server.token);
    const cookie = setCookie.split(';')[0];
    const asset = await raw('/assets/app.js', { headers: { cookie } });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/^text\/javascript/);
    expect((await raw(`/files/full/${imageIds[0]}`, { headers: { cookie } })).status).toBe(200);
    // A page of another port on this host is same-site: the browser sends the cookie, the server refuses.
    const crossPort = { cookie, 'sec-fetch-site': 'same-site' };
    expect((await raw(`/files/full/${imageIds[0]}`, { headers: crossPort })).status).toBe(401);

    const assetKey = cookie.split('=')[1];
    const api = await apiCall('app.info', '{}', assetKey);
    expect(api.status).toBe(401);
    const withCookie = await raw('/api/app.info', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(withCookie.status).toBe(401);
    expect(await socketStatus('/events', { cookie }, eventSocketProtocols(assetKey))).toBe(401);
  });

  it('answers only to its own host names and to its own pages', async () => {
    const hostile = { host: `rebound.example:${server.port}` };
    expect((await apiCall('app.info', '{}')).status).toBe(200);
    const rebound = await raw('/api/app.info', {
      method: 'POST',
      headers: { ...hostile, ...bearer(), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(rebound.status).toBe(421);
    expect(rebound.body).toMatch(/rebound\.example/);
    expect((await raw(`/?token=${server.token}`, { headers: hostile })).status).toBe(421);
    expect((await raw(`/files/full/${imageIds[0]}`, { headers: { ...hostile, ...bearer() } })).status).toBe(
      421,
    );
    expect(await socketStatus('/events', { ...hostile, ...bearer() })).toBe(403);
    // Loopback names on any port: a forwarded port (ssh -L 9000:127.0.0.1:PORT) arrives as localhost:9000.
    for (const host of ['localhost:9000', `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
      const response = await raw('/api/app.info', {
        method: 'POST',
        headers: { host, ...bearer(), 'content-type': 'application/json' },
        body: '{}',
      });
      expect(response.status, host).toBe(200);
    }
    const foreignPage = await raw('/api/app.info', {
      method: 'POST',
      headers: { origin: 'http://127.0.0.1:1', ...bearer(), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(foreignPage.status).toBe(403);
  });

  it('serves collection images and thumbnails by id with their content type', async () => {
    const full = await fetch(client.imageUrl(imageIds[0], 'full'), { headers: bearer() });
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('image/png');
    expect((await full.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const thumb = await fetch(client.imageUrl(imageIds[0], 'thumb'), { headers: bearer() });
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
  });

  it('refuses traversal, non-numeric ids, directories, and links out of the roots', async () => {
    for (const path of [
      '/files/full/../x',
      '/files/full/..%2f..%2fsecret.txt',
      '/files/full/%2e%2e/x',
      '/files/full/abc',
      '/files/full/1.5',
      '/files/full/0',
      '/files/full/-1',
      '/files/full/99999',
      `/files/full/${imageIds[0]}/x`,
      '/files/other/1',
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/',
      '/assets',
      '/assets/linked.txt',
    ]) {
      const response = await raw(path, { headers: bearer() });
      expect(response.status, path).toBe(404);
      expect(response.body, path).not.toContain('secret');
    }

    // An indexed image replaced by a link to a file outside its collection.
    const victim = imageIds[1];
    const { relPath } = (await client.call('browse.image', { imageId: victim })).image;
    const file = join(realpathSync(workspace.photos), relPath);
    renameSync(file, `${file}.moved`);
    symlinkSync(join(workspace.root, 'secret.txt'), file);
    for (const kind of ['full', 'thumb'] as const) {
      const response = await raw(`/files/${kind}/${victim}`, { headers: bearer() });
      expect(response.status, kind).toBe(404);
      expect(response.body).toMatch(/outside the collection/);
    }
  });

  it('validates API input: 400 with the schema message, 404 for unknown calls and ids', async () => {
    const wrongType = await apiCall('runs.get', '{"runId":"seven"}');
    expect(wrongType.status).toBe(400);
    const body = JSON.parse(wrongType.body) as ApiResponse;
    expect(body).toEqual({
      ok: false,
      error: {
        code: 'invalid-input',
        message: expect.stringMatching(/^runs\.get: runId: .*expected number/),
      },
    });
    const extraKey = await apiCall('collections.list', '{"evil":1}');
    expect(extraKey.status).toBe(400);
    expect(extraKey.body).toMatch(/evil/);
    expect((await apiCall('runs.get', '{not json')).status).toBe(400);
    expect((await apiCall('no.such', '{}')).status).toBe(404);
    expect((await apiCall('runs.get', '{"runId":42}')).status).toBe(404);
    const form = await raw('/api/app.info', {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect(form.status).toBe(415);
    expect((await raw('/api/app.info', { headers: bearer() })).status).toBe(405);
    await expect(client.call('runs.get', { runId: 42 })).rejects.toMatchObject({
      code: 'not-found',
      message: 'run 42 does not exist',
    });
  });

  it('refuses an events socket opened by a page of another origin', async () => {
    const protocols = eventSocketProtocols(server.token);
    expect(await socketStatus('/events', { origin: 'http://evil.example' }, protocols)).toBe(403);
    expect(await socketStatus('/events', { origin: base }, protocols)).toBe(101);
  });

  it('rotates the token: the old one, its asset cookie and its sockets stop working at once', async () => {
    const old = server.token;
    const oldCookie = String((await raw(`/?token=${old}`)).headers['set-cookie']).split(';')[0];
    const socket = new WebSocket(`ws://${server.host}:${server.port}/events`, eventSocketProtocols(old));
    await once(socket, 'open');
    const socketClosed = once(socket, 'close');
    server.rotateToken();
    await socketClosed;
    expect(server.token).not.toBe(old);
    expect(server.url).toContain(server.token);
    expect((await apiCall('app.info', '{}', old)).status).toBe(401);
    expect((await raw('/assets/app.js', { headers: { cookie: oldCookie } })).status).toBe(401);
    expect((await apiCall('app.info', '{}')).status).toBe(200);
    server.rotateToken(old); // the shared client of the other tests keeps its token
  });

  it('keeps a token for the next start in an owner-only file, and names a file it cannot use', async () => {
    const file = keptTokenPath(join(workspace.root, 'work.db'));
    expect(await loadKeptToken(file)).toBeNull();
    await saveKeptToken(file, { token: server.token, port: server.port });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await loadKeptToken(file)).toEqual({ token: server.token, port: server.port });
    writeFileSync(file, '{"token":"short"}');
    await expect(loadKeptToken(file)).rejects.toThrow(`${file} is not a kept serve token`);
  });

  it('reads only regular files of bounded size: a FIFO or a device is refused at once, the server stays up', async () => {
    const fifo = join(workspace.root, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const big = join(workspace.root, 'big.txt');
    writeFileSync(big, 'a\n'.repeat(MAX_CLASS_FILE_BYTES));
    // More at once than libuv's four pool threads: a blocking read of each would stall the server.
    const calls = [fifo, fifo, fifo, fifo, fifo, '/dev/zero', '/dev/urandom', workspace.root, big].map(
      (path) => apiCall('classSets.readFile', JSON.stringify({ path })),
    );
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.status)).toEqual(Array(calls.length).fill(400));
    expect(answers[0].body).toContain(`${fifo}: is a named pipe (FIFO), not a regular file`);
    expect(answers[5].body).toContain('/dev/zero: is a device, not a regular file');
    expect(answers[7].body).toContain('is a folder, not a regular file');
    expect(answers[8].body).toMatch(/bytes, more than the 4 MiB a classes file may have/);
    expect((await apiCall('app.info', '{}')).status).toBe(200);
  });

  it('pushes run progress over the WebSocket', async () => {
    const [model] = await client.call('models.list', {});
    const progress: ApiEvents['run.progress'][] = [];
    const done = new Promise<void>((resolve) => {
      client.on('run.progress', (payload) => {
        progress.push(payload);
        if (payload.status === 'done') resolve();
      });
    });
    await eventsOpen; // the run's events are pushed from now on
    const run = await client.call('runs.start', {
      collectionId: collection.id,
      classSetId: classSet.id,
      modelId: model.id,
      method: 'zeroshot',
      scope: { kind: 'images', imageIds: [imageIds[0], imageIds[2]] },
    });
    await done;
    expect(progress.at(-1)).toMatchObject({ runId: run.id, status: 'done', total: 2, done: 2, failed: 0 });
    expect(progress.every((p) => p.runId === run.id)).toBe(true);
  });
});
