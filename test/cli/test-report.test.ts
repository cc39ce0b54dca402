/** How a broken guarantee is printed: the rule, the sentence, and the trace with the offending entry marked. */
import { join } from 'node:path';
import t from 'tap';
import { checkGuarantee, loadSagas, simulate } from '../../engine/testing/index.js';
import { makeStyle } from '../../cli/render/style.js';
import { scenarioDocument, scenarioText } from '../../cli/views/test-report.js';

const travel = loadSagas(join(import.meta.dirname, '../testing/fixtures/travel.yaml')).travel;
if (travel === undefined) throw new Error('fixture travel.yaml has no saga travel');

t.test('a violation prints FAIL, the rule, the input and the trace with the entry marked', async (t) => {
  const run = simulate(travel, { script: 'pay=fail' });
  // Tamper: the undo of hold-seats goes out before the undo of insure.
  const trace = [...run.trace];
  const a = trace.findIndex((e) => e.kind === 'send' && e.undo && e.step === 'insure');
  const b = trace.findIndex((e) => e.kind === 'send' && e.undo && e.step === 'hold-seats');
  const [first, second] = [trace[a], trace[b]];
  if (first === undefined || second === undefined) throw new Error('no undo sends');
  trace[a] = second;
  trace[b] = first;
  const guarantee = checkGuarantee(travel, trace);
  const text = scenarioText({ ...run, trace, guarantee, ok: false }, makeStyle(false));
  t.match(text, /^ {2}FAIL {2}script +compensated\n/);
  t.match(text, /violation \(reverse-order\): compensation #1 is hold-seats/);
  t.match(text, /input: \{"insured":true,"seats":1,"tripId":"T-0000"\}/);
  t.match(text, /trace:\n/);
  t.match(text, new RegExp(`> +@\\d+ms send +undo hold-seats#1\\n`), 'the offending entry is marked');
  const doc = scenarioDocument('travel', { ...run, trace, guarantee, ok: false });
  t.equal(doc.ok, false);
  t.ok(Array.isArray(doc.trace), 'the JSON document carries the trace when the guarantee broke');
  t.equal(scenarioDocument('travel', run).trace, undefined, 'and not otherwise');
});
