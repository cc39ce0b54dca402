import { join } from 'node:path';
import type { Test } from 'tap';
import { loadConfig, type Config } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad, type Sagad } from '../../engine/main.js';
import { writeDefinitions } from '../reload/defs.js';
import { startNatsServer, type NatsServer } from './nats-server.js';

/** A test's nats-server and the configuration of a sagad on it; `start` runs the composition root in the test process. */
export interface InProcessWorld {
  readonly dir: string;
  readonly nats: NatsServer;
  /** The definitions file: rewrite it (writeDefinitions) before a reload. */
  readonly file: string;
  readonly config: Config;
  /** Starts sagad (`startSagad`, what main.ts runs) on the file as it is now; stopped at the test's end. */
  start(): Promise<Sagad>;
}

/**
 * A nats-server, a definitions file of `sagas` (fragments of `sagaYaml`) and a fresh SQLite
 * file in the test's directory, with `env` over the configuration (the HTTP port is any free one).
 */
export async function inProcessWorld(t: Test, sagas: readonly string[], env: Record<string, string> = {}): Promise<InProcessWorld> {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const file = writeDefinitions(dir, 'sagas.yaml', sagas);
  const config = loadConfig({ SAGA_DEFINITIONS: file, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_PORT: '0', ...env });
  return {
    dir, nats, file, config,
    async start() {
      const defs = loadDefinitionsFile(file);
      if (!defs.ok) throw new Error(`the test's definitions are invalid: ${JSON.stringify(defs.errors)}`);
      const server = await startSagad(config, defs.sagas, silentLog);
      t.teardown(() => server.stop());
      return server;
    },
  };
}
