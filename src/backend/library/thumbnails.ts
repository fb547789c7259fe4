// Thumbnails: small WebP files cached on disk by content hash (so a moved or duplicated image shares
// one), made on first request and by a background filler.
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Store } from '../store/index.js';
import { explainDecodeFailure } from '../../shared/domain/image-types.js';
import { CACHEDIR_TAG, CACHEDIR_TAG_CONTENT } from './files.js';
import { resolveCollectionFile } from './paths.js';
import type { ImageRecord } from '../../shared/domain/library.js';

export interface ThumbnailCacheOptions {
  store: Store;
  cacheDir: string;
  /** Longest side in pixels. */
  size?: number;
}

export interface FillProgress {
  collectionId: number;
  made: number;
  existing: number;
  failed: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export function createThumbnailCache({ store, cacheDir, size = 256 }: ThumbnailCacheOptions) {
  const inFlight = new Map<string, Promise<string>>();
  let tempCounter = 0;

  const pathForHash = (hash: string) => join(cacheDir, hash.slice(0, 2), `${hash}-${size}.webp`);
  // Marks the folder as a cache, so that indexing never takes the thumbnails for photos (and
  // backup tools may skip it), even when the data folder lies inside a collection.
  let tagged: Promise<void> | null = null;
  const tagCacheDir = () =>
    (tagged ??= mkdir(cacheDir, { recursive: true }).then(() =>
      writeFile(join(cacheDir, CACHEDIR_TAG), CACHEDIR_TAG_CONTENT),
    ));

  async function render(image: ImageRecord, hash: string): Promise<string> {
    const target = pathForHash(hash);
    if (await exists(target)) return target;
    // The one path rule: a file swapped for a link out of the collection is not read.
    const source = await resolveCollectionFile(store, image.collectionId, image.relPath);
    await tagCacheDir();
    await mkdir(join(cacheDir, hash.slice(0, 2)), { recursive: true });
    // Write then rename, so a reader never sees half a file and a crash leaves no broken thumbnail.
    const temp = `${target}.${process.pid}.${tempCounter++}.tmp`;
    try {
      await sharp(source, { animated: false })
        .autoOrient()
        .resize(size, size, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toFile(temp);
      await rename(temp, target);
      return target;
    } catch (error) {
      await rm(temp, { force: true });
      const message = explainDecodeFailure(source, error instanceof Error ? error.message : String(error));
      store.images.setError(image.id, `thumbnail: ${message}`);
      throw new Error(`cannot make a thumbnail of ${source}: ${message}`, { cause: error });
    }
  }

  /** The thumbnail file of an image, made now if needed. A file that fails is marked as an error. */
  async function thumbnailOf(imageId: number): Promise<string> {
    const image = store.images.require(imageId);
    if (image.status !== 'ok' || !image.contentHash) {
      throw new Error(`image ${imageId} (${image.relPath}) has no thumbnail: ${image.error ?? image.status}`);
    }
    const hash = image.contentHash;
    let pending = inFlight.get(hash);
    if (!pending) {
      pending = render(image, hash).finally(() => inFlight.delete(hash));
      inFlight.set(hash, pending);
    }
    return pending;
  }

  /** Makes the missing thumbnails of a collection, a few at a time, until done or aborted. */
  async function fill(
    collectionId: number,
    options: { signal?: AbortSignal; concurrency?: number; onProgress?: (p: FillProgress) => void } = {},
  ): Promise<FillProgress> {
    const { signal, concurrency = 2, onProgress } = options;
    const progress: FillProgress = { collectionId, made: 0, existing: 0, failed: 0 };
    let afterId = 0;
    for (;;) {
      const page = store.images.pageAfter(collectionId, afterId, 64);
      if (page.length === 0) break;
      afterId = page[page.length - 1].id;
      for (let i = 0; i < page.length; i += concurrency) {
        signal?.throwIfAborted();
        await Promise.all(
          page.slice(i, i + concurrency).map(async (image) => {
            if (image.contentHash && (await exists(pathForHash(image.contentHash)))) {
              progress.existing++;
              return;
            }
            try {
              await thumbnailOf(image.id);
              progress.made++;
            } catch {
              progress.failed++; // recorded on the image by render()
            }
          }),
        );
        onProgress?.({ ...progress });
      }
    }
    return progress;
  }

  return { thumbnailOf, fill, pathForHash };
}

export type ThumbnailCache = ReturnType<typeof createThumbnailCache>;
