// `npm run bench -- extreme-geometry`: the 1×60000 image of issue 13 (test/fixtures/cases/06-huge-and-thin)
// through `metatpt index` + `run` on a ViT-B/32-shaped model (224-px preprocessing, random weights),
// in this process so that the engine worker's memory counts. Baseline in the same run: the same
// collection with a square photo in place of the thin image. Reports peak RSS and the ratio.
// Before the fix the thin image needed a 224×13.4M intermediate: 9.6 GB, then SIGABRT.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli/command.js';
import { commands } from '../src/cli/commands.js';
import { MemoryMonitor } from './lib/memory.js';
import { ensureClipModel } from './lib/models.js';
import { machineLine, markdownTable, ratio } from './lib/report.js';

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
const THIN = here('../test/fixtures/cases/06-huge-and-thin/thin_1x60000.png');
const DEMO = here('../resources/demo/images');

const quiet = { stdout: () => {}, stderr: () => {}, stderrIsTTY: false };

/** index + zero-shot run of a folder; the run's final status and peak memory. */
async function indexAndRun(folder: string, model: string, monitor: MemoryMonitor) {
  const db = join(folder, '..', `${Date.now()}.db`);
  monitor.reset();
  const started = performance.now();
  let out = '';
  const io = { ...quiet, stdout: (text: string) => void (out += text) };
  if ((await runCli(commands, ['index', '--db', db, '--json', folder], io)) !== 0)
    throw new Error('index failed');
  const code = await runCli(
    commands,
    [
      'run',
      '--db',
      db,
      '--collection',
      '1',
      '--model',
      model,
      '--classes',
      'line,dot',
      '--device',
      'cpu',
      '--json',
    ],
    io,
  );
  const seconds = (performance.now() - started) / 1000;
  const { status, done, failed } = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  return { code, status, done, failed, seconds, peak: monitor.peak() };
}

export async function main(): Promise<void> {
  const model = ensureClipModel('vit-b-32', (line) => console.error(line));
  const work = mkdtempSync(join(tmpdir(), 'bench-geometry-'));
  const monitor = new MemoryMonitor();
  try {
    const cases = [
      { name: 'baseline: 3 square photos', images: [join(DEMO, 'shape-0001.webp')] },
      { name: '2 square photos + 1×60000 PNG', images: [THIN] },
    ];
    const rows = [];
    let baseline = 0;
    for (const [index, spec] of cases.entries()) {
      const folder = join(work, `c${index}`, 'photos');
      mkdirSync(folder, { recursive: true });
      copyFileSync(join(DEMO, 'shape-0002.webp'), join(folder, 'a.webp'));
      copyFileSync(join(DEMO, 'shape-0003.webp'), join(folder, 'c.webp'));
      copyFileSync(spec.images[0], join(folder, `b${extname(spec.images[0])}`));
      const result = await indexAndRun(folder, model, monitor);
      const peak = result.peak.highWaterMiB ?? result.peak.sampledMiB;
      if (index === 0) baseline = peak;
      rows.push([
        spec.name,
        `${result.code} / ${String(result.status)}`,
        `${String(result.done)} / ${String(result.failed)}`,
        result.seconds,
        peak,
        ratio(peak, baseline),
      ]);
    }
    console.log(machineLine());
    console.log();
    console.log(
      markdownTable(
        ['collection', 'exit / run status', 'done / failed', 'seconds', 'peak RSS MiB', 'vs baseline'],
        rows,
      ),
    );
  } finally {
    monitor.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
