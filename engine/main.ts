import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Subscription as CoreSubscription } from '@nats-io/transport-node';
import type { FastifyBaseLogger } from 'fastify';
import { buildApi } from './api/app.js';
import { callerName, parseNamedTokens } from './api/auth.js';
import { configHelp, earlyEventTtlMs, isLoopback, loadConfig, type Config } from './config.js';
import type { CompiledSaga } from './core/index.js';
import { setExpressionLimits } from './definitions/expression-limits.js';
import { formatDefinitionError, loadDefinitionsFile } from './definitions/index.js';
import { faultArmed } from './fault.js';
import { applyHeapGrowth } from './heap.js';
import { createPinoLogger, logFnOf, type LogFn } from './log.js';
import { jetStreamBacklog, LagMonitor, type WatchedConsumer } from './metrics/lag.js';
import { Metrics } from './metrics/registry.js';
import { Engine } from './runtime/engine.js';
import { inboundHandler } from './runtime/inbound.js';
import { acquireLease, type Lease } from './runtime/lease.js';
import { markPrefixOrWarn } from './runtime/prefix-mark.js';
import { LIFECYCLE_SUBJECT } from './runtime/outgoing.js';
import { OutboxRelay } from './runtime/outbox-relay.js';
import { inboundSubjectsOf, outboundSubjectsOf, Registry } from './runtime/registry.js';
import { Reloader, type ReloadActor, type ReloadOutcome } from './runtime/reload.js';
import { registerReloadRoutes } from './api/routes-reload.js';
import { serveStartRequests } from './runtime/start-requests.js';
import { StoredWaits } from './runtime/stored-waits.js';
import { TimerService } from './runtime/timer-service.js';
import { isPostgresUrl } from './store/open.js';
import type { StorePort } from './store/port.js';
import { connectNats, shownUrl } from './transport/connection.js';
import { startEmbeddedNats, type EmbeddedNats } from './transport/embedded.js';
import { listenWhileStarting } from './api/starting.js';
import { AckPipeline } from './transport/pipeline.js';
import { StreamKeeper } from './transport/stream-keeper.js';
import { publishEnvelope } from './transport/publish.js';
import { ensureLifecycleStream, ensureStreams } from './transport/streams.js';
import { openStore, startRetention, storeHealth } from './store-services.js';
import { Consumers } from './consumers.js';
import { loadTracing, tracingSettings } from './tracing/sdk.js';
import type { SagaTracing } from './tracing/spans.js';

/** Processed message ids are kept a week: far beyond any JetStream redelivery of them. */
const INBOX_RETENTION_MS = 7 * 24 * 3_600_000;
/** Sent outbox rows are kept a day, well past the 2-minute duplicate window. */
const SENT_RETENTION_MS = 24 * 3_600_000;

/** How often kept early events are swept: a lost delivery is made up within this, an expired event dead-lettered. */
const EARLY_SWEEP_MS = 5_000;

/**
 * Timings that differ between one process and replicas. With replicas, work a dead replica
 * held must pass to the others within seconds: its messages come back after the ack wait
 * (handlers in progress keep theirs alive), its claimed timers and unsent outbox rows after
 * their claims, and timers armed by others are found by polling.
 */
const timings = {
  sqlite: { ackWaitMs: 10_000, timerPollMs: 60_000, timerClaimMs: 30_000, orphanAfterMs: 0, idleScanMs: 5_000 },
  postgres: { ackWaitMs: 3_000, timerPollMs: 1_000, timerClaimMs: 3_000, orphanAfterMs: 2_000, idleScanMs: 1_000 },
} as const;

/** What a caller of {@link startSagad} may supply instead of the configured one. */
export interface StartOptions {
  /** Tracing to use (a test's in-memory exporter); default: the SDK when OTEL_* configures it, else none. */
  readonly tracing?: SagaTracing;
  /** sagad's pino logger, which becomes fastify's own. */
  readonly logger?: FastifyBaseLogger;
}

/** A running sagad. */
export interface Sagad {
  readonly engine: Engine;
  readonly store: StorePort;
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:8080. */
  readonly httpUrl: string;
  /** SIGTERM: stop taking messages, finish the work in hand, flush the outbox, close everything. */
  stop(): Promise<void>;
  /** SIGHUP: reloads the definitions file (engine/runtime/reload.ts). */
  reload(actor: ReloadActor): Promise<ReloadOutcome>;
}

/**
 * The composition root, the only place that wires real adapters: store, NATS link, outbox
 * relay, timer service, engine, HTTP API, streams and consumers. Recovery needs no special
 * step: overdue timers fire on start, unsent outbox rows are published, durable consumers
 * resume where they were acked. `logger` (sagad's pino logger) becomes fastify's own.
 */
export async function startSagad(config: Config, definitions: readonly CompiledSaga[], log: LogFn, signal?: AbortSignal, options: StartOptions = {}): Promise<Sagad> {
  const { logger } = options;
  const onError = (what: string) => (err: unknown) => log('error', what, { error: err instanceof Error ? err.message : String(err) });
  const armed = faultArmed();
  if (armed !== null && 'problem' in armed) throw new Error(armed.problem);
  if (armed !== null) log('warn', 'fault injection armed: this process kills itself at a fault point (a test facility)', { ...armed });
  // One registry per sagad: the store, the engine, the lag monitor and the API record into it.
  const metrics = new Metrics({ defaults: true });
  // The embedded nats-server gone for good: sagad stops too (exit 1), for its supervisor to restart both.
  let natsDied = () => { process.exitCode = 1; };
  // Closed in reverse: the store before the lease is released, the tracer last of all.
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(onError('closing failed'));
  };
  const portTaken = (err: unknown) => new Error(
    `the HTTP API cannot listen on ${config.httpHost}:${config.httpPort}: another process uses that port; stop it, or set SAGA_HTTP_PORT to a free port (0: any free port)`, { cause: err });
  try {
    const https = config.tlsCert === undefined || config.tlsKey === undefined ? undefined : { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) };
    // The port answers health probes from the start: PostgreSQL or NATS may keep sagad waiting.
    const starting = await listenWhileStarting(config.httpHost, config.httpPort, https).catch((err: unknown) => {
      throw (err as { code?: unknown }).code === 'EADDRINUSE' ? portTaken(err) : err;
    });
    closers.push(() => starting.close());
    log('info', 'the HTTP port answers health probes while sagad starts (/healthz 200, /readyz 503)', { host: config.httpHost, port: starting.port });
    const settings = options.tracing === undefined ? tracingSettings(config) : null;
    const tracing = options.tracing ?? (settings === null ? undefined : await loadTracing(settings, log));
    // Shut down last, after the last commits, so their spans are exported.
    if (tracing !== undefined) closers.push(() => tracing.shutdown());
    starting.note(config.natsUrl === undefined ? 'starting the embedded nats-server' : 'connecting to NATS');
    let natsUrl = config.natsUrl;
    if (natsUrl === undefined) {
      const embedded: EmbeddedNats = await startEmbeddedNats(isPostgresUrl(config.dbPath) ? './data' : dirname(config.dbPath), log, () => natsDied());
      closers.push(() => embedded.stop());
      natsUrl = embedded.url;
    }
    const link = await connectNats({
      url: natsUrl, name: 'sagad', log,
      security: {
        credsFile: config.natsCreds, nkeySeedFile: config.natsNkey, user: config.natsUser, password: config.natsPassword, token: config.natsToken,
        tlsCaFile: config.natsTlsCa, tlsCertFile: config.natsTlsCert, tlsKeyFile: config.natsTlsKey,
      },
    });
    closers.push(() => link.drain());
    // A SQLite store is one process's: hold the leases of the consumer prefix and of the file before
    // the file is even opened (a second process must not migrate it under the first) and before consuming anything.
    if (!isPostgresUrl(config.dbPath)) starting.note('taking the SQLite lease (another sagad\'s is waited out if nobody renews it)');
    const lease = isPostgresUrl(config.dbPath) ? null : await acquireLease(link.nc, { prefix: config.natsPrefix, db: config.dbPath, log, signal });
    if (lease !== null) closers.push(() => lease.release());
    starting.note('opening the store');
    const opened = await openStore(config, log, signal, metrics, (why) => starting.note(`waiting for the store: ${why}`));
    closers.push(() => opened.close());
    // PostgreSQL replicas mark their consumer prefix as theirs before consuming: a SQLite sagad,
    // or replicas of another database, on the same prefix would take their replies.
    if (opened.identity !== undefined) {
      starting.note('marking the NATS consumer prefix (a SQLite sagad\'s lease on it is waited out if nobody renews it)');
      const mark = await markPrefixOrWarn(link.nc, { prefix: config.natsPrefix, where: opened.where, database: opened.identity, log, signal });
      if (mark !== null) closers.push(() => mark.release());
    }
    starting.note('setting up streams and consumers');
    // Reads may succeed while every commit fails (a full disk): failed commits count for readiness
    // too, until a write succeeds (an input's, or the health check's own while they fail).
    const health = storeHealth(opened, log);
    closers.push(async () => health.stop());
    const store: StorePort = health.store;
    const timing = timings[store.kind];
    // The JetStream client's own timeout, as js.publish had it.
    const acks = new AckPipeline(link.nc, 5_000);
    closers.push(async () => acks.close());
    const limits = { maxAgeMs: config.streamMaxAgeMs, maxBytes: config.streamMaxBytes };
    /** The streams of these subjects, created with the configured limits (or checked): at start, when one is gone, on a reload. */
    const setUpStreams = (subjects: readonly string[]): Promise<Record<string, string>> => ensureStreams(link.jsm, subjects, config.streams, {
      ...limits, warn: (msg, fields) => log('warn', msg, fields),
    });
    // Set up at start, and again when a consumer or a publish finds a stream gone (stream-keeper.ts).
    const streams: StreamKeeper = new StreamKeeper(async (): Promise<Record<string, string>> => {
      await ensureLifecycleStream(link.jsm, LIFECYCLE_SUBJECT, limits);
      return setUpStreams([...registry.inboundSubjects(), ...registry.outboundSubjects()]);
    }, log, () => engine.draining);
    const relay = new OutboxRelay(store, async (items) => {
      const results = await acks.publishAll(items);
      if (results.some((r) => !r.ok && /no JetStream stream captures/.test(r.error.message))) {
        void streams.lost().catch(onError('could not set the streams up again; will retry'));
      }
      return results;
    }, onError('outbox relay failed; will retry'), {
      orphanAfterMs: timing.orphanAfterMs, idleScanMs: timing.idleScanMs,
      // A message larger than NATS takes is parked, not retried: logged, counted and trimmed as every dead letter is.
      deadLetters: { log, counters: metrics, cap: { maxRows: config.dlqMax, maxBytes: config.dlqMaxBytes } },
    });
    const timers = new TimerService(store, { pollMs: timing.timerPollMs, claimMs: timing.timerClaimMs }, onError('timer service failed'));
    const registry = new Registry(definitions);
    const status = { consumers: false };
    const watched: WatchedConsumer[] = [];
    const lagMonitor = new LagMonitor(watched, { maxMessages: config.lagMax, maxAgeMs: config.lagMaxAgeMs }, jetStreamBacklog(link.jsm), metrics, log);
    const url = natsUrl;
    // Settles once the first consumers run: what consumes later (a reload, a definition pinned
    // for an instance) waits for it, so no subject is consumed twice.
    let consumersStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => { consumersStarted = resolve; });
    // PostgreSQL replicas may run definitions this one has not loaded (a rolling deploy): early
    // events are kept for the waits of the stored definitions too, read in the background.
    const storedWaits = store.kind === 'postgres' ? new StoredWaits({ store, log }) : undefined;
    if (storedWaits !== undefined) closers.push(() => storedWaits.stop());
    const engine = new Engine({
      store, registry, storedWaits, log, relay, timers, metrics, tracing, lateWindowMs: config.lateSuccessWindowMs,
      dlqCap: { maxRows: config.dlqMax, maxBytes: config.dlqMaxBytes },
      // An older definition compiled for an instance after start (a completed child its parent
      // now compensates) may use subjects nothing consumes yet: they are, before it sends anything.
      onPinned: async (saga) => {
        await started;
        await consumers.consume(inboundSubjectsOf([saga]), outboundSubjectsOf([saga]));
      },
      republish: async (subject, data, headers, msgId) => {
        await publishEnvelope(link.js, subject, data, headers, msgId);
      },
      readiness: () => {
        const checks = {
          store: health.ok() ? { ok: true } : { ok: false, detail: health.detail() },
          nats: link.isConnected() ? { ok: true } : { ok: false, detail: `not connected to ${shownUrl(url)}` },
          streams: streams.isReady() ? { ok: true } : { ok: false, detail: 'streams not set up yet' },
          ...(lease === null ? {} : { lease: lease.isHeld() ? { ok: true } : { ok: false, detail: 'the SQLite lease is in doubt (not renewed in time, or the NATS connection dropped): consuming waits until a renewal confirms it' } }),
          consumers: status.consumers ? { ok: true } : { ok: false, detail: 'consumers not started yet' },
        };
        // Lag is reported, never a reason to restart: it does not count for readiness.
        return { ready: Object.values(checks).every((c) => c.ok), checks: { ...checks, lag: lagMonitor.check() } };
      },
      lag: () => lagMonitor.total(),
      earlyEventTtlMs: earlyEventTtlMs(config),
    });
    await engine.rememberDefinitions();
    await engine.pinDefinitionsInUse();
    // Before consuming: the waits of what the other replicas stored so far, then every second.
    await storedWaits?.start();

    // A SQLite sagad handles a message only while its lease is not in doubt: one it could not
    // renew waits (the consumer keeps the message in progress) until it is renewed; lost, or on
    // a drain, the message goes back to JetStream (inbound.ts `admit`).
    let draining: () => void = () => undefined;
    const drainStarted = new Promise<boolean>((resolve) => { draining = () => resolve(false); });
    // One wait per spell of doubt, shared by the messages that arrive in it: a race per message
    // would leave one reaction on drainStarted (pending until the drain) for each of them.
    let inDoubt: Promise<boolean> | null = null;
    const admit = (held: Lease) => async () => held.isHeld()
      || (inDoubt ??= Promise.race([held.held(), drainStarted]).finally(() => { inDoubt = null; }));
    const handle = inboundHandler(engine, store, log, {
      limits: { maxBytes: config.maxMessageBytes, maxDepth: config.maxJsonDepth }, dlqCap: { maxRows: config.dlqMax, maxBytes: config.dlqMaxBytes },
      ...(lease === null ? {} : { admit: admit(lease) }),
    });
    const consumers = new Consumers({
      link, handle, config, ackWaitMs: timing.ackWaitMs, streams, setUpStreams, watched, draining: () => engine.draining, log,
    });
    const reloader = new Reloader({
      path: config.definitionsPath, registry, log,
      remember: (saga) => store.rememberDefinition(saga.hash, saga.name, saga.source),
      // A reload during start-up waits for the first consumers, so no subject is consumed twice.
      consume: async (inbound, outbound, after) => started.then(() => consumers.consume(inbound, outbound, undefined, after)),
    });

    const namedTokens = parseNamedTokens(config.apiTokens);
    const api = buildApi(engine, {
      token: config.apiToken, readToken: config.apiReadToken, https, metricsPublic: config.metricsPublic, bodyLimit: config.httpBodyLimit, log,
      ...(logger === undefined ? {} : { loggerInstance: logger }), onAnswered: (method, route, code, s) => metrics.httpRequest(method, route, code, s),
      rebuilder: engine,
      maxJsonDepth: config.maxJsonDepth, namedTokens, loopbackListener: isLoopback(config.httpHost),
    });
    registerReloadRoutes(api, (actor) => reloader.reload(actor), () => registry.all(), callerName({ admin: config.apiToken, read: config.apiReadToken, named: namedTokens }));
    // The port the starting answers held (the one chosen, when 0 asked for any), handed over once
    // the API's plugins are loaded, so that it is not left unanswered meanwhile.
    await api.ready();
    await starting.close();
    await api.listen({ host: config.httpHost, port: starting.port }).catch((err: unknown) => {
      throw (err as { code?: unknown }).code === 'EADDRINUSE' ? portTaken(err) : err;
    });
    closers.push(() => api.close());
    const address = api.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.httpPort;
    const httpUrl = `${https === undefined ? 'http' : 'https'}://${config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost}:${port}`;
    log('info', 'HTTP API listening', { url: httpUrl });

    const inbound = registry.inboundSubjects();
    const streamOf = await streams.start();
    relay.start();
    timers.start((row) => engine.fire(row));
    await consumers.consume(inbound, [], streamOf);
    consumersStarted();
    const starts: CoreSubscription = serveStartRequests(link.nc, engine, log, undefined, { maxBytes: config.maxMessageBytes, maxDepth: config.maxJsonDepth });
    status.consumers = true;
    log('info', 'sagad ready', { sagas: registry.all().map((s) => s.name), subjects: inbound, db: store.where });
    // At once (a backlog left from before a restart shows from the start), then every 5 s.
    void lagMonitor.sample();
    const lagTimer = setInterval(() => void lagMonitor.sample(), 5000);
    lagTimer.unref();
    // Early events whose delivery was lost (a crash, a race with the wait's start) and expired ones.
    const earlySweep = setInterval(() => {
      void engine.settleEarlyEvents(Date.now()).catch(onError('settling early events failed; will retry'));
    }, EARLY_SWEEP_MS);
    earlySweep.unref();
    // The inbox only has to outlive JetStream's redeliveries; sent outbox rows only JetStream's dedupe window.
    const housekeeping = setInterval(() => {
      const now = Date.now();
      void Promise.all([store.pruneInbox(now - INBOX_RETENTION_MS), store.pruneSent(now - SENT_RETENTION_MS)]).then(([a, b]) => {
        if (a + b > 0) log('debug', 'pruned inbox and sent outbox rows', { rows: a + b });
      }, onError('pruning failed'));
    }, 3_600_000);
    housekeeping.unref();
    const retention = startRetention(config, store, log);

    let stopping: Promise<void> | null = null;
    // Each part of the drain goes on after a part that failed (the store or NATS down): work in
    // hand stays in the store for the next start, and the process must still close and exit.
    const drainStep = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        process.exitCode = 1;
        log('error', `draining: ${what} failed; the shutdown goes on`, { error: err instanceof Error ? err.message : String(err) });
      }
    };
    const stop = () => (stopping ??= (async () => {
        log('info', 'draining: no new messages, finishing the work in hand');
        engine.draining = true;
        draining();
        clearInterval(lagTimer);
        clearInterval(housekeeping);
        clearInterval(earlySweep);
        await drainStep('stopping retention', () => retention.stop());
        starts.unsubscribe();
        await drainStep('stopping the consumers', () => consumers.stopAll());
        await drainStep('stopping the timers', () => timers.stop());
        // API acts and timer inputs may still be on their way to the last shared commit.
        await drainStep('settling the inputs in hand', () => engine.settled());
        await drainStep('flushing the outbox', () => relay.stop(5000));
        await closeAll();
        log('info', 'stopped');
      })());
    natsDied = () => {
      log('error', 'the embedded nats-server is gone; stopping, so that a supervisor restarts sagad and it with it');
      process.exitCode = 1;
      void stop();
    };
    void lease?.lost.then((why) => {
      log('error', `${why}; stopping, since two processes must not consume for one SQLite store`);
      process.exitCode = 1;
      void stop();
    });
    return { engine, store, httpUrl, stop, reload: (actor) => reloader.reload(actor) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** sagad's entry point: configuration from the environment, definitions, then the server until a signal. */
async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`sagad: the saga orchestration server.\n\nUsage: npm start  (or: node dist/engine/main.js)\n\nSignals: SIGTERM (or SIGINT) drains and stops; SIGHUP reloads the definitions file (docs/reload.md).\n\nConfiguration, by environment variable:\n${configHelp()}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`sagad: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  applyHeapGrowth(config.heapGrowthPercent);
  const logger = createPinoLogger(config.logLevel);
  const log = logFnOf(logger);
  // Listen for signals from the start: one during start-up drains as soon as the server is up.
  let signalled: string | null = null;
  let onSignal = (signal: string) => { signalled = signal; };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  // SIGHUP reloads the definitions; one during start-up is done once the server is up (the file may have changed after it was read).
  let hupPending = false;
  let onHup = () => { hupPending = true; };
  process.on('SIGHUP', () => onHup());
  setExpressionLimits({ timeoutMs: config.exprTimeoutMs });
  if (!existsSync(config.definitionsPath)) {
    process.stderr.write(`sagad: refusing to start: cannot read the definitions file ${config.definitionsPath}: there is no such file; write your sagas in a saga-definitions.yaml and point SAGA_DEFINITIONS at it (in a container, mount it: -v "$PWD/saga-definitions.yaml:/etc/sagad/saga-definitions.yaml:ro" -e SAGA_DEFINITIONS=/etc/sagad/saga-definitions.yaml)\n`);
    return 1;
  }
  const aborted = new AbortController();
  onSignal = (signal: string) => {
    signalled = signal;
    aborted.abort();
  };
  const defs = loadDefinitionsFile(config.definitionsPath);
  if (!defs.ok) {
    for (const e of defs.errors) process.stderr.write(`${formatDefinitionError(e)}\n`);
    process.stderr.write(`sagad: refusing to start: ${defs.errors.length} problem${defs.errors.length === 1 ? '' : 's'} in ${config.definitionsPath} (check with: npx sagactl validate ${config.definitionsPath})\n`);
    return 1;
  }
  let server: Sagad;
  try {
    server = await startSagad(config, defs.sagas, log, aborted.signal, { logger });
  } catch (err) {
    // Only the waits for PostgreSQL and for a lease another process left are cut short by a signal; any other failure is one, signal or not.
    if (aborted.signal.aborted && err instanceof Error && err.name === 'AbortError') {
      log('info', `received ${String(signalled)} while starting; stopped`);
      return 0;
    }
    log('error', `sagad could not start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const running = server;
  onHup = () => {
    log('info', 'received SIGHUP: reloading the definitions');
    running.reload({ via: 'SIGHUP' }).catch((err: unknown) => log('error', 'definitions reload failed; the loaded definitions stay', { error: err instanceof Error ? err.message : String(err) }));
  };
  if (hupPending) onHup();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log('info', `received ${signal}`);
      void server.stop().finally(resolve);
    };
    if (signalled !== null) stop(signalled);
    else onSignal = stop;
  });
  // 1 when a step of the drain failed, or the lease or the embedded nats-server was lost first.
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
  // Everything sagad opened is closed by now, and the process ends once the event loop is
  // empty. A handle a library leaves open must not keep it alive: the PostgreSQL driver keeps
  // its socket after refusing to answer a server's password request, and sagad, having said
  // why it could not start, would hang instead of exiting 1.
  setTimeout(() => process.exit(), 2_000).unref();
}
