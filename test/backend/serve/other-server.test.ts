// The leak the cookie design had: cookies are not scoped by port, so whatever serve mode's page leaves
// in the browser is sent to every other server on 127.0.0.1 the user visits (a notebook, TensorBoard,
// a forwarded port). In real Chromium: open the served page (its images and assets load), then visit
// a second HTTP server on another 127.0.0.1 port. That server records everything the browser sends it,
// and its page tries to use serve mode from the side: an API call that would create a class set, one
// of serve mode's images, its events socket. Nothing it received may open the API or the socket, and
// nothing its page tried may work.
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Backend } from '../../../src/backend/app.js';
import { startServer, type ServeHandle } from '../../../src/backend/serve/server.js';
import { createHttpClient, eventSocketProtocols } from '../../../src/shared/client-http.js';
import { makeWorkspace, startBackend, type Workspace } from '../app-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const skipReason = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install chromium)`;

/** What the side page reports: how each attempt on serve mode ended. */
interface SideReport {
  api: string;
  image: string;
  socket: string;
}

describe.skipIf(skipReason !== null)(
  `a second server on 127.0.0.1 in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let workspace: Workspace;
    let backend: Backend;
    let serve: ServeHandle;
    let other: Server;
    let browser: Browser;
    const received: IncomingHttpHeaders[] = [];
    let report: Promise<SideReport>;

    beforeAll(async () => {
      workspace = await makeWorkspace(2);
      backend = await startBackend(workspace);
      const rendererDir = join(workspace.root, 'renderer');
      mkdirSync(join(rendererDir, 'assets'), { recursive: true });
      serve = await startServer({ backend, rendererDir });
      const client = createHttpClient({ baseUrl: `http://127.0.0.1:${serve.port}`, token: serve.token });
      const { collection } = await client.call('collections.add', { folder: workspace.photos });
      const [image] = (await client.call('browse.grid', { collectionId: collection.id })).items;
      const serveOrigin = `http://127.0.0.1:${serve.port}`;
      // The served page loads an image and a script by itself, so the browser holds the asset cookie.
      writeFileSync(
        join(rendererDir, 'index.html'),
        `<!doctype html><title>served</title><img id="image" src="/files/full/${image.imageId}">` +
          '<script src="/assets/app.js"></script>',
      );
      writeFileSync(join(rendererDir, 'assets', 'app.js'), 'document.title = "ready";');

      let deliver!: (value: SideReport) => void;
      report = new Promise((resolve) => (deliver = resolve));
      const sidePage = `<!doctype html><title>side</title><script>
        const settle = (promise) => promise.then((v) => String(v), (e) => 'error: ' + e);
        Promise.all([
          settle(fetch('${serveOrigin}/api/classSets.create', { method: 'POST', mode: 'no-cors',
            credentials: 'include', headers: { 'content-type': 'text/plain' },
            body: JSON.stringify({ name: 'planted', classes: [{ name: 'a' }, { name: 'b' }] }) })
            .then((r) => r.type)),
          settle(new Promise((resolve, reject) => { const img = new Image();
            img.onload = () => resolve('loaded'); img.onerror = () => reject('refused');
            img.src = '${serveOrigin}/files/full/${image.imageId}'; })),
          settle(new Promise((resolve, reject) => { const ws = new WebSocket('ws://127.0.0.1:${serve.port}/events');
            ws.onopen = () => resolve('open'); ws.onerror = () => reject('refused'); })),
        ]).then(([api, image, socket]) => fetch('/report', { method: 'POST',
          body: JSON.stringify({ api, image, socket }) }));
      </script>`;
      other = createServer((request, response) => {
        received.push(request.headers);
        if (request.url === '/report') {
          let body = '';
          request.on('data', (chunk: Buffer) => (body += chunk.toString()));
          request.on('end', () => deliver(JSON.parse(body) as SideReport));
          return response.end();
        }
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end(sidePage);
      });
      other.listen(0, '127.0.0.1');
      await once(other, 'listening');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
      });
    });

    afterAll(async () => {
      await browser?.close();
      other?.close();
      await serve?.close();
      await backend?.close();
      workspace?.remove();
    });

    it('receives nothing that opens the API, and its page can use nothing of serve mode', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(serve.url);
      await page.waitForFunction('document.title === "ready"');
      expect(await page.evaluate('document.getElementById("image").naturalWidth')).toBe(40);
      // The browser does hold a cookie for 127.0.0.1, so the other server is sent something.
      expect((await context.cookies()).length).toBeGreaterThan(0);

      await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
      const side = await report;
      expect(side.image).toBe('error: refused');
      expect(side.socket).toBe('error: refused');
      const classSets = await backend.dispatch('classSets.list', {});
      expect(classSets).toEqual([]);

      const sent = received.flatMap((headers) => Object.values(headers).flatMap((v) => v ?? []));
      const candidates = [
        ...new Set(
          sent.flatMap((value) => [value, ...value.split(/[;=,\s]+/)]).filter((v) => v.length >= 16),
        ),
      ];
      expect(candidates.length).toBeGreaterThan(0); // the asset cookie reached it, as cookies do
      for (const candidate of candidates) {
        const api = await fetch(`http://127.0.0.1:${serve.port}/api/app.info`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${candidate}`,
            cookie: candidate,
            'content-type': 'application/json',
          },
          body: '{}',
        });
        expect(api.status, candidate).toBe(401);
        // A subprotocol can hold only token characters; anything else goes in the header.
        const protocols = /^[\w.-]+$/.test(candidate) ? eventSocketProtocols(candidate) : [];
        const ws = new WebSocket(`ws://127.0.0.1:${serve.port}/events`, protocols, {
          headers: { authorization: `Bearer ${candidate}`, cookie: candidate },
        });
        const opened = await new Promise<boolean>((resolve) => {
          ws.on('open', () => resolve(true));
          ws.on('unexpected-response', () => resolve(false));
          ws.on('error', () => resolve(false));
        });
        ws.terminate();
        expect(opened, candidate).toBe(false);
      }
      await context.close();
    });
  },
);
