// Seeded synthetic photos for benchmarks: smooth colour blobs on a gradient, so that crops of
// different places differ (a random model does not care what the picture shows).
import type { DecodedImage } from '../../src/engine/image/decode.js';
import { Random } from '../../src/engine/random.js';

export function syntheticImage(seed: number, width = 400, height = 300): DecodedImage {
  const rng = new Random(seed);
  const blobs = Array.from({ length: 6 }, () => ({
    x: rng.uniform(0, width),
    y: rng.uniform(0, height),
    radius: rng.uniform(0.1, 0.4) * Math.min(width, height),
    colour: [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)],
  }));
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const rgb = [(255 * x) / width, (255 * y) / height, 128];
      for (const blob of blobs) {
        const weight = Math.exp(-((x - blob.x) ** 2 + (y - blob.y) ** 2) / (2 * blob.radius ** 2));
        for (let c = 0; c < 3; c++) rgb[c] += weight * (blob.colour[c] - rgb[c]);
      }
      data.set(rgb, (y * width + x) * 3);
    }
  }
  return { width, height, data };
}
