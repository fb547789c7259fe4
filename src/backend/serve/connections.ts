// Keeps idle connections from starving the server. Each open socket costs a file descriptor, and a
// process has only so many (often 1,024): a client that opens connections and sends nothing used to
// exhaust them, after which no request was answered until the sockets timed out. The guard counts
// the server's plain HTTP connections and, past a limit, closes idle ones (no request in progress):
// first those that never sent a request, oldest first, then kept-alive ones, longest idle first. A new
// connection that then sends its request is answered, because the ones it displaces are older, and a
// client's kept-alive connection outlives a flood of silent ones. Upgraded (WebSocket) connections
// are authenticated and left alone.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionGuardOptions {
  /** Plain HTTP connections kept open at most; past it the longest-idle ones are closed. */
  maxConnections: number;
}

export interface ConnectionGuard {
  /** Open plain HTTP connections, for tests and diagnostics. */
  readonly size: number;
  /** Idle connections closed so far to make room. */
  readonly evicted: number;
}

/**
 * Watches `server`'s connections. Sockets are kept in a Map in the order they last became idle, so
 * the first idle entry of each kind is the one idle the longest.
 */
export function guardConnections(server: Server, options: ConnectionGuardOptions): ConnectionGuard {
  const sockets = new Map<Socket, { busy: number; used: boolean }>();
  let evicted = 0;

  const touch = (socket: Socket, state: { busy: number; used: boolean }) => {
    sockets.delete(socket);
    sockets.set(socket, state);
  };

  function makeRoom(): void {
    for (const evictUsed of [false, true]) {
      for (const [socket, state] of sockets) {
        if (sockets.size <= options.maxConnections) return;
        if (state.busy > 0 || state.used !== evictUsed) continue;
        sockets.delete(socket);
        evicted += 1;
        socket.destroy();
      }
    }
  }

  server.on('connection', (socket: Socket) => {
    const state = { busy: 0, used: false };
    sockets.set(socket, state);
    socket.once('close', () => sockets.delete(socket));
    makeRoom();
  });

  server.on('request', (request, response) => {
    const socket = request.socket as Socket;
    const state = sockets.get(socket);
    if (!state) return;
    state.busy += 1;
    state.used = true;
    response.once('close', () => {
      state.busy -= 1;
      if (sockets.has(socket)) touch(socket, state);
    });
  });

  server.on('upgrade', (request) => sockets.delete(request.socket as Socket));

  return {
    get size() {
      return sockets.size;
    },
    get evicted() {
      return evicted;
    },
  };
}
