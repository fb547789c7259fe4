// Cached image features per (model, image): what re-scoring a collection with new prompts reads instead
// of running the vision tower again. The results repository writes them with an image's result (one
// transaction); the schema drops them when the image's content changes.
import type { Db } from './database.js';
import { blobToFloat32, float32ToBlob } from './float32.js';

/** A run's pending image whose features under the run's model are cached. */
export interface CachedFeatures {
  imageId: number;
  features: Float32Array;
}

export function imageFeaturesRepository(db: Db) {
  const get = db.prepare<[number, number], { features: Buffer }>(
    'SELECT features FROM image_features WHERE model_id = ? AND image_id = ?',
  );
  const pendingWithFeatures = db.prepare<
    { runId: number; afterImageId: number; limit: number },
    { imageId: number; features: Buffer }
  >(
    `SELECT ri.image_id AS imageId, f.features
     FROM run_items ri
     JOIN runs r ON r.id = ri.run_id
     JOIN image_features f ON f.model_id = r.model_id AND f.image_id = ri.image_id
     WHERE ri.run_id = @runId AND ri.state = 'pending' AND ri.image_id > @afterImageId
     ORDER BY ri.image_id LIMIT @limit`,
  );

  const put = db.prepare<[number, number, Buffer]>(
    'INSERT OR REPLACE INTO image_features (model_id, image_id, features) VALUES (?, ?, ?)',
  );

  return {
    /** Caches features computed outside a run (learning a prompt encodes labelled images). */
    put(modelId: number, imageId: number, features: Float32Array): void {
      put.run(modelId, imageId, float32ToBlob(features));
    },
    get(modelId: number, imageId: number): Float32Array | undefined {
      const row = get.get(modelId, imageId);
      return row && blobToFloat32(row.features);
    },
    /** A page (in image-id order, after afterImageId) of a run's pending images with cached features. */
    pendingWithFeatures(runId: number, afterImageId: number, limit: number): CachedFeatures[] {
      return pendingWithFeatures
        .all({ runId, afterImageId, limit })
        .map((row) => ({ imageId: row.imageId, features: blobToFloat32(row.features) }));
    },
  };
}

export type ImageFeaturesRepository = ReturnType<typeof imageFeaturesRepository>;
