import t from 'tap';
import { deadLetterDocument } from '../../engine/api/dead-letter-view.js';
import { definitionSummary } from '../../engine/api/definition-view.js';
import { ApiError, describeError, statusOfCode } from '../../engine/api/errors.js';
import { parseSince } from '../../engine/api/routes-instances.js';
import { historyEntry, instanceDocument, instanceSummary, isoTime } from '../../engine/api/views.js';
import { decide, isRejection, start, type CompiledSaga, type Env, type InstanceState } from '../../engine/core/index.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { SagaError } from '../../engine/errors.js';
import { StoreError, StoreErrorCode } from '../../engine/store/index.js';

const loaded = loadDefinitionsFile('sagas/order-fulfillment.yaml');
if (!loaded.ok) throw new Error(loaded.errors.map(formatDefinitionError).join('\n'));
const def = loaded.sagas[0] as CompiledSaga;
let n = 0;
const env = (now: number): Env => ({ now, newId: () => `m${++n}`, random: () => 0.5 });
const input = { orderId: 'o-1', customerId: 'c', items: [{ sku: 's', quantity: 1 }], total: 1 };

function cancelled(): InstanceState {
  const s = start(def, { id: 'i-1', input, key: 'o-1', correlationId: 'c-1', event: null, causationId: 'req' }, env(1000)).state;
  const d = decide(def, s, { type: 'CancelRequested', reason: 'because' }, env(2000));
  if (isRejection(d)) throw new Error(d.rejected.message);
  return d.state;
}

t.test('instanceDocument: definition order with pending steps; without the definition, only reached steps', async (t) => {
  const s = cancelled();
  const doc = instanceDocument(s, def);
  t.strictSame(doc.steps.map((x) => [x.name, x.state]), [['reserve-inventory', 'compensating'], ['charge-payment', 'pending'], ['ship-order', 'pending']]);
  t.equal(doc.reason, 'cancelled: because');
  t.notOk('failure' in doc);
  t.match(doc.steps[0]?.compensation, { state: 'running', attempts: 1, lastError: null, startedAt: isoTime(2000), finishedAt: null });
  t.equal(doc.createdAt, '1970-01-01T00:00:01.000Z');
  t.equal(doc.updatedAt, '1970-01-01T00:00:02.000Z');

  const offline = instanceDocument(s, undefined);
  t.strictSame(offline.steps.map((x) => x.name), ['reserve-inventory'], 'no definition: the steps the state knows');
  t.strictSame(JSON.parse(JSON.stringify(doc)), doc, 'plain JSON');
});

t.test('instanceSummary and historyEntry: times as ISO, fields renamed for the API', async (t) => {
  t.strictSame(instanceSummary({
    id: 'i', saga: 's', definitionHash: 'h', key: null, correlationId: 'c', status: 'failed', createdAt: 0, updatedAt: 1, version: 9,
  }), { id: 'i', saga: 's', key: null, correlationId: 'c', state: 'failed', definitionHash: 'h', createdAt: '1970-01-01T00:00:00.000Z', updatedAt: '1970-01-01T00:00:00.001Z' });
  t.strictSame(historyEntry({ seq: 3, type: 'SagaCompleted', version: 1, at: 5, data: { type: 'SagaCompleted', at: 5 } }),
    { seq: 3, type: 'SagaCompleted', version: 1, at: '1970-01-01T00:00:00.005Z', data: { type: 'SagaCompleted', at: 5 } });
  t.equal(isoTime(null), null);
});

t.test('deadLetterDocument: base64 always, text only for valid UTF-8', async (t) => {
  const letter = { id: '1', subject: 's', reason: 'r', headers: { a: 'b' }, receivedAt: 0, deliveryCount: 1, redrivenAt: 7, redrivenBy: 'alice' };
  const bad = deadLetterDocument({ ...letter, data: new Uint8Array([0x7b, 0xff, 0xfe]) });
  t.equal(bad.text, null);
  t.equal(bad.data, Buffer.from([0x7b, 0xff, 0xfe]).toString('base64'));
  t.equal(bad.redrivenAt, '1970-01-01T00:00:00.007Z');
  const bom = deadLetterDocument({ ...letter, data: Buffer.from('\uFEFF{"a":"é"}') });
  t.equal(bom.text, '\uFEFF{"a":"é"}', 'the BOM is kept, the text is the bytes');
  // A view over part of a larger buffer must encode only its own bytes.
  const big = Buffer.from('xxhelloxx');
  t.equal(deadLetterDocument({ ...letter, data: big.subarray(2, 7) }).data, Buffer.from('hello').toString('base64'));
  t.equal(deadLetterDocument({ ...letter, data: new Uint8Array() }).text, '');
});

t.test('definitionSummary: stages by name and kind', async (t) => {
  t.match(definitionSummary(def), { name: 'order-fulfillment', hash: def.hash, timeout: 600_000, steps: [{ name: 'reserve-inventory', kind: 'command' }] });
});

t.test('describeError: codes to statuses, internals hidden', async (t) => {
  const cases: [unknown, number, string][] = [
    [new StoreError(StoreErrorCode.NotFound, 'm'), 404, 'SAGA_ERR_NOT_FOUND'],
    [new SagaError('SAGA_ERR_UNKNOWN_SAGA', 'm'), 404, 'SAGA_ERR_UNKNOWN_SAGA'],
    [new SagaError('SAGA_ERR_INVALID_INPUT', 'm'), 400, 'SAGA_ERR_INVALID_INPUT'],
    [new SagaError('SAGA_ERR_INVALID_STATE', 'm'), 409, 'SAGA_ERR_INVALID_STATE'],
    [new SagaError('SAGA_ERR_PAST_PIVOT', 'm'), 409, 'SAGA_ERR_PAST_PIVOT'],
    [new StoreError(StoreErrorCode.DuplicateKey, 'm'), 409, 'SAGA_ERR_DUPLICATE_KEY'],
    [new StoreError(StoreErrorCode.BadCursor, 'm'), 400, 'SAGA_ERR_BAD_CURSOR'],
    [new SagaError('SAGA_ERR_NOT_READY', 'm'), 503, 'SAGA_ERR_NOT_READY'],
    [new ApiError('SAGA_ERR_UNAUTHORIZED', 'm'), 401, 'SAGA_ERR_UNAUTHORIZED'],
    [new StoreError(StoreErrorCode.VersionConflict, 'm'), 500, 'SAGA_ERR_VERSION_CONFLICT'],
    [Object.assign(new Error('body/x must be string'), { validation: [], statusCode: 400, code: 'FST_ERR_VALIDATION' }), 400, 'SAGA_ERR_VALIDATION'],
    [Object.assign(new Error('too big'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }), 413, 'SAGA_ERR_BODY_TOO_LARGE'],
    [Object.assign(new Error('teapot'), { statusCode: 418 }), 500, 'SAGA_ERR_INTERNAL'],
    [new TypeError('x is undefined'), 500, 'SAGA_ERR_INTERNAL'],
    ['a string', 500, 'SAGA_ERR_INTERNAL'],
    [null, 500, 'SAGA_ERR_INTERNAL'],
  ];
  for (const [err, status, code] of cases) {
    const { body, unexpected } = describeError(err);
    t.equal(body.statusCode, status, code);
    t.equal(body.code, code);
    t.equal(unexpected, status === 500);
    if (code === 'SAGA_ERR_INTERNAL') t.notMatch(body.message, /undefined|teapot/);
  }
  for (const [code, status] of Object.entries(statusOfCode)) t.ok(status >= 400 && status < 600 && code.startsWith('SAGA_ERR_'), code);
});

t.test('parseSince: epoch ms or ISO time, nothing else', async (t) => {
  t.equal(parseSince('1700000000000'), 1_700_000_000_000);
  t.equal(parseSince('2026-11-26T12:00:00Z'), Date.UTC(2026, 10, 26, 12));
  t.equal(parseSince('2026-11-26'), Date.UTC(2026, 10, 26));
  for (const bad of ['yesterday', 'Nov 26 2026', '-5', '2026-99-99', '1e12']) t.throws(() => parseSince(bad), { code: 'SAGA_ERR_VALIDATION' }, bad);
});
