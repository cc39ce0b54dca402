import { readFileSync } from 'node:fs';
import { AuthorizationError, connect, credsAuthenticator, nkeyAuthenticator, UserAuthenticationExpiredError } from '@nats-io/transport-node';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
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
  /** How to authenticate and whether to use TLS; default none (and TLS only if the server demands it). */
  security?: NatsSecurity;
}

/**
 * sagad's credentials for a secured NATS: at most one of a creds file, an nkey seed file,
 * user and password, or a token; TLS with a CA to trust and a client certificate for
 * mutual TLS. File paths are read when connecting (again on each reconnect for creds and nkey).
 */
export interface NatsSecurity {
  readonly credsFile?: string | undefined;
  readonly nkeySeedFile?: string | undefined;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly token?: string | undefined;
  readonly tlsCaFile?: string | undefined;
  readonly tlsCertFile?: string | undefined;
  readonly tlsKeyFile?: string | undefined;
}

/** Which setting provided the credentials, for the sentence sagad stops with when they are refused. */
function credentialSource(s: NatsSecurity): string {
  if (s.credsFile !== undefined) return `the creds file NATS_CREDS=${s.credsFile}`;
  if (s.nkeySeedFile !== undefined) return `the nkey seed in NATS_NKEY=${s.nkeySeedFile}`;
  if (s.user !== undefined) return `NATS_USER=${s.user} and NATS_PASSWORD`;
  if (s.token !== undefined) return 'NATS_TOKEN';
  return 'no credentials (set NATS_CREDS, NATS_NKEY, NATS_USER and NATS_PASSWORD, or NATS_TOKEN)';
}

/** A file's bytes for an authenticator; a missing file is a configuration problem, said as such. */
function fileBytes(path: string, what: string, trim: boolean): () => Uint8Array {
  return () => {
    try {
      const text = readFileSync(path, 'utf8');
      // A seed is one line; a creds file's parser needs the newline after its last marker.
      return new TextEncoder().encode(trim ? text.trim() : `${text}\n`);
    } catch (err) {
      throw new TransportError(TransportErrorCode.NatsUnavailable, `cannot read ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
}

/**
 * Pure: NATS server URLs (one, or several separated by commas) as they may be shown in logs,
 * errors and `/readyz`: without user information, which holds a password or a token
 * (`nats://user:pass@host`, `nats://token@host`).
 */
export function shownUrl(url: string): string {
  return url.replace(/(^|,)(\s*[a-z][a-z0-9+.-]*:\/\/)[^@/,]*@/gi, '$1$2***@');
}

/** Pure except for reading key files: nats.js options for `security` and the server URLs. */
export function securityOptions(servers: readonly string[], s: NatsSecurity = {}): Partial<NodeConnectionOptions> {
  const out: Partial<NodeConnectionOptions> = {};
  if (s.credsFile !== undefined) {
    const read = fileBytes(s.credsFile, 'the NATS creds file', false);
    read(); // fail at once on a missing file, not inside the handshake
    out.authenticator = credsAuthenticator(read);
  } else if (s.nkeySeedFile !== undefined) {
    const read = fileBytes(s.nkeySeedFile, 'the NATS nkey seed file', true);
    read();
    out.authenticator = nkeyAuthenticator(read);
  } else if (s.user !== undefined) {
    out.user = s.user;
    if (s.password !== undefined) out.pass = s.password;
  } else if (s.token !== undefined) {
    out.token = s.token;
  }
  const wantsTls = servers.some((u) => /^tls:\/\//i.test(u)) || s.tlsCaFile !== undefined || s.tlsCertFile !== undefined;
  if (wantsTls) {
    out.tls = {
      ...(s.tlsCaFile === undefined ? {} : { caFile: s.tlsCaFile }),
      ...(s.tlsCertFile === undefined ? {} : { certFile: s.tlsCertFile }),
      ...(s.tlsKeyFile === undefined ? {} : { keyFile: s.tlsKeyFile }),
    };
  }
  return out;
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
  const secured = securityOptions(servers, opts.security);
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...secured,
      servers,
      name: opts.name ?? 'sagad',
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1_000,
      timeout: opts.connectTimeoutMs ?? 5_000,
      noAsyncTraces: true,
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (err instanceof AuthorizationError || err instanceof UserAuthenticationExpiredError) {
      throw new TransportError(TransportErrorCode.NatsAuth,
        `NATS at ${shownUrl(opts.url)} refused sagad's credentials (${why}); sagad tried ${credentialSource(opts.security ?? {})}`, { cause: err });
    }
    // A refused TLS handshake (a client certificate missing or not trusted) shows only as a timeout.
    const tlsHint = secured.tls === undefined ? ''
      : '; TLS is on: check that NATS_TLS_CA trusts the server\'s certificate and, if the server verifies clients, that NATS_TLS_CERT and NATS_TLS_KEY are set and trusted by it';
    throw new TransportError(TransportErrorCode.NatsUnavailable, `cannot connect to NATS at ${shownUrl(opts.url)}: ${why}${tlsHint}`, { cause: err });
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
    drain: async () => {
      if (nc.isClosed()) return;
      // Disconnected, a drain is refused ("connection disconnected"); closed, the connection stops
      // reconnecting, and the process can exit.
      await nc.drain().catch(() => nc.close());
    },
    close: async () => { await nc.close(); },
  };
}
