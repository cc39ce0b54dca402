import { createHash } from 'node:crypto';
import t from 'tap';
import { traceparent } from '../../engine/runtime/outgoing.js';
import { pooledRandomBytes } from '../../engine/ids.js';

t.test('traceparent: one trace per instance (its id hashed), a fresh span per message', async (t) => {
  const shape = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
  const spans = new Set<string>();
  for (const id of ['i-1', 'i-2', 'i-1', 'i-2', 'i-1']) {
    const m = shape.exec(traceparent(id));
    if (m === null) throw new Error('not a traceparent');
    t.equal(m[1], createHash('sha256').update(id).digest('hex').slice(0, 32), `the trace of ${id} is its hashed id`);
    spans.add(m[2] ?? '');
  }
  t.equal(spans.size, 5, 'every message has a span of its own');
});

t.test('pooled random bytes: the size asked for, never the same bytes twice, across refills', async (t) => {
  const kept: Uint8Array[] = [];
  const atDraw: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const b = pooledRandomBytes(10);
    t.equal(b.length, 10);
    kept.push(b);
    atDraw.push(Buffer.from(b).toString('hex'));
  }
  t.equal(new Set(atDraw).size, 3000, '3000 draws of 10 bytes (several pools) are all different');
  t.same(kept.map((b) => Buffer.from(b).toString('hex')), atDraw, 'a view handed out earlier is not overwritten by a refill');
  t.throws(() => pooledRandomBytes(8193), RangeError);
});
