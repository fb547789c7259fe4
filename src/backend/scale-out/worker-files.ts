// How a worker reaches a job's image and model: the workbench's path through a path mapping (the same
// files mounted on every machine), or a download from the workbench's serve address, checked against
// the hash the workbench sent (SHA-1 of an image as indexed, SHA-256 of each model file). Downloaded
// models are cached by their hashes; downloaded images are deleted after use.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageTask } from '../jobs/types.js';
import type { DownloadSource, ModelFileRef } from './wire.js';

/** `--path-map FROM=TO`: a workbench path under FROM is read under TO on this machine. */
export interface PathMapping {
  from: string;
  to: string;
}

/** Parses FROM=TO; throws naming the problem. */
export function parsePathMapping(text: string): PathMapping {
  const at = text.indexOf('=');
  const from = text.slice(0, at).replace(/\/+$/, '');
  const to = text.slice(at + 1).replace(/\/+$/, '');
  if (at <= 0 || from === '' || to === '')
    throw new Error(`--path-map wants FROM=TO (two folders), not "${text}"`);
  return { from, to };
}

/** The path on this machine: the longest matching FROM (at a folder boundary) replaced by its TO. */
export function mapPath(path: string, mappings: readonly PathMapping[]): string {
  let best: PathMapping | null = null;
  for (const mapping of mappings) {
    const under = path === mapping.from || path.startsWith(`${mapping.from}/`);
    if (under && (!best || mapping.from.length > best.from.length)) best = mapping;
  }
  return best ? best.to + path.slice(best.from.length) : path;
}

async function fetchOk(url: string, token: string, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new Error(`cannot download ${what} from ${url}: ${(error as Error).message}`);
  }
  if (!response.ok || !response.body) {
    const text = (await response.text().catch(() => '')).trim().slice(0, 200);
    throw new Error(`cannot download ${what} from ${url}: HTTP ${response.status} ${text}`);
  }
  return response;
}

/** Downloads to `file` through a temporary name, checking the digest; nothing is left on failure. */
async function download(
  url: string,
  token: string,
  file: string,
  expected: { algorithm: 'sha1' | 'sha256'; digest: string },
  what: string,
): Promise<void> {
  const response = await fetchOk(url, token, what);
  const partial = `${file}.${randomBytes(4).toString('hex')}.part`;
  const hash = createHash(expected.algorithm);
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(partial),
    );
    const digest = hash.digest('hex');
    if (digest !== expected.digest) {
      throw new Error(
        `${what} from ${url} arrived with ${expected.algorithm} ${digest}, not ${expected.digest} (changed or damaged)`,
      );
    }
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

export interface WorkerFiles {
  /** The local folder of the job's model: downloaded and cached, or mapped. */
  modelDir(
    model: { id: number; dir: string },
    source?: DownloadSource & { modelFiles: ModelFileRef[] },
  ): Promise<string>;
  /** The image's local file; release() deletes a downloaded copy. */
  image(image: ImageTask, source?: DownloadSource): Promise<{ path: string; release(): Promise<void> }>;
}

export function workerFiles(options: { cacheDir: string; pathMap: readonly PathMapping[] }): WorkerFiles {
  const { cacheDir, pathMap } = options;
  /** Models being downloaded, so that concurrent jobs share one download. */
  const pending = new Map<string, Promise<string>>();

  async function downloadModel(
    modelId: number,
    source: DownloadSource & { modelFiles: ModelFileRef[] },
  ): Promise<string> {
    // Named by the files' hashes: a changed model is a new folder, an unchanged one is found again.
    const digest = createHash('sha256')
      .update(source.modelFiles.map((f) => `${f.name}:${f.sha256}`).join('\n'))
      .digest('hex');
    const dir = join(cacheDir, 'models', digest.slice(0, 32));
    const complete = join(dir, '.complete');
    if (existsSync(complete)) return dir;
    await mkdir(dir, { recursive: true });
    for (const file of source.modelFiles) {
      const target = join(dir, file.name);
      if (existsSync(target) && (await stat(target)).size === file.size) continue; // checked when written
      const url = `${source.baseUrl}/scale-out/models/${modelId}/${encodeURIComponent(file.name)}`;
      await download(
        url,
        source.token,
        target,
        { algorithm: 'sha256', digest: file.sha256 },
        `model file ${file.name}`,
      );
    }
    await writeFile(complete, '');
    return dir;
  }

  return {
    async modelDir(model, source) {
      if (!source) return mapPath(model.dir, pathMap);
      const key = JSON.stringify(source.modelFiles);
      let dir = pending.get(key);
      if (!dir) {
        dir = downloadModel(model.id, source).finally(() => pending.delete(key));
        pending.set(key, dir);
      }
      return dir;
    },

    async image(image, source) {
      if (!source) return { path: mapPath(image.path, pathMap), release: async () => {} };
      if (!image.contentHash) {
        throw new Error(`image ${image.imageId} has no content hash (it could not be read when indexed)`);
      }
      const dir = join(cacheDir, 'images');
      await mkdir(dir, { recursive: true });
      // The extension tells the decoder nothing it needs, but keeps error messages readable.
      const file = join(dir, `${image.imageId}-${randomBytes(4).toString('hex')}${extname(image.path)}`);
      const url = `${source.baseUrl}/scale-out/images/${image.imageId}`;
      await download(
        url,
        source.token,
        file,
        { algorithm: 'sha1', digest: image.contentHash },
        `image ${image.path}`,
      );
      return { path: file, release: () => rm(file, { force: true }) };
    },
  };
}
