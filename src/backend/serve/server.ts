// Serve mode: the backend's API over HTTP and its events over a WebSocket, the collection images, and
// the browser build of the renderer, for a browser on this machine (or, with --host, elsewhere).
//   POST /api/<method>          JSON input → {ok: true, result} | {ok: false, error} (400/404/500)
//   GET  /events                WebSocket of {event, payload}
//   GET  /files/full/<imageId>  an image file; /files/thumb/<imageId> its thumbnail
//   GET  /, /assets/...         the renderer (out/renderer)
// Every request needs the token (see auth.ts).
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, type ApiErrorPayload, type ApiResponse } from '../../shared/api.js';
import type { EventMessage } from '../../shared/client-http.js';
import { errorPayload } from '../api/dispatch.js';
import type { Backend } from '../app.js';
import { isAuthorized, makeToken, tokenCookie } from './auth.js';
import { resolveStaticFile } from './static-files.js';

export interface ServeOptions {
  backend: Pick<Backend, 'dispatch' | 'events' | 'imageFile'>;
  /** Default 127.0.0.1: only this machine can connect. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: a new random token. */
  token?: string;
  /** The browser build (out/renderer); null serves the API only. */
  rendererDir: string | null;
  /** Largest accepted API request body. */
  maxBodyBytes?: number;
}

export interface ServeHandle {
  host: string;
  port: number;
  token: string;
  /** The address to open: `http://HOST:PORT/?token=TOKEN`. */
  url: string;
  close(): Promise<void>;
}

/** The renderer may load its own scripts, styles, images and socket, and nothing from elsewhere. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  // The page URL holds the token: it must not leak to other sites as a referrer.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const STATUS_OF_ERROR: Record<ApiErrorPayload['code'], number> = {
  'invalid-input': 400,
  'not-found': 404,
  failed: 500,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(response: ServerResponse, status: number, body: ApiResponse): void {
  response.writeHead(status, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { ...COMMON_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
  response.end(`${text}\n`);
}

function sendFile(
  response: ServerResponse,
  file: { path: string; contentType: string },
  extraHeaders: Record<string, string> = {},
): void {
  const stream = createReadStream(file.path);
  stream.once('open', () => {
    response.writeHead(200, { ...COMMON_HEADERS, 'content-type': file.contentType, ...extraHeaders });
    stream.pipe(response);
  });
  stream.once('error', () => {
    if (!response.headersSent) sendText(response, 404, 'not found');
    else response.destroy();
  });
}

async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = request.headers['content-type'] ?? '';
  // Requiring JSON also keeps other sites' plain form posts out: they cannot set this type.
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'send the input as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `the request is larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('the request body is not valid JSON', 'invalid-input');
  }
}

/** A browser says which page opened a socket; other programs send no Origin. */
function fromOwnPage(request: IncomingMessage): boolean {
  const { origin, host } = request.headers;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false; // 'null' (a sandboxed or file: page)
  }
}

const FILE_ROUTE = /^\/files\/(full|thumb)\/([1-9]\d{0,15})$/;

export async function startServer(options: ServeOptions): Promise<ServeHandle> {
  const { backend, host = '127.0.0.1', rendererDir, maxBodyBytes = 16 * 1024 * 1024 } = options;
  const token = options.token ?? makeToken();
  const sockets = new WebSocketServer({ noServer: true });
  let port = 0;

  async function handleApi(request: IncomingMessage, response: ServerResponse, method: string) {
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      return sendText(response, 405, 'API calls are POST requests');
    }
    try {
      const result = await backend.dispatch(method, await readJsonBody(request, maxBodyBytes));
      sendJson(response, 200, { ok: true, result: result ?? null });
    } catch (error) {
      if (error instanceof HttpError) {
        return sendJson(response, error.status, {
          ok: false,
          error: { message: error.message, code: 'invalid-input' },
        });
      }
      const payload = errorPayload(error);
      sendJson(response, STATUS_OF_ERROR[payload.code], { ok: false, error: payload });
    }
  }

  async function handleFile(response: ServerResponse, kind: 'full' | 'thumb', imageId: number) {
    try {
      sendFile(response, await backend.imageFile(imageId, kind), { 'cache-control': 'private, max-age=300' });
    } catch (error) {
      sendText(response, 404, errorPayload(error).message);
    }
  }

  async function handleStatic(request: IncomingMessage, response: ServerResponse, url: URL) {
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendText(response, 405, 'not allowed');
    if (!rendererDir) return sendText(response, 404, 'this server has no user interface (API only)');
    const file = await resolveStaticFile(rendererDir, url.pathname);
    if (!file) {
      const missingBuild = url.pathname === '/' && !(await resolveStaticFile(rendererDir, '/index.html'));
      return sendText(
        response,
        404,
        missingBuild ? `no browser build in ${rendererDir}: run npm run build` : 'not found',
      );
    }
    const isPage = file.contentType.startsWith('text/html');
    sendFile(response, file, {
      ...(isPage && { 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-frame-options': 'DENY' }),
      // Once the page is in, its assets and images load with the cookie instead of the token.
      ...(isPage && { 'set-cookie': tokenCookie(token, port) }),
    });
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (!isAuthorized(request, url, token, port)) {
      return url.pathname.startsWith('/api/')
        ? sendJson(response, 401, {
            ok: false,
            error: { message: 'this server needs its access token (see the URL it printed)', code: 'failed' },
          })
        : sendText(response, 401, 'this server needs its access token: open the URL it printed');
    }
    if (url.pathname.startsWith('/api/')) return handleApi(request, response, url.pathname.slice(5));
    if (url.pathname.startsWith('/files/')) {
      const match = FILE_ROUTE.exec(url.pathname);
      if (!match || request.method !== 'GET') return sendText(response, 404, 'not found');
      return handleFile(response, match[1] as 'full' | 'thumb', Number(match[2]));
    }
    if (url.pathname === '/events') return sendText(response, 426, 'this is a WebSocket endpoint');
    return handleStatic(request, response, url);
  }

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendText(response, 500, `internal error: ${String(error)}`);
      else response.destroy();
    });
  });

  function refuseUpgrade(socket: Duplex, status: number, text: string): void {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (!isAuthorized(request, url, token, port)) return refuseUpgrade(socket, 401, 'Unauthorized');
    if (url.pathname !== '/events') return refuseUpgrade(socket, 404, 'Not Found');
    // A page of another site cannot read the events even if it guessed the port.
    if (!fromOwnPage(request)) return refuseUpgrade(socket, 403, 'Forbidden');
    sockets.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      const unsubscribe = backend.events.subscribe((event, payload) => {
        const message: EventMessage = { event, payload };
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
      });
      ws.on('close', unsubscribe);
      ws.on('error', unsubscribe);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  port = address.port;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    host: address.address,
    port,
    token,
    url: `http://${urlHost}:${port}/?token=${token}`,
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
