// Idle connections must not starve serve mode. Each open socket costs the server a file descriptor;
// with the common limit of 1,024 a client that opened connections and sent nothing used to stop
// every request for over a minute. The server runs in a child process under that limit; the test
// holds 2,000 connections open in batches (loopback only) and, after each batch, makes an API call
// on a new connection, as a new client would: every call must be answered.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const childScript = fileURLToPath(new URL('./workers/serve-child.ts', import.meta.url));
const IDLE_CONNECTIONS = 2000;
const BATCH = 200;

let child: ChildProcess;
let dataDir: string;
let server: { port: number; token: string };

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'metatpt-idle-'));
  child = spawn(
    'bash',
    ['-c', 'ulimit -n 1024 && exec "$0" --import tsx "$1" "$2"', process.execPath, childScript, dataDir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  server = JSON.parse(line) as { port: number; token: string };
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** Opens a connection that sends nothing; resolves once it is connected (or refused). */
function idleConnection(): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => {}); // the server may close it to make room
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

/** app.info on a connection of its own (as a new client makes it); the status, or the error code. */
function apiCallOnNewConnection(): Promise<number | string> {
  return new Promise((resolve) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port: server.port,
        path: '/api/app.info',
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode!));
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    request.end('{}');
  });
}

describe('serve mode under idle connections', () => {
  it('answers API calls while 2,000 idle connections are held open under a 1,024-descriptor limit', async () => {
    const held: Socket[] = [];
    const statuses: (number | string)[] = [];
    try {
      while (held.length < IDLE_CONNECTIONS) {
        held.push(...(await Promise.all(Array.from({ length: BATCH }, idleConnection))));
        statuses.push(await apiCallOnNewConnection());
      }
    } finally {
      for (const socket of held) socket.destroy();
    }
    expect(held).toHaveLength(IDLE_CONNECTIONS);
    expect(statuses).toEqual(Array(IDLE_CONNECTIONS / BATCH).fill(200));
  });
});
