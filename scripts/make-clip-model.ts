// Writes a CLIP model folder (Hugging Face layout) with seeded random weights.
// Usage: npx tsx scripts/make-clip-model.ts --out DIR --preset tiny|vit-b-16|vit-b-32 [--seed N]
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CLIP_PRESETS, makeClipModel, type ClipPreset } from '../tools/clip/make-model.js';

const USAGE = `usage: make-clip-model --out DIR --preset ${Object.keys(CLIP_PRESETS).join('|')} [--seed N]`;

function main(): number {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, preset: { type: 'string' }, seed: { type: 'string', default: '0' } },
  });
  const seed = Number(values.seed);
  if (!values.out || !values.preset || !(values.preset in CLIP_PRESETS) || !Number.isInteger(seed)) {
    console.error(USAGE);
    return 2;
  }
  const outDir = resolve(values.out);
  const started = performance.now();
  makeClipModel(outDir, { preset: values.preset as ClipPreset, seed });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const peakMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(`wrote ${values.preset} (seed ${seed}) to ${outDir} in ${seconds} s, peak RSS ${peakMiB} MiB`);
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
}
