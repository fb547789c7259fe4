// Downloading a CLIP model from the Hugging Face hub (or a mirror with the same URL layout):
// resumable (HTTP Range into *.part files that survive failed attempts), sha256-verified, cancellable,
// installed atomically.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIP_MODEL_FILES } from '../../engine/clip/model-files.js';
import { ModelManagerError } from './errors.js';
import {
  assertNotInstalled,
  discardStaging,
  installStagedModel,
  modelIdFor,
  type InstalledModel,
} from './installed.js';

export interface DownloadProgress {
  file: string;
  /** Bytes of this file on disk so far, resumed bytes included. */
  receivedBytes: number;
  /** Undefined when the server does not say. */
  totalBytes: number | undefined;
}

export interface DownloadOptions {
  baseUrl?: string;
  revision?: string;
  fetch?: typeof globalThis.fetch;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Expected sha256 (hex) per file name; takes precedence over what the server advertises. */
  sha256?: Record<string, string>;
  /** How many times a broken transfer is resumed within this call before giving up (default 3). */
  retries?: number;
  /** Display name (default: the repo id). */
  name?: string;
}

const MAX_REDIRECTS = 5;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

/** What the hub tells about a file: an LFS file's sha256 is its (linked) ETag. */
function advertisedSha256(headers: Headers): string | undefined {
  for (const name of ['x-linked-etag', 'etag']) {
    const value = headers.get(name)?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    if (value && SHA256_HEX.test(value)) return value;
  }
  return undefined;
}

function totalSizeOf(response: Response, offset: number, linkedSize: number | undefined): number | undefined {
  const range = response.headers.get('content-range')?.match(/\/(\d+)$/);
  if (range) return Number(range[1]);
  const length = response.headers.get('content-length');
  if (length !== null && response.status === 200) return Number(length);
  if (length !== null && response.status === 206) return offset + Number(length);
  return linkedSize;
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

async function fileSize(path: string): Promise<number> {
  return existsSync(path) ? (await stat(path)).size : 0;
}

/** The server could not be reached or the transfer broke off; it may be resumed from the .part file. */
class InterruptedTransfer extends Error {}

interface FileContext {
  url: string;
  file: string;
  repoId: string;
  stagingDir: string;
  options: DownloadOptions;
  fetchImpl: typeof globalThis.fetch;
}

function statusError(ctx: FileContext, status: number): ModelManagerError {
  if (status === 404) {
    return new ModelManagerError(
      'not-found',
      `model not found: ${ctx.repoId} has no ${ctx.file} (${ctx.url})`,
    );
  }
  if (status === 401 || status === 403) {
    return new ModelManagerError(
      'access-denied',
      `access denied to ${ctx.repoId} (HTTP ${status} for ${ctx.url}); the model may be gated or private`,
    );
  }
  return new ModelManagerError('http', `HTTP ${status} downloading ${ctx.url}`);
}

/** GET with our own redirect handling, so the hub's X-Linked-* headers on the redirect are seen. */
async function getFollowingRedirects(ctx: FileContext, offset: number) {
  let url = ctx.url;
  let sha256: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let response: Response;
    try {
      response = await ctx.fetchImpl(url, {
        redirect: 'manual',
        signal: ctx.options.signal,
        headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
      });
    } catch (err) {
      if (ctx.options.signal?.aborted) throw err;
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new InterruptedTransfer(`network error downloading ${url}: ${cause}`);
    }
    sha256 ??= advertisedSha256(response.headers);
    const size = response.headers.get('x-linked-size');
    if (size !== null) linkedSize ??= Number(size);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url).toString();
      continue;
    }
    return { response, sha256, linkedSize };
  }
  throw new ModelManagerError('http', `too many redirects downloading ${ctx.url}`);
}

/**
 * One attempt at bringing `<file>.part` up to the full file. Returns the advertised sha256 if any.
 * Throws InterruptedTransfer when the connection breaks (the .part keeps what arrived).
 */
async function transferOnce(
  ctx: FileContext,
  partPath: string,
): Promise<{ advertised?: string; hash: Hash }> {
  let offset = await fileSize(partPath);
  const { response, sha256, linkedSize } = await getFollowingRedirects(ctx, offset);
  if (response.status === 416) {
    // Range not satisfiable: the .part is already complete (or longer than the file): check it as is.
    const total = Number(response.headers.get('content-range')?.match(/\/(\d+)$/)?.[1]);
    await response.body?.cancel();
    if (total !== offset) {
      await rm(partPath, { force: true });
      throw new InterruptedTransfer(`${ctx.file}: partial file did not fit the remote file; starting over`);
    }
    const hash = createHash('sha256');
    await hashFile(partPath, hash);
    return { advertised: sha256, hash };
  }
  if (response.status !== 200 && response.status !== 206) throw statusError(ctx, response.status);
  if (response.status === 200) offset = 0; // the server ignored the Range: start over
  const total = totalSizeOf(response, offset, linkedSize);

  const hash = createHash('sha256');
  if (offset > 0) await hashFile(partPath, hash);
  const handle = await open(partPath, offset > 0 ? 'a' : 'w');
  let received = offset;
  const chunks = ((response.body ?? []) as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  try {
    ctx.options.onProgress?.({ file: ctx.file, receivedBytes: received, totalBytes: total });
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (err) {
        if (ctx.options.signal?.aborted) throw err;
        throw new InterruptedTransfer(
          `${ctx.url}: connection broke off at byte ${received} (${(err as Error).message})`,
        );
      }
      if (next.done) break;
      // Write errors (disk full, ...) are not network trouble: they propagate unchanged.
      await handle.write(next.value);
      hash.update(next.value);
      received += next.value.length;
      ctx.options.onProgress?.({ file: ctx.file, receivedBytes: received, totalBytes: total });
    }
  } finally {
    await handle.close();
  }
  if (total !== undefined && received !== total) {
    throw new InterruptedTransfer(`${ctx.url}: received ${received} of ${total} bytes`);
  }
  return { advertised: sha256, hash };
}

/** Downloads one file into the staging folder (resuming its .part); returns its verified sha256. */
async function downloadFile(ctx: FileContext): Promise<string> {
  const finalPath = join(ctx.stagingDir, ctx.file);
  if (existsSync(finalPath)) {
    // Verified and moved into place by an earlier attempt.
    const hash = createHash('sha256');
    await hashFile(finalPath, hash);
    return hash.digest('hex');
  }
  const partPath = `${finalPath}.part`;
  const retries = ctx.options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    let result: { advertised?: string; hash: Hash };
    try {
      result = await transferOnce(ctx, partPath);
    } catch (err) {
      if (ctx.options.signal?.aborted) {
        throw new ModelManagerError(
          'cancelled',
          `download of ${ctx.repoId} cancelled; ${ctx.file} can be resumed`,
          {
            cause: err,
          },
        );
      }
      if (!(err instanceof InterruptedTransfer)) throw err;
      if (attempt < retries) continue;
      const kept = (await fileSize(partPath)) > 0 ? '; the partial file is kept to resume from' : '';
      throw new ModelManagerError('network', `${err.message}${kept}`, { cause: err });
    }
    const actual = result.hash.digest('hex');
    const expected = ctx.options.sha256?.[ctx.file]?.toLowerCase() ?? result.advertised;
    if (expected !== undefined && actual !== expected) {
      await rm(partPath, { force: true });
      throw new ModelManagerError(
        'checksum',
        `checksum mismatch for ${ctx.file} of ${ctx.repoId}: expected sha256 ${expected}, got ${actual}; the partial download was deleted`,
      );
    }
    await rename(partPath, finalPath);
    return actual;
  }
}

/**
 * Downloads config.json, preprocessor_config.json, tokenizer.json and model.safetensors of `repoId`
 * from `${baseUrl}/${repoId}/resolve/${revision}/${file}` into `modelsRoot/<id>` (id: "owner--name").
 * Partial files live in `modelsRoot/.download-<id>/` until the model is complete and valid, so a failed
 * or cancelled call can be repeated and resumes where it stopped.
 */
export async function downloadModel(
  repoId: string,
  modelsRoot: string,
  options: DownloadOptions = {},
): Promise<InstalledModel> {
  if (!REPO_ID.test(repoId)) {
    throw new ModelManagerError(
      'not-found',
      `"${repoId}" is not a model id like "openai/clip-vit-base-patch16"`,
    );
  }
  const { baseUrl = 'https://huggingface.co', revision = 'main' } = options;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const id = modelIdFor(repoId);
  assertNotInstalled(modelsRoot, id);
  const stagingDir = join(modelsRoot, `.download-${id}`);
  await mkdir(stagingDir, { recursive: true });

  const sha256: Record<string, string> = {};
  for (const file of Object.values(CLIP_MODEL_FILES)) {
    const url = `${baseUrl.replace(/\/+$/, '')}/${repoId}/resolve/${encodeURIComponent(revision)}/${file}`;
    sha256[file] = await downloadFile({ url, file, repoId, stagingDir, options, fetchImpl });
  }
  try {
    return await installStagedModel(stagingDir, modelsRoot, id, {
      name: options.name ?? repoId,
      source: { type: 'download', repoId, revision, baseUrl, sha256 },
      installedAt: new Date().toISOString(),
    });
  } catch (err) {
    // The files are what the server has (checksums passed): downloading them again would not help.
    if (!(err instanceof ModelManagerError && err.kind === 'invalid-model')) throw err;
    await discardStaging(stagingDir);
    throw new ModelManagerError('invalid-model', `${repoId} is not a usable CLIP model: ${err.message}`, {
      cause: err,
    });
  }
}
