// Messages between a WorkerPool and its worker processes, and the worker-side loop that answers them.

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
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Call from a worker script (started by WorkerPool with an IPC channel): serves init and process
 * requests until the process is ended. The worker ends itself when its parent goes away.
 * @throws Error when the script was not started with an IPC channel.
 */
export function serveWorker<TInit, TInput, TOutput>(handlers: WorkerHandlers<TInit, TInput, TOutput>): void {
  if (!process.send) throw new Error('serveWorker must run in a process started by WorkerPool');
  const running = new Map<number, AbortController>();
  const send = (message: FromWorker<TOutput>) => {
    if (process.connected) process.send!(message);
  };
  process.on('disconnect', () => process.exit(0));

  process.on('message', (message: ToWorker<TInit, TInput>) => {
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
          (output) => send({ type: 'result', id: message.id, data: output }),
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
