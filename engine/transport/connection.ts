import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { silentLog, type LogFn } from '../log.js';
import { TransportError, TransportErrorCode } from './errors.js';


/** Options for {@link connectNats}. */
export interface ConnectOptions {
  /** One URL or a comma-separated list. */
  url: string;
  name?: string;
  log?: LogFn;
  /** Delay between reconnect attempts in ms (default 1000). */
  reconnectTimeWaitMs?: number;
  /** Timeout for JetStream API calls and publish acks in ms (default 5000). */
  jsTimeoutMs?: number;
  /** Timeout of the first connection in ms (default 5000). */
  connectTimeoutMs?: number;
}

/** A live NATS connection with JetStream handles; it reconnects forever until closed. */
export interface NatsLink {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** False while disconnected or reconnecting, and after close. */
  isConnected(): boolean;
  /** Calls `listener` whenever `isConnected()` changes; returns a function that removes it. */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  /** Drains subscriptions, flushes pending publishes and closes. */
  drain(): Promise<void>;
  /** Closes at once; unflushed publishes are lost. */
  close(): Promise<void>;
}


/** Connects to NATS (failing if the first attempt fails) and tracks connection status for readiness. */
export async function connectNats(opts: ConnectOptions): Promise<NatsLink> {
  const log = opts.log ?? silentLog;
  const servers = opts.url.split(',').map((s) => s.trim()).filter((s) => s !== '');
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: opts.name ?? 'sagad',
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1_000,
      timeout: opts.connectTimeoutMs ?? 5_000,
      noAsyncTraces: true,
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TransportError(TransportErrorCode.NatsUnavailable, `cannot connect to NATS at ${opts.url}: ${why}`, { cause: err });
  }
  let connected = true;
  const listeners = new Set<(connected: boolean) => void>();
  const setConnected = (value: boolean): void => {
    if (value === connected) return;
    connected = value;
    for (const l of listeners) {
      try {
        l(value);
      } catch (err) {
        log('error', 'connection listener failed', { error: err instanceof Error ? err.message : String(err) });
      }
    }
  };
  log('info', 'nats connected', { server: nc.getServer(), name: opts.name ?? 'sagad' });
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          setConnected(false);
          log('warn', 'nats disconnected', { server: s.server });
          break;
        case 'reconnecting':
          setConnected(false);
          log('debug', 'nats reconnecting');
          break;
        case 'reconnect':
          setConnected(true);
          log('info', 'nats reconnected', { server: s.server });
          break;
        case 'staleConnection':
          setConnected(false);
          log('warn', 'nats connection stale');
          break;
        case 'error':
          log('error', 'nats error', { error: s.error.message });
          break;
        case 'ldm':
          log('warn', 'nats server entering lame duck mode', { server: s.server });
          break;
        case 'slowConsumer':
          log('warn', 'nats slow consumer', { subject: s.sub.getSubject(), pending: s.pending });
          break;
        default:
          break;
      }
    }
  })();
  void nc.closed().then((err) => {
    setConnected(false);
    if (err) log('error', 'nats connection closed with error', { error: err.message });
    else log('info', 'nats connection closed');
  });
  const timeout = opts.jsTimeoutMs ?? 5_000;
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout });
  } catch (err) {
    const server = nc.getServer();
    await nc.close();
    throw new TransportError(TransportErrorCode.NatsUnavailable, `NATS server at ${server} does not answer JetStream requests (is it started with -js?)`, { cause: err });
  }
  return {
    nc,
    js: jetstream(nc, { timeout }),
    jsm,
    isConnected: () => connected && !nc.isClosed(),
    onConnectionChange: (listener) => {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    drain: async () => { if (!nc.isClosed()) await nc.drain(); },
    close: async () => { await nc.close(); },
  };
}
