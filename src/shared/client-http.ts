// The workbench API over serve mode's HTTP + WebSocket: what the renderer uses when it runs in a
// browser (no preload). Calls are `POST /api/<method>` with the token as a Bearer header; events
// arrive on one WebSocket at `/events` that presents the token as a subprotocol, reconnected after a
// drop. Image URLs carry no credential: the page's asset cookie (set when the page was opened with
// the token) loads them, and it opens nothing else (src/backend/serve/auth.ts).
import { ApiError, type ApiResponse } from './api-error.js';
import type { ApiEventName, ApiEvents, ApiInput, ApiMethod, ApiOutput, WorkbenchApi } from './api.js';

/** One message on the events socket. */
export interface EventMessage {
  event: ApiEventName;
  payload: unknown;
}

/** The subprotocol the server answers with on the events socket. */
export const EVENTS_PROTOCOL = 'metatpt.events';
/** The prefix of the subprotocol that carries the token: `metatpt.bearer.<token>`. */
export const BEARER_PROTOCOL_PREFIX = 'metatpt.bearer.';

/** The part of a WebSocket the client uses (the browser's, or `ws` in Node). */
export interface EventSocket {
  addEventListener(type: 'message', listener: (message: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: () => void): void;
  close(): void;
}

export interface HttpClientOptions {
  /** Origin of the serve-mode server, e.g. `http://127.0.0.1:5173`. */
  baseUrl: string;
  token: string;
  fetch?: typeof fetch;
  /** Opens the events socket offering `protocols` (default: the global WebSocket). */
  openSocket?: (url: string, protocols: string[]) => EventSocket;
  /** Delay before reopening a dropped events socket. */
  reconnectMs?: number;
}

export interface HttpClient extends WorkbenchApi {
  /** Closes the events socket and stops reconnecting. */
  close(): void;
}

/** The browser's own WebSocket, typed structurally so this module compiles without the DOM library. */
function browserSocket(url: string, protocols: string[]): EventSocket {
  const Socket = (globalThis as { WebSocket?: new (url: string, protocols: string[]) => EventSocket })
    .WebSocket;
  if (!Socket) throw new Error('this environment has no WebSocket; pass openSocket');
  return new Socket(url, protocols);
}

/**
 * The subprotocols the events socket offers: the one the server answers with, and the token (a
 * browser cannot set headers on a WebSocket; a subprotocol is sent only to the server addressed).
 */
export function eventSocketProtocols(token: string): string[] {
  return [EVENTS_PROTOCOL, `${BEARER_PROTOCOL_PREFIX}${token}`];
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const openSocket = options.openSocket ?? browserSocket;
  const reconnectMs = options.reconnectMs ?? 1000;
  const listeners = new Map<ApiEventName, Set<(payload: unknown) => void>>();
  let socket: EventSocket | null = null;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;

  function connectEvents(): void {
    if (socket || closed) return;
    const current = openSocket(`${base.replace(/^http/, 'ws')}/events`, eventSocketProtocols(options.token));
    socket = current;
    current.addEventListener('message', (message) => {
      if (typeof message.data !== 'string') return;
      const { event, payload } = JSON.parse(message.data) as EventMessage;
      for (const listener of listeners.get(event) ?? []) listener(payload);
    });
    current.addEventListener('close', () => {
      if (socket === current) socket = null;
      if (!closed && listeners.size > 0) reconnectTimer = setTimeout(connectEvents, reconnectMs);
    });
  }

  return {
    async call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
      let response: Response;
      try {
        response = await doFetch(`${base}/api/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
          body: JSON.stringify(input ?? {}),
        });
      } catch (error) {
        throw new ApiError(`${method}: the workbench server cannot be reached (${String(error)})`);
      }
      let body: ApiResponse;
      try {
        body = (await response.json()) as ApiResponse;
      } catch {
        throw new ApiError(`${method}: the server answered ${response.status} without a JSON body`);
      }
      if (!body.ok) throw new ApiError(body.error.message, body.error.code);
      return body.result as ApiOutput<M>;
    },

    on<E extends ApiEventName>(event: E, listener: (payload: ApiEvents[E]) => void): () => void {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const untyped = listener as (payload: unknown) => void;
      set.add(untyped);
      connectEvents();
      return () => {
        set.delete(untyped);
        if (set.size === 0) listeners.delete(event);
      };
    },

    imageUrl(imageId: number, kind: 'full' | 'thumb'): string {
      return `${base}/files/${kind}/${imageId}`;
    },

    close(): void {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      socket?.close();
      socket = null;
    },
  };
}

/**
 * The client for the page serve mode served: its own origin, and the token from its URL
 * (`/?token=…`, as printed by `serve`). Null when the page URL carries no token.
 */
export function createHttpClientForPage(location: { origin: string; search: string }): HttpClient | null {
  const token = new URLSearchParams(location.search).get('token');
  return token ? createHttpClient({ baseUrl: location.origin, token }) : null;
}
