// The desktop app's scale-out setting: `scale-out.json` in its data folder, read when the backend
// starts and saved from the settings card (scaleOut.save). Absent, the app runs every image on this
// machine. Serve mode takes the same settings from its command line and cannot save them.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../../shared/api-error.js';
import { describeIssues } from '../../shared/domain/issues.js';
import {
  checkRedisUrl,
  DEFAULT_QUEUE,
  scaleOutSettingsSchema,
  scaleOutView,
  type ScaleOutInput,
  type ScaleOutSettings,
  type ScaleOutState,
} from '../../shared/domain/scale-out.js';

const SCALE_OUT_FILE = 'scale-out.json';

/** The settings file of a data folder. */
export const scaleOutFile = (dataDir: string): string => join(dataDir, SCALE_OUT_FILE);

/**
 * The scale-out settings in `file`, or null when there is no such file. Throws naming the file and the
 * problem when it is not valid JSON of that shape.
 */
export async function readScaleOutSettings(file: string): Promise<ScaleOutSettings | null> {
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
  const parsed = scaleOutSettingsSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file}: ${describeIssues(parsed.error, { root: 'settings' })}`);
  return parsed.data;
}

/**
 * The settings to save for an input: the password given, or else the saved one where the host and
 * port are unchanged (it is never sent to another server); the saved inFlight and attempts are kept.
 */
export function mergeScaleOutInput(
  input: NonNullable<ScaleOutInput>,
  saved: ScaleOutSettings | null,
): ScaleOutSettings {
  const url = checkRedisUrl(input.redisUrl);
  // The setter percent-encodes what a URL's user info cannot hold, except '%' itself.
  if (input.password !== undefined) url.password = input.password.replaceAll('%', '%25');
  else if (!url.password && saved) {
    const previous = checkRedisUrl(saved.redisUrl);
    if (previous.protocol === url.protocol && previous.host === url.host) url.password = previous.password;
  }
  const { redisUrl: _url, queue: _queue, ...kept } = saved ?? {};
  return scaleOutSettingsSchema.parse({
    ...kept,
    redisUrl: url.toString(),
    ...(input.queue !== undefined && { queue: input.queue }),
  });
}

/** Settings compared with their defaults filled in. */
const canonical = (settings: ScaleOutSettings | null) =>
  settings &&
  JSON.stringify([settings.redisUrl, settings.queue ?? DEFAULT_QUEUE, settings.inFlight, settings.attempts]);

/**
 * scaleOut.get / scaleOut.save over the settings file (null in serve mode: read-only) and the settings
 * the backend started with. Saving writes the file (owner-only: it holds the password) and applies at
 * the next start.
 */
export function createScaleOutSettingsService(file: string | null, active: ScaleOutSettings | null) {
  const view = (settings: ScaleOutSettings | null) => settings && scaleOutView(settings);

  async function state(): Promise<ScaleOutState> {
    const saved = file ? await readScaleOutSettings(file) : active;
    return {
      file,
      saved: view(saved),
      active: view(active),
      restartNeeded: canonical(saved) !== canonical(active),
    };
  }

  async function save(input: ScaleOutInput): Promise<ScaleOutState> {
    if (!file) {
      throw new ApiError(
        'this workbench takes its scale-out settings from its command line (serve --redis, --queue)',
        'conflict',
      );
    }
    if (input === null) await rm(file, { force: true });
    else {
      const settings = mergeScaleOutInput(input, await readScaleOutSettings(file).catch(() => null));
      // Written beside and renamed over the file: a crash leaves the old settings or the new ones.
      const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
      await writeFile(partial, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
      await rename(partial, file);
    }
    return state();
  }

  return { state, save };
}

export type ScaleOutSettingsService = ReturnType<typeof createScaleOutSettingsService>;
