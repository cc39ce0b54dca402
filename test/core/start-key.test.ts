import t from 'tap';
import { startKey } from '../../engine/core/index.js';
import { sagaOf } from '../definitions/fixtures/saga-yaml.js';
import { setExpressionLimits } from '../../engine/definitions/expression-limits.js';

// Results must not depend on the machine's load: no wall-clock limit on one evaluation.
setExpressionLimits({ timeoutMs: 60_000 });

/** The business key of a start (DESIGN section 1, point 1: one instance per key). */
const defs = (key: string | null) => sagaOf(`
version: 1
sagas:
  - name: keyed
${key === null ? '' : `    start: { key: "${key}" }\n`}    defaults: { timeout: 1m }
    steps:
      - name: only
        command: { subject: k.commands, type: Do, payload: {} }
        reply: { subject: k.events, success: [Done] }
        pivot: true
`);

t.test('a string key is the key; any other value is its JSON', async (t) => {
  const def = defs('{% $input.id %}');
  t.same(startKey(def, { id: 'o-1' }, null, 'i', 'c'), { ok: true, key: 'o-1' });
  t.same(startKey(def, { id: 42 }, null, 'i', 'c'), { ok: true, key: '42' });
  t.same(startKey(def, { id: { a: [1, 'x'] } }, null, 'i', 'c'), { ok: true, key: '{"a":[1,"x"]}' });
  t.same(startKey(def, { id: '' }, null, 'i', 'c'), { ok: true, key: '' }, 'an empty string is a value');
});

t.test('the key may read the trigger event and the saga identity', async (t) => {
  t.same(startKey(defs('{% $event.aggregateId %}'), {}, { aggregateId: 'agg-7' }, 'i', 'c'), { ok: true, key: 'agg-7' });
  t.same(startKey(defs('{% $saga.name & \\":\\" & $saga.correlationId %}'), {}, null, 'i', 'corr-3'), { ok: true, key: 'keyed:corr-3' });
});

t.test('no key expression: no key', async (t) => {
  t.same(startKey(defs(null), { id: 'o-1' }, null, 'i', 'c'), { ok: true, key: null });
});

t.test('no value, null or a failing expression is an error, returned as data', async (t) => {
  const def = defs('{% $input.id %}');
  t.same(startKey(def, {}, null, 'i', 'c'), { ok: false, error: 'start.key $input.id gave no value for this input' });
  t.match(startKey(def, { id: null }, null, 'i', 'c'), { ok: false, error: /gave no value/ });
  t.match(startKey(defs('{% $error(\\"bad key\\") %}'), {}, null, 'i', 'c'), { ok: false, error: /bad key/ });
  const failing = startKey(defs('{% $error(\\"bad key\\") %}'), {}, null, 'i', 'c');
  t.notMatch(failing, { error: /gave no value/ }, 'the evaluation error itself, not a missing value');
});
