// Messages between a WorkerPool and its worker threads, and the worker-side loop that answers them.
import { parentPort } from 'node:worker_threads';

export type ToWorker<TInit, TInput> =
  | { type: 'init'; data: TInit }
  | { type: 'process'; id: number; data: TInput }
  | { type: 'cancel'; id: number };

export type FromWorker<TOutput> =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; data: TOutput }
  /** A long job's intermediate report (learning a prompt: one per epoch). */
  | { type: 'progress'; id: number; data: unknown }
  | { type: 'error'; id: number; message: string; cancelled: boolean };

export interface WorkerHandlers<TInit, TInput, TOutput> {
  /** Runs once per worker before any job (load the model here). */
  init(data: TInit): Promise<void> | void;
  /** One job; should reject soon after signal aborts. `progress` reports along the way. */
  process(input: TInput, signal: AbortSignal, progress: (data: unknown) => void): Promise<TOutput>;
  /** Objects inside the output to move rather than copy (e.g. large typed-array buffers). */
  transferList?(output: TOutput): ArrayBuffer[];
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Call from a worker script: serves init and process requests until the thread is ended. */
export function serveWorker<TInit, TInput, TOutput>(handlers: WorkerHandlers<TInit, TInput, TOutput>): void {
  const port = parentPort;
  if (!port) throw new Error('serveWorker must run in a worker thread');
  const running = new Map<number, AbortController>();
  const send = (message: FromWorker<TOutput>, transfer: ArrayBuffer[] = []) =>
    port.postMessage(message, transfer);

  port.on('message', (message: ToWorker<TInit, TInput>) => {
    if (message.type === 'init') {
      Promise.resolve()
        .then(() => handlers.init(message.data))
        .then(
          () => send({ type: 'ready' }),
          (error: unknown) => send({ type: 'init-error', message: messageOf(error) }),
        );
    } else if (message.type === 'process') {
      const controller = new AbortController();
      running.set(message.id, controller);
      handlers
        .process(message.data, controller.signal, (data) => send({ type: 'progress', id: message.id, data }))
        .then(
          (output) => send({ type: 'result', id: message.id, data: output }, handlers.transferList?.(output)),
          (error: unknown) =>
            send({
              type: 'error',
              id: message.id,
              message: messageOf(error),
              cancelled: controller.signal.aborted,
            }),
        )
        .finally(() => running.delete(message.id));
    } else {
      running.get(message.id)?.abort(new Error('cancelled'));
    }
  });
}
