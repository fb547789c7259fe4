// Writes the demo collection offered on first start: clean and domain-shifted renderings of the
// procedural shapes, the class set, and the true labels (CSV, paths relative to it).
// Usage: npx tsx scripts/make-demo-collection.ts [--out resources/demo] [--per-class 30] [--side 160]
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Random } from '../src/engine/random.js';
import { DEMO_COLLECTION_DIR } from '../tools/synthetic/embedded.js';
import { renderScene, SHIFTS, type RenderStyle } from '../tools/synthetic/render.js';
import { balancedScenes, SHAPES } from '../tools/synthetic/scenes.js';

/** Seeds the demo scenes; distinct from the training stream and the benchmark's held-out scenes. */
const DEMO_SEED = 4_242;
/** A third of the images are clean, the rest spread over the shifts. */
const CLEAN_SHARE = 1 / 3;
const WEBP_QUALITY = 80;

function positiveInt(text: string | undefined, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} must be a positive integer, got "${text}"`);
  return value;
}

/** The style of the `index`-th image of a class: clean first, then the shifts in turn. */
function styleOf(index: number, perClass: number): RenderStyle {
  const clean = Math.round(perClass * CLEAN_SHARE);
  return index < clean ? 'clean' : SHIFTS[(index - clean) % SHIFTS.length];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: DEMO_COLLECTION_DIR },
      'per-class': { type: 'string', default: '30' },
      side: { type: 'string', default: '160' },
    },
  });
  const outDir = resolve(values.out);
  const perClass = positiveInt(values['per-class'], '--per-class');
  const side = positiveInt(values.side, '--side');
  const imagesDir = join(outDir, 'images');
  if (existsSync(imagesDir) && readdirSync(imagesDir).length > 0) {
    throw new Error(`${imagesDir}: folder is not empty; remove it to regenerate the demo collection`);
  }
  mkdirSync(imagesDir, { recursive: true });

  const scenes = balancedScenes(new Random(DEMO_SEED), perClass);
  // Shuffled so that browsing the folder in name order does not show the classes in blocks.
  const order = new Random(DEMO_SEED + 1);
  const shuffled = scenes.map((scene, i) => ({ scene, i, key: order.next() })).sort((a, b) => a.key - b.key);
  const rows = ['filepath,label,style'];
  let bytes = 0;
  for (const [n, { scene, i }] of shuffled.entries()) {
    const style = styleOf(i % perClass, perClass);
    const image = await renderScene(scene, { side, style, noiseSeed: DEMO_SEED + i });
    const name = `images/shape-${String(n + 1).padStart(4, '0')}.webp`;
    const info = await sharp(image.data, { raw: { width: side, height: side, channels: 3 } })
      .webp({ quality: WEBP_QUALITY })
      .toFile(join(outDir, name));
    bytes += info.size;
    rows.push(`${name},${scene.shape},${style}`);
  }
  writeFileSync(join(outDir, 'classes.txt'), SHAPES.join('\n') + '\n');
  writeFileSync(join(outDir, 'ground-truth.csv'), rows.join('\n') + '\n');
  console.log(`wrote ${scenes.length} images (${(bytes / 1024 / 1024).toFixed(2)} MiB) to ${imagesDir}`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
  },
);
