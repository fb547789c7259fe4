// The desktop app's scale-out setting: `scale-out.json` in its data folder, read at start. Absent, the
// app runs every image on this machine.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { describeIssues } from '../../shared/domain/issues.js';
import type { ScaleOutOptions } from './queue-processors.js';
import { checkRedisUrl } from './redis.js';

export const SCALE_OUT_FILE = 'scale-out.json';

const settingsSchema = z
  .object({
    redisUrl: z.string().refine(
      (url) => {
        try {
          return Boolean(checkRedisUrl(url));
        } catch {
          return false;
        }
      },
      { message: 'must be redis://[:password@]host:port[/db] or rediss://... (TLS)' },
    ),
    queue: z.string().min(1).max(200).optional(),
    inFlight: z.number().int().min(1).max(10_000).optional(),
    attempts: z.number().int().min(1).max(100).optional(),
  })
  .strict();

/**
 * The scale-out options in `dataDir/scale-out.json`, or null when there is no such file. Throws naming
 * the file and the problem when it is not valid JSON of that shape.
 */
export async function readScaleOutSettings(dataDir: string): Promise<ScaleOutOptions | null> {
  const file = join(dataDir, SCALE_OUT_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${file}: cannot read the scale-out settings: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  const parsed = settingsSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file}: ${describeIssues(parsed.error, { root: 'settings' })}`);
  return parsed.data;
}
