// `metatpt serve`: the workbench in a browser. Serves the renderer's browser build, the API and its
// events on one port, guarded by a token printed with the URL; runs until Ctrl-C or SIGTERM, then
// pauses what is running (it resumes at the next start) and exits.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../commands.js';
import { databasePath } from '../../backend/paths.js';
import { startServer } from '../../backend/serve/server.js';
import { parseDevice, parseNumber, runWithUsage, UsageError } from '../args.js';
import { openCliBackend, RENDERER_BUILD_DIR } from '../backend.js';
import { withProcessIo, type CommandIo } from '../format.js';

const USAGE = `usage: metatpt serve [--db FILE] [--host 127.0.0.1] [--port N] [--device D] [--json]

  Prints one line, http://HOST:PORT/?token=TOKEN: open it in a browser. Every request needs the token.
  --db FILE     the workbench database (default: the desktop app's); thumbnails and installed models
                live in its folder
  --host H      the address to listen on (default 127.0.0.1: this machine only)
  --port N      the port (default: a free one)
  --device D    auto | cpu | cuda | dml | coreml (default auto)
  --json        print {"url","host","port","token"} instead of the URL`;

function parsePort(value: string | undefined): number | undefined {
  const port = parseNumber(value, 'port');
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, not "${value}"`);
  }
  return port;
}

async function serve(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      db: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      device: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
    },
  });
  const port = parsePort(values.port);
  const provider = parseDevice(values.device);
  const backend = await openCliBackend(databasePath(values.db), { provider });
  try {
    if (!existsSync(join(RENDERER_BUILD_DIR, 'index.html'))) {
      io.stderr(
        `metatpt: no browser build in ${RENDERER_BUILD_DIR} (run npm run build); serving the API only\n`,
      );
    }
    const server = await startServer({ backend, host: values.host, port, rendererDir: RENDERER_BUILD_DIR });
    const { url, host, token } = server;
    io.stdout(values.json ? `${JSON.stringify({ url, host, port: server.port, token })}\n` : `${url}\n`);
    if (values.host !== '127.0.0.1' && values.host !== 'localhost' && values.host !== '::1') {
      io.stderr(`metatpt: listening on ${values.host}: other machines can connect (with the token)\n`);
    }
    await new Promise<void>((resolve) => {
      io.interrupt?.addEventListener('abort', () => resolve(), { once: true });
      process.once('SIGTERM', () => resolve());
    });
    io.stderr('metatpt: stopping\n');
    await server.close();
    return 0;
  } finally {
    await backend.close();
  }
}

export function runServe(args: string[], io: CommandIo): Promise<number> {
  return runWithUsage(io.stderr, USAGE, () => serve(args, io));
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve the workbench to a browser (localhost, token-protected)',
  run: (args) => withProcessIo((io) => runServe(args, io)),
};
