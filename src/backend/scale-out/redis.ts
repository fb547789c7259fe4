// The user's Redis, as the workbench and its workers reach it: a redis:// or rediss:// (TLS) URL with
// the password in it, one client per BullMQ object.
import { Redis } from 'ioredis';

/** The BullMQ queue a workbench's image jobs go through, unless configured otherwise. */
export const DEFAULT_QUEUE = 'metatpt-images';

/** Checks a Redis URL; throws a message naming the problem (never the password). */
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

/** The URL with its password (and user) replaced, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * A client for one BullMQ Queue, Worker or QueueEvents. BullMQ's blocking commands need
 * maxRetriesPerRequest null; rediss:// turns TLS on (ioredis reads it from the URL). autoPipelining
 * sends the commands of one tick in one write: only for a client that never blocks (a Queue).
 */
export function redisClient(url: string, connectionName: string, { autoPipelining = false } = {}): Redis {
  checkRedisUrl(url);
  return new Redis(url, { maxRetriesPerRequest: null, connectionName, enableAutoPipelining: autoPipelining });
}
