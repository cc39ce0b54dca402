import { setTimeout as sleep } from 'node:timers/promises';
import type { LogFn } from '../log.js';

/**
 * The JetStream streams sagad uses: set up at start, and again when one is found gone while
 * running (NATS restarted without its JetStream store, or someone deleted it), as a consumer
 * that finds its stream missing or a publish that no stream captures reports. One set-up runs
 * at a time and at most one every 5 s; one that fails is tried again until it succeeds or
 * sagad stops, since nothing else would try again. Not ready meanwhile.
 */
export class StreamKeeper {
  private readonly streams: Record<string, string> = {};
  private ready = false;
  private restoring: Promise<void> | null = null;
  private restoredAt = 0;

  /**
   * @param setUp sets every stream up (creates or checks them) and resolves with the stream of each subject
   * @param stopping whether sagad is draining: a set-up that fails then is not tried again
   */
  constructor(private readonly setUp: () => Promise<Record<string, string>>, private readonly log: LogFn, private readonly stopping: () => boolean) {}

  /** Sets the streams up at start; rejects as the set-up does. */
  async start(): Promise<Record<string, string>> {
    const streams = await this.setUp();
    this.know(streams);
    this.ready = true;
    return streams;
  }

  /** Records the streams of subjects set up elsewhere (a reload's new subjects). */
  know(streams: Readonly<Record<string, string>>): void {
    Object.assign(this.streams, streams);
  }

  /** The stream that captures the subject, as last set up. */
  streamOf(subject: string): string | undefined {
    return this.streams[subject];
  }

  /** Whether the streams are set up (false before start and while they are set up again). */
  isReady(): boolean {
    return this.ready;
  }

  /** A stream was found gone: resolves once the streams are set up again (at once if that was done in the last 5 s). */
  lost(): Promise<void> {
    if (this.restoring !== null || Date.now() - this.restoredAt < 5_000) return this.restoring ?? Promise.resolve();
    this.restoring = this.restore().finally(() => {
      this.restoredAt = Date.now();
      this.restoring = null;
    });
    return this.restoring;
  }

  private async restore(): Promise<void> {
    this.ready = false;
    this.log('warn', 'a JetStream stream is gone (NATS restarted without its store?); setting the streams up again');
    for (let attempt = 1; ; attempt++) {
      try {
        this.know(await this.setUp());
        break;
      } catch (err) {
        if (this.stopping()) throw err;
        this.log('warn', 'could not set the streams up again; trying again', { attempt, error: err instanceof Error ? err.message : String(err) });
        // At most 5 s: a drain that comes meanwhile is not held up by a long pause.
        await sleep(Math.min(5_000, 500 * 2 ** attempt));
      }
    }
    this.ready = true;
    this.log('info', 'the streams are set up again');
  }
}
