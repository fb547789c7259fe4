// The token (and port) a server keeps across restarts when asked to, so the URL a user bookmarked or
// left open in a tab keeps working. Stored next to the database in DB-serve.json, readable by its
// owner only, written whole (a temporary file renamed over the old one).
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';

const keptSchema = z.object({
  token: z.string().regex(/^[\w-]{32,128}$/),
  port: z.number().int().min(1).max(65535),
});

export type KeptToken = z.infer<typeof keptSchema>;

/** Where the kept token of the database at `databasePath` lives. */
export const keptTokenPath = (databasePath: string) => `${databasePath}-serve.json`;

/**
 * The kept token and port, or null when none was kept. Throws when the file exists but is not one
 * this code wrote (naming the file), rather than silently making a new token.
 */
export async function loadKeptToken(file: string): Promise<KeptToken | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const kept = keptSchema.safeParse(parsed);
  if (!kept.success) {
    throw new Error(`${file} is not a kept serve token ({"token","port"}); delete it or pass --new-token`);
  }
  return kept.data;
}

/** Saves the token and port for the next start; the file is made readable by its owner only. */
export async function saveKeptToken(file: string, kept: KeptToken): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(kept)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}
