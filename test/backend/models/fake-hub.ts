// A local stand-in for the Hugging Face hub's file endpoints, on 127.0.0.1: JSON files are served
// directly, model.safetensors the way LFS files are (a 302 carrying X-Linked-Etag = sha256 and
// X-Linked-Size, then the bytes with HTTP Range support). Its behaviour can be changed per test.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRequest {
  method: string;
  path: string;
  range?: string;
}

export interface HubBehaviour {
  /** The next this many LFS transfers send only `cutAfterBytes` bytes, then drop the connection. */
  cutTransfers: number;
  cutAfterBytes: number;
  /** Advertise a wrong sha256 for LFS files. */
  wrongSha256: boolean;
  /** Answer Range requests with the whole file (200), like servers without range support. */
  ignoreRange: boolean;
  /** Answer every request with this status instead (0: off), e.g. 401 as for gated models. */
  forceStatus: number;
}

export interface FakeHub {
  baseUrl: string;
  requests: HubRequest[];
  behaviour: HubBehaviour;
  close(): Promise<void>;
}

const LFS_FILES = new Set(['model.safetensors']);

/** `repos`: repo id → file name → content. */
export async function startFakeHub(repos: Map<string, Map<string, Buffer>>): Promise<FakeHub> {
  const requests: HubRequest[] = [];
  const behaviour: HubBehaviour = {
    cutTransfers: 0,
    cutAfterBytes: 0,
    wrongSha256: false,
    ignoreRange: false,
    forceStatus: 0,
  };

  function sendContent(req: IncomingMessage, res: ServerResponse, content: Buffer, etag: string): void {
    const size = content.length;
    const start = behaviour.ignoreRange ? 0 : Number(req.headers.range?.match(/^bytes=(\d+)-$/)?.[1] ?? 0);
    if (start >= size && start > 0) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    const headers: Record<string, string | number> = { ETag: etag, 'Content-Length': size - start };
    if (start > 0) headers['Content-Range'] = `bytes ${start}-${size - 1}/${size}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    const body = content.subarray(start);
    if (behaviour.cutTransfers > 0 && LFS_FILES.has(req.url!.split('/').pop()!)) {
      behaviour.cutTransfers--;
      res.write(body.subarray(0, behaviour.cutAfterBytes), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }

  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    requests.push({ method: req.method ?? '', path, range: req.headers.range });
    if (behaviour.forceStatus) {
      res.writeHead(behaviour.forceStatus).end();
      return;
    }
    const resolveMatch = path.match(/^\/(.+)\/resolve\/([^/]+)\/([^/]+)$/);
    const lfsMatch = path.match(/^\/lfs\/(.+)\/([^/]+)$/);
    const [repoId, file] = resolveMatch
      ? [resolveMatch[1], resolveMatch[3]]
      : lfsMatch
        ? [lfsMatch[1], lfsMatch[2]]
        : [];
    const content = repoId && file ? repos.get(repoId)?.get(file) : undefined;
    if (!content) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Entry not found');
      return;
    }
    if (resolveMatch && LFS_FILES.has(file!)) {
      const sha256 = behaviour.wrongSha256
        ? '0'.repeat(64)
        : createHash('sha256').update(content).digest('hex');
      res
        .writeHead(302, {
          Location: `/lfs/${repoId}/${file}`,
          'X-Linked-Etag': `"${sha256}"`,
          'X-Linked-Size': content.length,
        })
        .end();
      return;
    }
    // Plain git files: the ETag is a 40-hex blob id, not a sha256, so nothing is verified.
    const blobId = createHash('sha1').update(content).digest('hex');
    sendContent(req, res, content, resolveMatch ? `"${blobId}"` : `"lfs-object"`);
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    behaviour,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
