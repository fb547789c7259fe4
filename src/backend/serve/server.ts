// Serve mode: the backend's API over HTTP and its events over a WebSocket, the collection images, and
// the browser build of the renderer, for a browser on this machine (or, with --host, elsewhere).
//   POST /api/<method>          JSON input → {ok: true, result} | {ok: false, error}; API token as
//                               `Authorization: Bearer TOKEN`
//   GET  /events                WebSocket of {event, payload}; API token as the subprotocol
//                               `metatpt.bearer.TOKEN` (or the Authorization header)
//   GET  /files/full/<imageId>  an image file; /files/thumb/<imageId> its thumbnail; asset cookie
//   GET  /?token=TOKEN          the renderer's page; sets the asset cookie for what the page loads
//   GET  /assets/...            the renderer's files (out/renderer); asset cookie
// Every request must be addressed to this server by a name it answers to (Host), and a browser's
// requests must come from its own pages (Origin, Sec-Fetch-Site). See auth.ts for the credentials.
// HTTP is Fastify (body limit, content types, timeouts); the socket is `ws` on the same port.
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, type ApiErrorPayload, type ApiResponse } from '../../shared/api.js';
import { EVENTS_PROTOCOL, type EventMessage } from '../../shared/client-http.js';
import { errorPayload } from '../api/dispatch.js';
import type { Backend } from '../app.js';
import {
  allowedHostNames,
  assetCookie,
  bearerOf,
  fromOwnOrigin,
  hasApiToken,
  hasAssetKey,
  hasSocketToken,
  hostOrOriginProblem,
  makeToken,
  same,
} from './auth.js';
import { guardConnections } from './connections.js';
import { resolveStaticFile } from './static-files.js';

export interface ServeOptions {
  backend: Pick<Backend, 'dispatch' | 'events' | 'imageFile' | 'modelFile'>;
  /** Default 127.0.0.1: only this machine can connect. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: a new random token. */
  token?: string;
  /** Host names the server answers to besides loopback and the bound address (e.g. a machine name). */
  allowedHosts?: string[];
  /** The browser build (out/renderer); null serves the API only. */
  rendererDir: string | null;
  /** Largest accepted API request body, in bytes (default 16 MiB). */
  maxBodyBytes?: number;
  /** Plain HTTP connections kept open at most; the longest-idle are closed past it (default 256). */
  maxConnections?: number;
  /**
   * Scale-out workers' credential: with it, GET /scale-out/images/<id> and
   * /scale-out/models/<id>/<file> serve image and model files to `Authorization: Bearer WORKER_TOKEN`
   * (and to nothing else; the API token does not open them). Without it those routes do not exist.
   */
  workerToken?: string | null;
}

export interface ServeHandle {
  host: string;
  port: number;
  /** The current API token. */
  readonly token: string;
  /** The address to open: `http://HOST:PORT/?token=TOKEN`. */
  readonly url: string;
  /**
   * Replaces the token (a new random one unless given): the old token, the asset cookies made from
   * it and the event sockets opened with it stop working at once.
   */
  rotateToken(token?: string): void;
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
  // Pages of other origins (another port on this host included) may not embed what is served here.
  'cross-origin-resource-policy': 'same-origin',
};

const STATUS_OF_ERROR: Record<ApiErrorPayload['code'], number> = {
  'invalid-input': 400,
  'not-found': 404,
  conflict: 409,
  failed: 500,
};

/** Seconds a client has to send a request's headers, and its whole body (then 408). */
const HEADERS_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 60_000;
/** Seconds an idle keep-alive connection stays open. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

const FILE_ROUTE = /^\/files\/(full|thumb)\/([1-9]\d{0,15})$/;

function failure(message: string, code: ApiErrorPayload['code'] = 'invalid-input'): ApiResponse {
  return { ok: false, error: { message, code } };
}

const isApi = (url: string) => url.startsWith('/api/');

export async function startServer(options: ServeOptions): Promise<ServeHandle> {
  const { backend, host = '127.0.0.1', rendererDir, maxBodyBytes = 16 * 1024 * 1024 } = options;
  let token = options.token ?? makeToken();
  const allowedHosts = allowedHostNames(host, options.allowedHosts);
  const sockets = new WebSocketServer({
    noServer: true,
    handleProtocols: () => EVENTS_PROTOCOL,
  });
  let port = 0;

  const app = Fastify({
    bodyLimit: maxBodyBytes,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  guardConnections(app.server, { maxConnections: options.maxConnections ?? 256 });

  /** Text for people, JSON for the API, with the common headers. */
  function refuse(request: FastifyRequest, reply: FastifyReply, status: number, message: string) {
    reply.code(status).headers(COMMON_HEADERS);
    return isApi(request.url)
      ? reply
          .type('application/json; charset=utf-8')
          .send(failure(message, status >= 500 ? 'failed' : 'invalid-input'))
      : reply.type('text/plain; charset=utf-8').send(`${message}\n`);
  }

  // JSON only: other sites' plain form posts cannot set this type, and an empty body means {}.
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') return done(null, {});
    parseJson(request, body as string, (error, value) =>
      done(error ? new ApiError('the request body is not valid JSON', 'invalid-input') : null, value),
    );
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.headers(COMMON_HEADERS);
    const problem = hostOrOriginProblem(request.headers, allowedHosts);
    if (problem) return refuse(request, reply, problem.status, problem.message);
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(STATUS_OF_ERROR[error.code]).send(failure(error.message, error.code));
    }
    const { statusCode: status = 500, message } = error as { statusCode?: number; message: string };
    const text =
      status === 415
        ? 'send the input as application/json'
        : status >= 500
          ? `internal error: ${message}`
          : message;
    return refuse(request, reply, status, text);
  });

  app.setNotFoundHandler((request, reply) => refuse(request, reply, 404, 'not found'));

  app.post<{ Params: { method: string } }>('/api/:method', async (request, reply) => {
    if (!hasApiToken(request.headers, token)) {
      return refuse(request, reply, 401, 'this server needs its access token (see the URL it printed)');
    }
    try {
      const result = await backend.dispatch(request.params.method, request.body);
      return reply.send({ ok: true, result: result ?? null } satisfies ApiResponse);
    } catch (error) {
      const payload = errorPayload(error);
      return reply.code(STATUS_OF_ERROR[payload.code]).send(failure(payload.message, payload.code));
    }
  });
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/api/*',
    handler: (request, reply) =>
      refuse(request, reply.header('allow', 'POST'), 405, 'API calls are POST requests'),
  });

  /** Sends a regular file by an open handle, so what was checked is what is sent. */
  async function sendFile(
    reply: FastifyReply,
    path: string,
    contentType: string,
    headers: Record<string, string> = {},
  ) {
    const handle = await open(path, 'r');
    try {
      if (!(await handle.stat()).isFile()) throw new Error('not a regular file');
    } catch (error) {
      await handle.close();
      throw error;
    }
    return reply.type(contentType).headers(headers).send(handle.createReadStream());
  }

  /** What the page loads by itself: the asset cookie from its own origin (or the token as a header). */
  const mayLoadAssets = (request: FastifyRequest) =>
    hasAssetKey(request.headers, token, port) && fromOwnOrigin(request.headers);

  app.get('/events', (request, reply) => refuse(request, reply, 426, 'this is a WebSocket endpoint'));

  app.get('/files/*', async (request, reply) => {
    if (!mayLoadAssets(request)) return refuse(request, reply, 401, 'this page needs its access token');
    const match = FILE_ROUTE.exec(request.url.split('?')[0]);
    if (!match) return refuse(request, reply, 404, 'not found');
    let file;
    try {
      file = await backend.imageFile(Number(match[2]), match[1] as 'full' | 'thumb');
    } catch (error) {
      return refuse(request, reply, 404, errorPayload(error).message);
    }
    return sendFile(reply, file.path, file.contentType, { 'cache-control': 'private, max-age=300' });
  });

  if (options.workerToken) {
    const workerToken = options.workerToken;
    /** Scale-out downloads: a worker program, with the worker token as a header and nothing else. */
    const workerFile = async (
      request: FastifyRequest,
      reply: FastifyReply,
      find: () => Promise<{ path: string; contentType: string }>,
    ) => {
      const bearer = bearerOf(request.headers);
      if (!bearer || !same(bearer, workerToken))
        return refuse(request, reply, 401, 'this needs the worker token');
      let file;
      try {
        file = await find();
      } catch (error) {
        return refuse(request, reply, 404, errorPayload(error).message);
      }
      return sendFile(reply, file.path, file.contentType);
    };
    app.get<{ Params: { imageId: string } }>('/scale-out/images/:imageId', (request, reply) =>
      workerFile(request, reply, () => backend.imageFile(Number(request.params.imageId), 'full')),
    );
    app.get<{ Params: { modelId: string; file: string } }>(
      '/scale-out/models/:modelId/:file',
      (request, reply) =>
        workerFile(request, reply, () =>
          backend.modelFile(Number(request.params.modelId), request.params.file),
        ),
    );
  }

  app.get('/*', async (request, reply) => {
    if (!rendererDir) return refuse(request, reply, 404, 'this server has no user interface (API only)');
    const [pathname, search = ''] = request.url.split('?');
    const isPage = pathname === '/' || pathname === '/index.html';
    // The page itself opens with the token from the printed URL, and hands the asset cookie to its files.
    const pageToken = isPage ? new URLSearchParams(search).get('token') : null;
    const openedWithToken = pageToken !== null && same(pageToken, token);
    if (!openedWithToken && !mayLoadAssets(request)) {
      return refuse(request, reply, 401, 'this server needs its access token: open the URL it printed');
    }
    const file = await resolveStaticFile(rendererDir, pathname);
    if (!file) {
      const missingBuild = isPage && !(await resolveStaticFile(rendererDir, '/index.html'));
      return refuse(
        request,
        reply,
        404,
        missingBuild ? `no browser build in ${rendererDir}: run npm run build` : 'not found',
      );
    }
    return sendFile(reply, file.path, file.contentType, {
      ...(isPage && { 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-frame-options': 'DENY' }),
      ...(openedWithToken && { 'set-cookie': assetCookie(token, port) }),
    });
  });

  function refuseUpgrade(socket: Duplex, status: number, text: string): void {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  /** The open event sockets, by the token they were opened with (closed when it is rotated away). */
  const socketTokens = new Map<WebSocket, string>();

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const problem = hostOrOriginProblem(request.headers, allowedHosts);
    // A page of another site (or reached by DNS rebinding) cannot read the events even with the port.
    if (problem) return refuseUpgrade(socket, 403, 'Forbidden');
    if (!hasSocketToken(request.headers, token)) return refuseUpgrade(socket, 401, 'Unauthorized');
    if ((request.url ?? '').split('?')[0] !== '/events') return refuseUpgrade(socket, 404, 'Not Found');
    sockets.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      socketTokens.set(ws, token);
      const unsubscribe = backend.events.subscribe((event, payload) => {
        const message: EventMessage = { event, payload };
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
      });
      const forget = () => {
        unsubscribe();
        socketTokens.delete(ws);
      };
      ws.on('close', forget);
      ws.on('error', forget);
    });
  });

  await app.listen({ port: options.port ?? 0, host });
  const address = app.server.address() as AddressInfo;
  port = address.port;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    host: address.address,
    port,
    get token() {
      return token;
    },
    get url() {
      return `http://${urlHost}:${port}/?token=${token}`;
    },
    rotateToken(next = makeToken()) {
      token = next;
      for (const [ws, opened] of socketTokens) if (opened !== token) ws.terminate();
    },
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      await app.close();
    },
  };
}
