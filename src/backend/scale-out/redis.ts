// The user's Redis, as the workbench and its workers reach it: a redis:// or rediss:// (TLS) URL with
// the password in it, one client per BullMQ object.
import { Redis } from 'ioredis';
import { checkRedisUrl } from '../../shared/domain/scale-out.js';

/**
 * A client for one BullMQ Queue, Worker or QueueEvents. BullMQ's blocking commands need
 * maxRetriesPerRequest null; rediss:// turns TLS on (ioredis reads it from the URL). autoPipelining
 * sends the commands of one tick in one write: only for a client that never blocks (a Queue).
 */
export function redisClient(url: string, connectionName: string, { autoPipelining = false } = {}): Redis {
  checkRedisUrl(url);
  return new Redis(url, { maxRetriesPerRequest: null, connectionName, enableAutoPipelining: autoPipelining });
}
