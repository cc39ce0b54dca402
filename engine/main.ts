import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { configHelp, loadConfig, type Config } from './config.js';
import { setExpressionLimits } from './definitions/expression-limits.js';
import { formatDefinitionError, loadDefinitionsFile } from './definitions/index.js';
import { createLogger } from './log.js';
import { startServer } from './runtime/server.js';
import { startEmbeddedNats, type EmbeddedNats } from './transport/embedded.js';

/**
 * sagad's entry point, the only place that wires real adapters: configuration from the
 * environment, definitions, the embedded nats-server when NATS_URL is unset, and the server.
 */
async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`sagad: the saga orchestration server.\n\nUsage: npm start  (or: node dist/engine/main.js)\n\nConfiguration, by environment variable:\n${configHelp()}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`sagad: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const log = createLogger(config.logLevel);
  // Listen for signals from the start: one during start-up drains as soon as the server is up.
  let signalled: string | null = null;
  let onSignal = (signal: string) => { signalled = signal; };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  setExpressionLimits({ timeoutMs: config.exprTimeoutMs });
  if (!existsSync(config.definitionsPath)) {
    process.stderr.write(`sagad: refusing to start: cannot read the definitions file ${config.definitionsPath}: there is no such file; write your sagas in a saga-definitions.yaml and point SAGA_DEFINITIONS at it (in a container, mount it: -v "$PWD/saga-definitions.yaml:/etc/sagad/saga-definitions.yaml:ro" -e SAGA_DEFINITIONS=/etc/sagad/saga-definitions.yaml)\n`);
    return 1;
  }
  const defs = loadDefinitionsFile(config.definitionsPath);
  if (!defs.ok) {
    for (const e of defs.errors) process.stderr.write(`${formatDefinitionError(e)}\n`);
    process.stderr.write(`sagad: refusing to start: ${defs.errors.length} problem${defs.errors.length === 1 ? '' : 's'} in ${config.definitionsPath} (check with: npx sagactl validate ${config.definitionsPath})\n`);
    return 1;
  }
  let embedded: EmbeddedNats | null = null;
  try {
    let natsUrl = config.natsUrl;
    if (natsUrl === undefined) {
      embedded = await startEmbeddedNats(dirname(config.dbPath), log);
      natsUrl = embedded.url;
    }
    const server = await startServer({
      definitions: defs.sagas, dbFile: config.dbPath, synchronous: config.synchronous, snapshotEvery: config.snapshotEvery,
      natsUrl, streams: config.streams, httpHost: config.httpHost, httpPort: config.httpPort, apiToken: config.apiToken,
      maxDeliver: config.maxDeliver, durablePrefix: config.natsPrefix, log,
      apiReadToken: config.apiReadToken, metricsPublic: config.metricsPublic, httpBodyLimit: config.httpBodyLimit,
      https: config.tlsCert === undefined || config.tlsKey === undefined ? undefined : { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) },
      natsSecurity: {
        credsFile: config.natsCreds, nkeySeedFile: config.natsNkey, user: config.natsUser, password: config.natsPassword, token: config.natsToken,
        tlsCaFile: config.natsTlsCa, tlsCertFile: config.natsTlsCert, tlsKeyFile: config.natsTlsKey,
      },
    });
    const emb = embedded;
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log('info', `received ${signal}`);
        void server.stop().then(() => emb?.stop()).finally(resolve);
      };
      if (signalled !== null) stop(signalled);
      else onSignal = stop;
    });
    return 0;
  } catch (err) {
    log('error', `sagad could not start: ${err instanceof Error ? err.message : String(err)}`);
    await embedded?.stop();
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
