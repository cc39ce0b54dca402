import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { fixtureVariant, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { publish, sound } from './kinds.js';

/**
 * A dead letter redriven after its cause was fixed, end to end: a producer starts sending
 * OrderPlaced with the total as a decimal string; the trigger fails its schema and is parked.
 * The team widens the schema and restarts sagad; `POST /v1/dlq/{id}/redrive` publishes the
 * parked bytes again, and the saga they start runs to completion.
 */
let schemaFile = '';
const w = await startWorld(t, {
  definitions: (dir) => {
    const file = fixtureVariant(dir, 'order.yaml', []);
    schemaFile = join(dir, 'schemas', 'order-placed.v1.json');
    return file;
  },
});

interface Letter { id: string; subject: string; reason: string; preview: string | null; redrivenAt: string | null }

t.test('a trigger parked for its schema, redriven once the schema accepts it, starts a saga that completes', async (t) => {
  const orderId = 'o-redrive';
  const placed = await publish(w, 'orders.events', 'OrderPlaced', orderId, { ...order(orderId), total: '42.00' });
  const letter = await waitFor(async () => (await w.api.req<{ items: Letter[] }>('GET', '/v1/dlq')).body.items.find((l) => l.preview?.includes(placed.eventId)),
    15_000, { what: 'the trigger to be dead-lettered' });
  t.match(letter, { subject: 'orders.events', reason: /OrderPlaced@1 schema/, redrivenAt: null }, 'parked with its reason');
  t.same(await w.api.list({ key: orderId }), [], 'no saga was started by it');

  // The fix: totals may come as decimal strings. A new definition, loaded by a restart.
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as { properties: Record<string, unknown> };
  schema.properties.total = { anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?$' }] };
  writeFileSync(schemaFile, JSON.stringify(schema, null, 2));
  t.equal(await w.sagad.stop(), 0, 'stopped cleanly');
  await w.restartSagad();

  const redrive = await w.api.req<Letter>('POST', `/v1/dlq/${letter.id}/redrive`);
  t.equal(redrive.status, 200, 'redrive accepted', w.diag({ body: redrive.body }));
  t.ok(redrive.body.redrivenAt, 'the letter is marked redriven');
  const started = await waitFor(async () => (await w.api.list({ key: orderId }))[0], 15_000, { what: 'the redriven trigger to start a saga' });
  const doc = await w.api.settled(started.id);
  t.equal(doc.state, 'completed', 'the saga completes', w.diag());
  t.equal(doc.correlationId, placed.correlationId, 'started by the parked event itself');
  t.same(realEffects(w.ledger(), doc.id), [['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'done']]);
  sound(t, w, sagaViolations(doc, await w.api.history(doc.id), w.ledger()));
  const letters = (await w.api.req<{ items: Letter[] }>('GET', '/v1/dlq')).body.items;
  t.same(letters.map((l) => [l.id, l.redrivenAt !== null]), [[letter.id, true]], 'nothing was parked again');
  t.equal(await w.api.metric('sagad_dead_letters'), 0, 'no dead letter is left to redrive');
});
