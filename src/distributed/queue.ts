/**
 * The BullMQ side of distributed builds: one queue per project (builds.yaml `executor.queue`),
 * jobs named `build`, the coordinator's QueueEvents for what agents report, agents' Workers.
 * BullMQ gives priorities, retries and stalled-job recovery; a job's lock is what tells a
 * working agent from a dead one (an agent renews it while alive; another agent's stalled check
 * puts the job of a dead one back in the queue).
 */
import { Queue, QueueEvents, Worker, type ConnectionOptions, type Processor } from 'bullmq';
import { Redis } from 'ioredis';

export const JOB_NAME = 'build';

/** BullMQ's connection options for a redis:// or rediss:// URL (blocking commands need no retry limit). */
export function connectionFor(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: (times: number) => Math.min(200 * times, 2000) };
}

/**
 * BullMQ priority (1 first, up to 2^21) for a port with `waiting` ports waiting on it: the queue
 * hands out the most-waited-for ready port first, as the local scheduler does.
 */
export function jobPriority(waiting: number): number {
  const MAX = 2 ** 21 - 1;
  return Math.max(1, MAX - Math.min(waiting, MAX - 1));
}

/** The pub/sub channel on which the coordinator asks agents to interrupt a job (a pass stopped by a signal). */
export const cancelChannel = (queue: string) => `portsync:${queue}:cancel`;

export function openQueue(url: string, name: string): Queue {
  return new Queue(name, { connection: connectionFor(url) });
}

export function openQueueEvents(url: string, name: string): QueueEvents {
  return new QueueEvents(name, { connection: connectionFor(url) });
}

export interface AgentWorkerOptions {
  concurrency: number;
  /** A job whose agent stops renewing its lock this long is given to another agent. */
  lockDurationMs: number;
}

export function openWorker(url: string, name: string, processor: Processor, opts: AgentWorkerOptions): Worker {
  return new Worker(name, processor, {
    connection: connectionFor(url),
    concurrency: opts.concurrency,
    lockDuration: opts.lockDurationMs,
    // Every agent checks for stalled jobs this often (the check is what hands a dead agent's job to a live one).
    stalledInterval: Math.max(500, Math.round(opts.lockDurationMs / 2)),
    // A job is retried after a stall at most twice: a port that kills every agent it lands on stops there.
    maxStalledCount: 2,
    // Jobs finish once, on the coordinator's side; the queue need not keep them.
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  });
}

/** A plain client (pub/sub for cancels, status checks). */
export function openRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(200 * times, 2000) });
}
