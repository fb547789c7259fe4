// `metatpt serve`: the workbench in a browser. Serves the renderer's browser build, the API and its
// events on one port, guarded by a token printed with the URL; runs until Ctrl-C or SIGTERM, then
// pauses what is running (it resumes at the next start) and exits. SIGHUP replaces the token.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { databasePath } from '../../backend/paths.js';
import { checkRedisUrl, DEFAULT_QUEUE } from '../../shared/domain/scale-out.js';
import { makeToken } from '../../backend/serve/auth.js';
import { keptTokenPath, loadKeptToken, saveKeptToken } from '../../backend/serve/kept-token.js';
import { startServer } from '../../backend/serve/server.js';
import { parseDevice, parseNumber } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { openCliBackend, RENDERER_BUILD_DIR } from '../backend.js';
import type { CommandIo } from '../format.js';

interface ServeOptions {
  db?: string;
  host: string;
  port?: string;
  keepToken?: boolean;
  newToken?: boolean;
  allowHost: string[];
  device: string;
  json?: boolean;
  redis?: string;
  queue: string;
  workerDownloads?: string;
}

/**
 * --worker-downloads: the base URL workers download from (no trailing slash), its port, and the host
 * name workers send in their Host header (without an IPv6 address's brackets).
 */
function downloadUrl(value: string): { baseUrl: string; port: number | undefined; hostName: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--worker-downloads must be a URL such as http://10.0.0.5:8417, not "${value}"`);
  }
  if (url.protocol !== 'http:' || url.pathname !== '/' || url.search || url.username) {
    throw new UsageError(`--worker-downloads must be http://HOST:PORT of this server, not "${value}"`);
  }
  return {
    baseUrl: url.origin,
    port: url.port === '' ? undefined : Number(url.port),
    hostName: url.hostname.replace(/^\[(.*)\]$/, '$1'),
  };
}

function parsePort(value: string | undefined): number | undefined {
  const port = parseNumber(value, 'port');
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, not "${value}"`);
  }
  return port;
}

async function serve(values: ServeOptions, _args: string[], io: CommandIo): Promise<number> {
  const provider = parseDevice(values.device);
  if (values.redis !== undefined) {
    try {
      checkRedisUrl(values.redis);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const downloads = values.workerDownloads === undefined ? null : downloadUrl(values.workerDownloads);
  if (downloads && values.redis === undefined) throw new UsageError('--worker-downloads needs --redis');
  // Workers download with a credential of their own, which opens image and model files only.
  const workerToken = downloads ? makeToken() : null;
  const database = databasePath(values.db);
  const keepToken = values.keepToken || values.newToken;
  const keptFile = keptTokenPath(database);
  const kept = values.keepToken && !values.newToken ? await loadKeptToken(keptFile) : null;
  const port = parsePort(values.port) ?? downloads?.port ?? kept?.port;
  const backend = await openCliBackend(database, {
    provider,
    scaleOut:
      values.redis === undefined
        ? null
        : {
            redisUrl: values.redis,
            queue: values.queue,
            download: downloads && { baseUrl: downloads.baseUrl, token: workerToken! },
          },
  });
  try {
    if (!existsSync(join(RENDERER_BUILD_DIR, 'index.html'))) {
      io.stderr(
        `metatpt: no browser build in ${RENDERER_BUILD_DIR} (run npm run build); serving the API only\n`,
      );
    }
    const server = await startServer({
      backend,
      host: values.host,
      port,
      token: kept?.token,
      allowedHosts: downloads ? [...values.allowHost, downloads.hostName] : values.allowHost,
      rendererDir: RENDERER_BUILD_DIR,
      workerToken,
    });
    const announce = async () => {
      const { url, host, token } = server;
      if (keepToken) await saveKeptToken(keptFile, { token, port: server.port });
      io.stdout(values.json ? `${JSON.stringify({ url, host, port: server.port, token })}\n` : `${url}\n`);
    };
    await announce();
    const rotate = () => {
      server.rotateToken();
      announce().catch((error: unknown) => io.stderr(`metatpt: keeping the new token: ${String(error)}\n`));
    };
    process.on('SIGHUP', rotate);
    if (values.host !== '127.0.0.1' && values.host !== 'localhost' && values.host !== '::1') {
      io.stderr(`metatpt: listening on ${values.host}: other machines can connect (with the token)\n`);
    }
    await new Promise<void>((resolve) => {
      io.interrupt?.addEventListener('abort', () => resolve(), { once: true });
      process.once('SIGTERM', () => resolve());
    });
    process.off('SIGHUP', rotate);
    io.stderr('metatpt: stopping\n');
    await server.close();
    return 0;
  } finally {
    await backend.close();
  }
}

export const serveCommand = defineCommand<ServeOptions>({
  name: 'serve',
  summary: 'serve the workbench to a browser (localhost, token-protected)',
  define: (command) =>
    command
      .description(
        'Prints one line, http://HOST:PORT/?token=TOKEN: open it in a browser. Every request needs the token; ' +
          'SIGHUP (kill -HUP PID) replaces it and prints the new URL.',
      )
      .option(
        '--db <file>',
        "the workbench database (default: the desktop app's); thumbnails and installed models live in its folder",
      )
      .option('--host <h>', 'the address to listen on (127.0.0.1: this machine only)', '127.0.0.1')
      .option('--port <n>', 'the port (default: a free one, or the kept one with --keep-token)')
      .option(
        '--keep-token',
        'keep the token and port in DB-serve.json (owner-only), so the URL survives restarts',
      )
      .option('--new-token', 'like --keep-token, but start with a new token (the old URL stops working)')
      .option(
        '--allow-host <name>',
        'also answer to this host name (names the server does not know are refused: no DNS rebinding); ' +
          'loopback names always work',
        (name: string, names: string[]) => [...names, name],
        [] as string[],
      )
      .option('--device <d>', 'auto | cpu | cuda | dml | coreml', 'auto')
      .option('--json', 'print {"url","host","port","token"} instead of the URL')
      .option(
        '--redis <url>',
        "scale out: runs' images go to `metatpt worker` processes through this Redis " +
          '(redis://[:password@]host:port[/db], or rediss:// for TLS)',
      )
      .option('--queue <name>', 'the queue on that Redis (workers name the same one)', DEFAULT_QUEUE)
      .option(
        '--worker-downloads <url>',
        'workers without the shared files download images and models from this server at this URL ' +
          '(http://HOST:PORT that workers can reach; its port is the default --port)',
      ),
  run: serve,
});
