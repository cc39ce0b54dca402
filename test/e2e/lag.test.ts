import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { uuidv7 } from '../../engine/ids.js';
import { connectNats } from '../../engine/transport/connection.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad, waitFor, type Sagad } from '../helpers/sagad.js';
import { parseExposition, valueOf } from '../helpers/exposition.js';

/**
 * SAGA_LAG_MAX with a real sagad and nats-server: a burst of trigger events is published while
 * sagad is stopped, so it starts 1,500 messages behind. It warns once, sets the gauge and gives
 * the reason in /readyz (which stays 200: lag is no reason to restart a sidecar), works the
 * backlog off, and says once that it caught up.
 */
const BURST = 1500;
const LIMIT = 200;
const CONSUMER = 'sagad-lagtest_events';
const DEFS = `version: 1
sagas:
  - name: lag-probe
    description: Started by each Ping; its one command has no participant.
    start:
      on: { subject: lagtest.events, type: Ping }
    steps:
      - name: notify
        pivot: true
        command: { subject: lagtest.commands, type: Notify, payload: { n: "{% $input.n %}" } }
        reply: { subject: lagtest.replies, success: [Notified] }
        timeout: 1h
        retry: { maxAttempts: unlimited }
`;

const dir = t.testdir();
const definitions = join(dir, 'lag.yaml');
writeFileSync(definitions, DEFS);
const nats = await startNatsServer();
let sagad: Sagad | undefined;
t.teardown(async () => {
  await sagad?.kill9();
  await nats.stop();
});
const launch = () => startSagad({ natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), definitions, env: { SAGA_LAG_MAX: String(LIMIT), SAGA_LAG_MAX_AGE: '1h' } });

interface ReadyDoc { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }
const ready = async (s: Sagad) => {
  const r = await fetch(`${s.url}/readyz`);
  return { status: r.status, body: (await r.json()) as ReadyDoc };
};
const lines = (s: Sagad, msg: string) => s.logs().filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('a backlog past SAGA_LAG_MAX: one warning, the gauge, the reason in /readyz, sagad ready, one line when caught up', async (t) => {
  // The first run creates the stream and the durable consumer; nothing is waiting.
  const first = await launch();
  sagad = first;
  const idle = await ready(first);
  t.same(idle.body.checks.lag, { ok: true }, 'not lagging with nothing to do');
  t.equal(await first.stop(), 0);

  const link = await connectNats({ url: nats.url, name: 'lag-burst' });
  const before = Date.now();
  for (let i = 0; i < BURST; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, BURST - i) }, (_, j) => {
      const e = { eventId: uuidv7(), eventType: 'Ping', aggregateId: `p-${i + j}`, timestamp: new Date().toISOString(), version: 1, correlationId: `c-${i + j}`, causationId: null, payload: { n: i + j } };
      return publishEnvelope(link.js, 'lagtest.events', encodeEnvelope(e), {}, e.eventId);
    }));
  }
  await link.close();

  const s = await launch();
  sagad = s;
  const statuses: number[] = [];
  const lagging = await waitFor(async () => {
    const r = await ready(s);
    statuses.push(r.status);
    return r.body.checks.lag?.ok === false ? r.body : undefined;
  }, 20_000, { what: 'the lag reason in /readyz' });
  t.equal(lagging.ready, true, 'still ready while lagging');
  t.match(lagging.checks.lag?.detail, new RegExp(`${CONSUMER}: \\d+ messages not yet processed, more than SAGA_LAG_MAX=${LIMIT}`));
  const scrape = parseExposition(await (await fetch(`${s.url}/metrics`)).text());
  t.equal(valueOf(scrape, 'sagad_consumer_lagging', { consumer: CONSUMER }), 1, 'the gauge says it lags');
  t.ok((valueOf(scrape, 'sagad_consumer_pending', { consumer: CONSUMER }) ?? 0) + (valueOf(scrape, 'sagad_consumer_ack_pending', { consumer: CONSUMER }) ?? 0) > LIMIT,
    'pending and ack-pending are past the limit');

  const warned = lines(s, 'consumer lagging');
  t.equal(warned.length, 1, 'one warning');
  t.match(warned[0], { level: 'warn', consumer: CONSUMER, subject: 'lagtest.events' });
  t.ok((warned[0]?.pending as number) + (warned[0]?.ackPending as number) > LIMIT, 'the line gives the backlog');
  const age = warned[0]?.oldestAgeSeconds as number;
  t.ok(age > 0 && age <= (Date.now() - before) / 1000 + 1, `the oldest message's age, from the burst (${age} s)`);

  const caughtUp = await waitFor(() => lines(s, 'consumer caught up')[0], 60_000, { what: 'sagad to work the backlog off' });
  t.match(caughtUp, { level: 'info', consumer: CONSUMER });
  t.equal(lines(s, 'consumer lagging').length, 1, 'still one warning: once per crossing');
  const after = await ready(s);
  t.same(after.body.checks.lag, { ok: true }, 'the reason is gone');
  t.equal(after.status, 200);
  t.same([...new Set(statuses)], [200], '/readyz answered 200 throughout');
  const done = parseExposition(await (await fetch(`${s.url}/metrics`)).text());
  t.equal(valueOf(done, 'sagad_consumer_lagging', { consumer: CONSUMER }), 0);
  t.equal(valueOf(done, 'sagad_instances', { saga: 'lag-probe', state: 'running' }), BURST, 'every Ping started its saga');
});
