// Kind 8 of issue 13 (case 21-epipe-head): a reader that closes the pipe early ends the command
// quietly, as `cat` does, not with an EPIPE stack trace.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../backend/helpers.js';
import { CASES } from '../cases.js';

const ENTRY = fileURLToPath(new URL('../../bin/metatpt.mjs', import.meta.url));

/** Runs metatpt with its stdout closed by the reader before the command writes. */
async function withClosedStdout(args: string[]) {
  const child = spawn(process.execPath, [ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy(); // `| head -0`: the pipe's reader is gone
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

describe('closed pipes', () => {
  it('index, status and --help end quietly when the reader has gone', async () => {
    const photos = tempDir('epipe-');
    cpSync(join(CASES, '09-csv-import-variants', 'photos'), photos, { recursive: true });
    const db = join(tempDir('epipe-db-'), 'w.db');
    for (const args of [
      ['index', '--db', db, '--json', photos],
      ['status', '--db', db],
      ['classify', '--help'],
    ]) {
      const { code, stderr } = await withClosedStdout(args);
      expect(stderr, args.join(' ')).not.toMatch(/EPIPE|Unhandled|node:events/);
      expect(code, `${args.join(' ')}: ${stderr}`).toBe(0);
    }
  });
});
