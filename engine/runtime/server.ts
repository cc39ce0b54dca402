import type { Subscription as CoreSubscription } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../api/app.js';
import type { CompiledSaga } from '../core/index.js';
import { openStore, type Store } from '../store/index.js';
import { connectNats, type LogFn, type NatsLink, type NatsSecurity } from '../transport/connection.js';
import { consume, type Subscription } from '../transport/consumer.js';
import { AckPipeline } from '../transport/pipeline.js';
import { publishEnvelope } from '../transport/publish.js';
import { ensureStreams } from '../transport/streams.js';
import { Engine } from './engine.js';
import { handleInbound } from './inbound.js';
import { LIFECYCLE_SUBJECT } from './outgoing.js';
import { OutboxRelay } from './outbox-relay.js';
import { pinRunningDefinitions, Registry } from './registry.js';
import { serveStartRequests } from './start-requests.js';
import { TimerService } from './timer-service.js';

/** Processed message ids are kept a week: far beyond any JetStream redelivery of them. */
const INBOX_RETENTION_MS = 7 * 24 * 3_600_000;
/** Sent outbox rows are kept a day, well past the 2-minute duplicate window. */
const SENT_RETENTION_MS = 24 * 3_600_000;

export interface ServerOptions {
  readonly definitions: readonly CompiledSaga[];
  readonly dbFile: string;
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly snapshotEvery: number;
  readonly natsUrl: string;
  readonly streams: 'create' | 'verify';
  readonly httpHost: string;
  readonly httpPort: number;
  readonly apiToken?: string | undefined;
  /** Hardening (issue 13), all optional: the read-only token, /metrics behind the token, HTTPS, body limit, NATS credentials. */
  readonly apiReadToken?: string | undefined;
  readonly metricsPublic?: boolean;
  readonly https?: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
  readonly httpBodyLimit?: number;
  readonly natsSecurity?: NatsSecurity;
  readonly maxDeliver: number;
  readonly durablePrefix: string;
  readonly log: LogFn;
}

export interface RunningServer {
  readonly engine: Engine;
  readonly store: Store;
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:8080. */
  readonly httpUrl: string;
  /** SIGTERM: stop taking messages, finish the work in hand, flush the outbox, close everything. */
  stop(): Promise<void>;
}

/**
 * Wires the real adapters: SQLite store, NATS link, streams, consumers, timers, outbox relay
 * and the HTTP API. Recovery needs no special step: overdue timers fire on start, unsent
 * outbox rows are published, durable consumers resume where they were acked.
 */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const log = o.log;
  const store = openStore(o.dbFile, {
    synchronous: o.synchronous, snapshotEvery: o.snapshotEvery, background: true,
    onBackgroundError: (message) => log('error', 'store background thread failed; commits checkpoint and counts are read in the main thread instead', { error: message }),
  });
  const registry = new Registry(o.definitions);
  pinRunningDefinitions(store, registry, log);

  const link = await connectNats({ url: o.natsUrl, name: 'sagad', log, ...(o.natsSecurity === undefined ? {} : { security: o.natsSecurity }) });
  let streamsReady = false;
  let consumersReady = false;
  let lag = 0;
  let timers: TimerService | null = null;
  let relay: OutboxRelay | null = null;
  const engine = new Engine({
    store, registry, log,
    onCommitted: (c) => {
      if (c.earliestTimer !== null) timers?.poke(c.earliestTimer);
      relay?.push(c.outbox);
    },
    republish: async (subject, data, headers, msgId) => {
      await publishEnvelope(link.js, subject, data, headers, msgId);
    },
    readiness: () => {
      const checks = {
        nats: link.isConnected() ? { ok: true } : { ok: false, detail: `not connected to ${o.natsUrl}` },
        streams: streamsReady ? { ok: true } : { ok: false, detail: 'streams not set up yet' },
        consumers: consumersReady ? { ok: true } : { ok: false, detail: 'consumers not started yet' },
      };
      return { ready: Object.values(checks).every((c) => c.ok), checks };
    },
    lag: () => lag,
  });

  const onError = (what: string) => (err: unknown) => log('error', what, { error: err instanceof Error ? err.message : String(err) });
  timers = new TimerService({ nextDueAt: () => store.nextDueAt(), fireDue: (now) => engine.fireDue(now) }, onError('timer service failed'));
  // The JetStream client's own timeout, as js.publish had it.
  const acks = new AckPipeline(link.nc, 5_000);
  relay = new OutboxRelay(store, (items) => acks.publishAll(items), onError('outbox publish failed; will retry'));

  const api: FastifyInstance = buildApi(engine, {
    token: o.apiToken, readToken: o.apiReadToken, https: o.https, log,
    ...(o.metricsPublic === undefined ? {} : { metricsPublic: o.metricsPublic }),
    ...(o.httpBodyLimit === undefined ? {} : { bodyLimit: o.httpBodyLimit }),
  });
  await api.listen({ host: o.httpHost, port: o.httpPort });
  const address = api.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : o.httpPort;
  const httpUrl = `${o.https === undefined ? 'http' : 'https'}://${o.httpHost.includes(':') ? `[${o.httpHost}]` : o.httpHost}:${port}`;
  log('info', 'HTTP API listening', { url: httpUrl });

  await ensureLifecycleStream(link);
  const inbound = registry.inboundSubjects();
  const streamOf = await ensureStreams(link.jsm, [...inbound, ...registry.outboundSubjects()], o.streams);
  streamsReady = true;
  relay.start();
  timers.start();
  const subs: Subscription[] = [];
  for (const subject of inbound) {
    const stream = streamOf[subject];
    if (stream === undefined) throw new Error(`no stream for ${subject}`);
    subs.push(await consume(link, subject, (msg) => handleInbound(engine, msg), { stream, durablePrefix: o.durablePrefix, maxDeliver: o.maxDeliver, ackWaitMs: 10_000, expiresMs: 2000, concurrency: 256, batchSize: 256, log }));
  }
  const starts: CoreSubscription = serveStartRequests(link.nc, engine, log);
  consumersReady = true;
  log('info', 'sagad ready', { sagas: registry.all().map((s) => s.name), subjects: inbound, db: o.dbFile });
  const lagTimer = setInterval(() => {
    void Promise.all(subs.map((s) => s.pending().catch(() => 0))).then((n) => { lag = n.reduce((a, b) => a + b, 0); });
  }, 5000);
  lagTimer.unref();
  // The inbox only has to outlive JetStream's redeliveries; sent outbox rows only JetStream's dedupe window.
  const housekeeping = setInterval(() => {
    const now = Date.now();
    const pruned = store.pruneInbox(now - INBOX_RETENTION_MS) + store.pruneSent(now - SENT_RETENTION_MS);
    if (pruned > 0) log('debug', 'pruned inbox and sent outbox rows', { rows: pruned });
  }, 3_600_000);
  housekeeping.unref();

  let stopping: Promise<void> | null = null;
  return {
    engine, store, httpUrl,
    stop: () => (stopping ??= (async () => {
      log('info', 'draining: no new messages, finishing the work in hand');
      engine.draining = true;
      clearInterval(lagTimer);
      clearInterval(housekeeping);
      starts.unsubscribe();
      await Promise.all(subs.map((s) => s.stop()));
      await timers?.stop();
      // API acts and timer batches may still be queued for the last shared commit.
      await engine.settled();
      await relay?.stop(5000);
      acks.close();
      await api.close();
      await link.drain().catch(onError('NATS drain failed'));
      store.close();
      log('info', 'stopped');
    })()),
  };
}

/** Lifecycle events get a stream of their own, so `sagas.start.*` stays a plain request subject. */
async function ensureLifecycleStream(link: NatsLink): Promise<void> {
  const streams = await link.jsm.streams.list().next();
  if (streams.some((s) => s.config.subjects.some((subj) => subj === LIFECYCLE_SUBJECT || subj === 'sagas.>' || subj === '>'))) return;
  await link.jsm.streams.add({ name: 'SAGAS', subjects: [LIFECYCLE_SUBJECT] });
}
