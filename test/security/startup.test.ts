import { join } from 'node:path';
import t from 'tap';
import { SagadExitedError, startSagad } from '../helpers/sagad.js';
import { ORDER_DEFS } from '../e2e/harness.js';

/** Settings checked before sagad connects anywhere: nothing listens at this NATS URL. */
const NO_NATS = 'nats://127.0.0.1:1';

async function refusal(dir: string, env: Record<string, string>, definitions = ORDER_DEFS): Promise<SagadExitedError> {
  try {
    const sagad = await startSagad({ natsUrl: NO_NATS, dbFile: join(dir, 'sagad.db'), definitions, env, readyTimeoutMs: 15_000 });
    await sagad.kill9();
  } catch (err) {
    if (err instanceof SagadExitedError) return err;
    throw err;
  }
  throw new Error('sagad started');
}

t.test('listening on all interfaces without a token: refused with one sentence, exit 1', async (t) => {
  const err = await refusal(t.testdir(), { SAGA_HTTP_HOST: '0.0.0.0' });
  t.equal(err.code, 1);
  t.match(err.stderr.join('\n'), 'SAGA_HTTP_HOST=0.0.0.0 is reachable from other machines but SAGA_API_TOKEN is unset');
});

t.test('no definitions file: refused, saying how to mount one', async (t) => {
  const dir = t.testdir();
  const err = await refusal(dir, {}, join(dir, 'saga-definitions.yaml'));
  t.equal(err.code, 1);
  const stderr = err.stderr.join('\n');
  t.match(stderr, `cannot read the definitions file ${join(dir, 'saga-definitions.yaml')}: there is no such file`);
  t.match(stderr, 'point SAGA_DEFINITIONS at it');
  t.match(stderr, /-v "\$PWD\/saga-definitions\.yaml:\/etc\/sagad\/saga-definitions\.yaml:ro"/);
});
