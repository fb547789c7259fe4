// Scale-out settings: a run's images go to `metatpt worker` processes through a BullMQ queue on the
// user's Redis (README, "Scaling out"). The backend reads and saves them; the renderer edits them and
// never receives a Redis password back.
import { z } from 'zod';

/** The BullMQ queue a workbench's image jobs go through, unless configured otherwise. */
export const DEFAULT_QUEUE = 'metatpt-images';

/** The URL with its password (and user) replaced, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Checks a Redis URL (redis://[user:password@]host:port[/db], rediss:// for TLS); throws naming the problem, never the password. */
export function checkRedisUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(
      `the Redis URL "${redactRedisUrl(url)}" is not a URL (redis://[:password@]host:port[/db])`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(
      `the Redis URL must start with redis:// or rediss:// (TLS), not ${parsed.protocol}//: ${redactRedisUrl(url)}`,
    );
  }
  if (!parsed.hostname) throw new Error(`the Redis URL names no host: ${redactRedisUrl(url)}`);
  return parsed;
}

const redisUrlSchema = z.string().superRefine((url, context) => {
  try {
    checkRedisUrl(url);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});
const queueSchema = z.string().trim().min(1).max(200);

/** The settings as the desktop app saves them (`scale-out.json` in its data folder). */
export const scaleOutSettingsSchema = z
  .object({
    redisUrl: redisUrlSchema,
    queue: queueSchema.optional(),
    /** Image jobs of a run in the queue at once (default 64). */
    inFlight: z.number().int().min(1).max(10_000).optional(),
    /** Tries per image before it fails (default 3). */
    attempts: z.number().int().min(1).max(100).optional(),
  })
  .strict();
export type ScaleOutSettings = z.infer<typeof scaleOutSettingsSchema>;

/**
 * What `scaleOut.save` takes: null runs every image on this machine again. The password travels
 * apart from the URL, so that the form never has to show the saved one.
 */
export const scaleOutInputSchema = z
  .object({
    /** redis://[user@]host:port[/db] or rediss://…; a password in it is taken as the password. */
    redisUrl: redisUrlSchema,
    /** A new password; '' for none; absent keeps the saved one (only for the same host and port). */
    password: z.string().max(1000).optional(),
    queue: queueSchema.optional(),
  })
  .strict()
  .nullable();
export type ScaleOutInput = z.input<typeof scaleOutInputSchema>;

/** Settings as the renderer sees them: the URL without its password. */
export interface ScaleOutView {
  /** redis://[user@]host:port[/db] or rediss://… */
  redisUrl: string;
  hasPassword: boolean;
  queue: string;
}

export interface ScaleOutState {
  /** Where the settings are saved; null where the command line sets them (serve --redis). */
  file: string | null;
  /** The saved settings; null: every image runs on this machine. */
  saved: ScaleOutView | null;
  /** The settings runs use now (read when the backend started). */
  active: ScaleOutView | null;
  /** The saved settings differ from those in use: they apply when the workbench starts again. */
  restartNeeded: boolean;
}

/** The view of settings: the password left out of the URL. */
export function scaleOutView(settings: Pick<ScaleOutSettings, 'redisUrl' | 'queue'>): ScaleOutView {
  const url = checkRedisUrl(settings.redisUrl);
  const hasPassword = url.password !== '';
  url.password = '';
  return { redisUrl: url.toString(), hasPassword, queue: settings.queue ?? DEFAULT_QUEUE };
}
