// Markdown output: tables and the description of the machine a run was measured on.
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { createRequire } from 'node:module';

export type Cell = string | number;

/** Integers print as they are, other numbers with `digits` decimals (default 1), strings unchanged. */
export function markdownTable(headers: readonly string[], rows: readonly Cell[][], digits = 1): string {
  const text = (cell: Cell): string =>
    typeof cell === 'string' ? cell : Number.isInteger(cell) ? String(cell) : cell.toFixed(digits);
  const lines = [headers, headers.map(() => '---'), ...rows.map((row) => row.map(text))];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function cpuModel(): string {
  try {
    const match = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (match) return match[1].trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

function onnxruntimeVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

/**
 * One line naming the machine, runtime versions, date and the load average when the run ended (other
 * work on a shared machine inflates every timing; ratios of interleaved cases suffer less).
 */
export function machineLine(date = new Date()): string {
  const cores = cpus().length;
  const memory = (totalmem() / 1024 ** 3).toFixed(1);
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  return (
    `Machine: ${cores} cores, ${cpuModel()}, ${memory} GiB memory; Node ${process.versions.node}, ` +
    `onnxruntime-node ${onnxruntimeVersion()}; ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC; ` +
    `load average 1/5/15 min at the end: ${load}`
  );
}

/** `a / b` as "0.97×". */
export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}
