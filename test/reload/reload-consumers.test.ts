/**
 * The consumers a reload starts: they hand nothing over before the reloaded definitions are
 * current, so that triggers of a new saga that waited in its stream start it; and when one
 * cannot start, the reload fails, those it started stop, and the next reload starts them all.
 */
import t, { type Test } from 'tap';
import { connectNats, type NatsLink } from '../../engine/transport/connection.js';
import { durableNameFor } from '../../engine/transport/consumer.js';
import { inProcessWorld } from '../helpers/in-process-sagad.js';
import { until } from '../helpers/until.js';
import { publishBegin } from '../tracing/world.js';
import { sagaYaml, writeDefinitions } from './defs.js';

async function world(t: Test) {
  const { dir, nats, config, start } = await inProcessWorld(t, [sagaYaml('alpha', 'al', ['a1'])]);
  const link: NatsLink = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  const server = await start();
  const get = async (path: string) => (await (await fetch(`${server.httpUrl}${path}`)).json()) as { items: { saga: string; key: string | null }[] };
  const reload = async () => {
    const res = await fetch(`${server.httpUrl}/v1/definitions/reload`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as { subjects?: string[]; code?: string } };
  };
  return { dir, config, link, get, reload, url: server.httpUrl };
}

t.test('triggers of a new saga that waited in its stream before the reload start it, none acked as unrelated', async (t) => {
  const w = await world(t);
  await w.link.jsm.streams.add({ name: 'NW', subjects: ['nw.>'] });
  for (const order of ['o-1', 'o-2', 'o-3', 'o-4', 'o-5']) await publishBegin(w.link, order, {}, 'nw');
  writeDefinitions(w.dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1']), sagaYaml('newbie', 'nw', ['n1'])]);
  const r = await w.reload();
  t.equal(r.status, 200);
  const started = async () => (await w.get('/v1/instances?saga=newbie')).items.map((i) => i.key).sort();
  await until(async () => (await started()).length === 5, 'the five waiting triggers to start newbie', { withinMs: 15_000, everyMs: 50 });
  t.same(await started(), ['o-1', 'o-2', 'o-3', 'o-4', 'o-5'], 'one instance per trigger that waited');
});

t.test('a consumer that cannot start fails the reload; those it started stop, and the next reload starts them all', async (t) => {
  const w = await world(t);
  // A durable of the name sagad would give the replies' consumer, on another filter: ensureConsumer refuses it.
  await w.link.jsm.streams.add({ name: 'XS', subjects: ['xs.>'] });
  const taken = durableNameFor(w.config.natsPrefix, 'xs.replies');
  await w.link.jsm.consumers.add('XS', { durable_name: taken, filter_subject: 'xs.other', ack_policy: 'explicit' as never });
  writeDefinitions(w.dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1']), sagaYaml('xsaga', 'xs', ['x1'])]);
  const failed = await w.reload();
  t.equal(failed.status, 500, 'the reload fails');
  t.equal(failed.body.code, 'SAGA_ERR_CONSUMER_SETUP');
  t.equal((await fetch(`${w.url}/v1/definitions/xsaga`)).status, 404, 'the old definitions stay current');
  // As the error tells the operator: the consumer in the way is removed, and the reload asked again.
  await w.link.jsm.consumers.delete('XS', taken);
  const again = await w.reload();
  t.equal(again.status, 200);
  t.same(again.body.subjects, ['xs.events', 'xs.replies'], 'both subjects are consumed now, also the one whose consumer had started');
  await publishBegin(w.link, 'x-1', {}, 'xs');
  await until(async () => (await w.get('/v1/instances?saga=xsaga')).items.length === 1, 'the trigger on xs.events to start xsaga', { withinMs: 15_000, everyMs: 50 });
  t.pass('xs.events is consumed');
});
