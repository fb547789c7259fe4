// The backend in a process of its own (Electron's utility process), reached over a message port. The
// desktop shell keeps windows, menu, dialogs and the image protocol; every API call, image lookup and
// event crosses this relay. Electron-free (the shell adapts its ports to RelayPort), so a test drives
// both ends over a worker_threads MessageChannel.
//
// Messages are requests (answered by a reply with the same id) and events (one way). The backend end
// serves 'start', 'call', 'image-file' and 'close'; the shell end serves 'pick-folder' (the backend asks
// for the shell's native folder dialog).
import { ApiError, type ApiErrorPayload, type ApiEventName, type ApiEvents } from '../shared/api.js';
import { errorPayload } from './api/dispatch.js';
import type { Backend, BackendOptions, ImageFile } from './app.js';

/** One end of a message channel, as Electron's and Node's ports both can be adapted to. */
export interface RelayPort {
  postMessage(message: RelayMessage): void;
  onMessage(listener: (message: RelayMessage) => void): void;
}

export type RelayMessage =
  | { kind: 'request'; id: number; what: string; payload: unknown }
  | { kind: 'reply'; id: number; ok: true; result: unknown }
  | { kind: 'reply'; id: number; ok: false; error: ApiErrorPayload }
  | { kind: 'event'; event: ApiEventName; payload: unknown };

/** What the shell sends to start the backend: createBackend's options that survive a message. */
export type RelayBackendOptions = Omit<BackendOptions, 'pickFolder' | 'log' | 'download'> & {
  /** Whether the shell offers a native folder dialog (answered over the relay). */
  pickFolder: boolean;
};

type Handler = (payload: never) => Promise<unknown>;

/** Requests in both directions over one port; the handlers answer the other end's requests. */
function relayEndpoint(port: RelayPort, handlers: Record<string, Handler>, onEvent?: EventListener) {
  const pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let stopped: Error | null = null;

  port.onMessage((message) => {
    if (message.kind === 'event') onEvent?.(message.event, message.payload as never);
    else if (message.kind === 'reply') {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) waiting?.resolve(message.result);
      else waiting?.reject(new ApiError(message.error.message, message.error.code));
    } else {
      const handler = Object.hasOwn(handlers, message.what) ? handlers[message.what] : undefined;
      const answer = handler
        ? Promise.resolve().then(() => handler(message.payload as never))
        : Promise.reject(new Error(`the relay has no "${message.what}"`));
      answer.then(
        (result) => port.postMessage({ kind: 'reply', id: message.id, ok: true, result: result ?? null }),
        (error: unknown) =>
          port.postMessage({ kind: 'reply', id: message.id, ok: false, error: errorPayload(error) }),
      );
    }
  });

  return {
    request(what: string, payload: unknown): Promise<unknown> {
      if (stopped) return Promise.reject(stopped);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        port.postMessage({ kind: 'request', id, what, payload });
      });
    },
    emit(event: ApiEventName, payload: unknown): void {
      port.postMessage({ kind: 'event', event, payload });
    },
    /** The other end is gone: pending and later requests fail with `error`. */
    stop(error: Error): void {
      stopped = error;
      for (const waiting of pending.values()) waiting.reject(error);
      pending.clear();
    },
  };
}

type EventListener = <E extends ApiEventName>(event: E, payload: ApiEvents[E]) => void;

/**
 * The backend end: on 'start', creates the backend with `create` (createBackend, or a test's) and
 * then serves calls, image lookups and close, and forwards every backend event. Runs in the utility
 * process; `create` receives the shell's options with pickFolder relayed to the shell's dialog.
 */
export function serveBackendRelay(
  port: RelayPort,
  create: (options: BackendOptions) => Promise<Backend>,
): void {
  let backend: Promise<Backend> | null = null;
  const started = () => {
    if (!backend) throw new ApiError('the backend has not been started', 'failed');
    return backend;
  };
  const relay = relayEndpoint(port, {
    start: async (options: RelayBackendOptions) => {
      if (backend) throw new ApiError('the backend is already started', 'conflict');
      const { pickFolder, ...rest } = options;
      backend = create({
        ...rest,
        pickFolder: pickFolder
          ? async (title) => (await relay.request('pick-folder', { title })) as string | null
          : undefined,
      });
      const ready = await backend;
      ready.events.subscribe((event, payload) => relay.emit(event, payload));
      return ready.info();
    },
    call: async ({ method, input }: { method: string; input: unknown }) =>
      (await started()).dispatch(method, input),
    'image-file': async ({ imageId, kind }: { imageId: number; kind: 'full' | 'thumb' }) =>
      (await started()).imageFile(imageId, kind),
    close: async () => (backend ? (await backend).close() : undefined),
  });
}

/** The shell's view of a backend in another process. Methods reject with ApiError as a local backend would throw. */
export interface RemoteBackend extends Pick<Backend, 'imageFile' | 'close'> {
  dispatch(method: string, input: unknown): Promise<unknown>;
  /** Every event the backend emits; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void;
  /** The backend's process ended: calls in flight and later fail with `error`. */
  disconnected(error: Error): void;
}

/**
 * The shell end: starts the backend on the other end of `port` with `options` and resolves once it
 * is ready (rejects with its start error). `pickFolder` answers the backend's folder-dialog requests.
 */
export async function connectBackendRelay(
  port: RelayPort,
  options: RelayBackendOptions,
  pickFolder: (title?: string) => Promise<string | null> = async () => null,
): Promise<RemoteBackend> {
  const listeners = new Set<EventListener>();
  const relay = relayEndpoint(
    port,
    { 'pick-folder': ({ title }: { title?: string }) => pickFolder(title) },
    (event, payload) => {
      for (const listener of listeners) listener(event, payload);
    },
  );
  await relay.request('start', options);
  return {
    dispatch: (method, input) => relay.request('call', { method, input }),
    imageFile: (imageId, kind) => relay.request('image-file', { imageId, kind }) as Promise<ImageFile>,
    close: async () => void (await relay.request('close', null)),
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    disconnected: (error) => relay.stop(error),
  };
}
