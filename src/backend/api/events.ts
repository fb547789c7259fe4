// The backend's outgoing events (ApiEvents): services emit them here, each transport forwards all of
// them to its renderers.
import type { ApiEventName, ApiEvents } from '../../shared/api.js';

export type AnyEventListener = (event: ApiEventName, payload: ApiEvents[ApiEventName]) => void;

export interface EventHub {
  emit<E extends ApiEventName>(event: E, payload: ApiEvents[E]): void;
  /** Every event, for a transport; returns the unsubscribe function. */
  subscribe(listener: AnyEventListener): () => void;
  /** One event, typed; returns the unsubscribe function. */
  on<E extends ApiEventName>(event: E, listener: (payload: ApiEvents[E]) => void): () => void;
}

export function createEventHub(): EventHub {
  const listeners = new Set<AnyEventListener>();
  const subscribe = (listener: AnyEventListener) => {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  };
  return {
    emit(event, payload) {
      for (const listener of listeners) {
        // A failing transport must not stop the others or the run that emitted the event.
        try {
          listener(event, payload);
        } catch (error) {
          process.stderr.write(`event listener failed on ${event}: ${String(error)}\n`);
        }
      }
    },
    subscribe,
    on(event, listener) {
      return subscribe((name, payload) => {
        if (name === event) listener(payload as Parameters<typeof listener>[0]);
      });
    },
  };
}
