import t from 'tap';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { createUuidv7, uuidv7 } from '../../engine/ids.js';
import type { Envelope } from '../../engine/transport/envelope.js';

const good: Envelope = {
  eventId: '0192f7e0-0000-7000-8000-000000000001', eventType: 'ReserveInventory', aggregateId: 'order-42',
  timestamp: '2026-11-26T12:00:00.000Z', version: 1, correlationId: 'c-123',
  causationId: '0192f7df-0000-7000-8000-000000000000', payload: { orderId: 'order-42' },
};
const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

t.test('a good envelope round-trips', async (t) => {
  t.same(parseEnvelope(encodeEnvelope(good)), { ok: true, envelope: good });
});

t.test('defaults: version 1, causationId null', async (t) => {
  const { version: _v, causationId: _c, ...rest } = good;
  const r = parseEnvelope(bytes(rest));
  t.ok(r.ok);
  if (r.ok) t.same([r.envelope.version, r.envelope.causationId], [1, null]);
});

t.test('missing fields are all named', async (t) => {
  const r = parseEnvelope(bytes({ eventType: 'X', version: 1 }));
  t.notOk(r.ok);
  if (!r.ok) {
    for (const f of ['eventId', 'aggregateId', 'timestamp', 'correlationId', 'payload']) t.match(r.reason, `${f} is missing`);
  }
});

t.test('not JSON, not an object, not UTF-8', async (t) => {
  for (const input of [new TextEncoder().encode('{"eventId":'), bytes([1, 2]), bytes('text'), new Uint8Array([0xff, 0xfe])]) {
    const r = parseEnvelope(input);
    t.notOk(r.ok);
    if (!r.ok) t.match(r.reason, /^not a JSON envelope/);
  }
});

t.test('a key __proto__, or constructor holding prototype, anywhere and however spelt, is refused as the HTTP API refuses it', async (t) => {
  const text = JSON.stringify(good);
  const reason = 'not an envelope sagad takes: it has a key __proto__, or a constructor key holding prototype, which sagad refuses: copied into an object such a key sets its prototype';
  for (const payload of ['{"m":{"__proto__":{"admin":true}}}', '{"\\u005f_proto__":1}', '{"a":[{"constructor":{"prototype":{"x":1}}}]}']) {
    t.same(parseEnvelope(new TextEncoder().encode(text.replace('{"orderId":"order-42"}', payload))), { ok: false, reason }, payload);
  }
  const fine = { ...good, payload: { constructor: 'Acme Ltd', proto: 1, note: '__proto__ in a string' } };
  t.same(parseEnvelope(encodeEnvelope(fine)), { ok: true, envelope: fine }, 'a constructor key without prototype, and the word in a value, are data');
});

t.test('wrong types are explained', async (t) => {
  const cases: [Partial<Record<keyof Envelope, unknown>>, RegExp][] = [
    [{ eventId: 42 }, /eventId must be a non-empty string, got number 42/],
    [{ eventType: '' }, /eventType must be a non-empty string/],
    [{ timestamp: 'yesterday' }, /timestamp is not an ISO time/],
    [{ version: '1' }, /version must be a positive integer, got the string "1"/],
    [{ version: 1.5 }, /version must be a positive integer/],
    [{ payload: [1] }, /payload must be an object, got an array/],
    [{ payload: null }, /payload must be an object, got null/],
    [{ causationId: 7 }, /causationId must be a non-empty string/],
  ];
  for (const [patch, reason] of cases) {
    const r = parseEnvelope(bytes({ ...good, ...patch }));
    t.notOk(r.ok, JSON.stringify(patch));
    if (!r.ok) t.match(r.reason, reason);
  }
});

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

t.test('uuidv7 layout: timestamp, version and variant', async (t) => {
  const now = Date.UTC(2026, 10, 26, 12);
  const id = createUuidv7()(now);
  t.match(id, UUIDV7);
  t.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), now, '48-bit ms timestamp');
  const zeros = createUuidv7()(0, (n) => new Uint8Array(n));
  t.equal(zeros, '00000000-0000-7000-8000-000000000000');
  const ones = createUuidv7()(2 ** 48 - 1, (n) => new Uint8Array(n).fill(0xff));
  t.equal(ones, 'ffffffff-ffff-77ff-bfff-ffffffffffff');
  // Every byte distinct, so that each lands where it belongs (the values of the earlier, buffer-based build).
  const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => 0xa1 + i * 7);
  t.equal(createUuidv7()(Date.UTC(2026, 10, 28, 1, 2, 3, 456), bytes), '01a21fac-6cc0-71a8-afb6-bdc4cbd2d9e0');
  const gen = createUuidv7();
  gen(5000, bytes);
  t.equal(gen(5000, bytes), '00000000-1388-71a9-afb6-bdc4cbd2d9e0', 'the counter goes on within a millisecond');
  t.throws(() => uuidv7(-1), RangeError);
});

t.test('uuidv7 ids strictly increase, within one ms and when the clock steps back', async (t) => {
  const gen = createUuidv7();
  const ids = [gen(1000), ...Array.from({ length: 5000 }, () => gen(1000)), gen(999), gen(1001), ...Array.from({ length: 1000 }, () => gen())];
  for (const id of ids) if (!UUIDV7.test(id)) t.fail(`bad format ${id}`);
  const sorted = [...ids].sort();
  t.same(ids, sorted, 'generation order equals sort order');
  t.equal(new Set(ids).size, ids.length, 'all distinct');
});

t.test('a refusal reason is well-formed text even where JSON.parse cut a character in half (found by fuzzing)', async (t) => {
  // A key left unclosed before four-byte characters: V8's message quotes the text around the
  // error and may end inside a surrogate pair; stored in SQLite (UTF-8) the reason would change.
  const text = '{"eventId":"a","timestampY:"\u{10000}\u{10000}\u{10000}\u{10000}\u{10000}\u{10000}\u{10000}","version":1}';
  const r = parseEnvelope(new TextEncoder().encode(text));
  t.equal(r.ok, false);
  if (r.ok) return;
  t.match(r.reason, /^not a JSON envelope: /);
  t.notMatch(r.reason, /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/, 'no lone surrogate');
  t.equal(new TextDecoder().decode(new TextEncoder().encode(r.reason)), r.reason, 'survives a round trip through UTF-8');
});
