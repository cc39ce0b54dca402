/**
 * Random scripts against the shipped sagas: whatever the participants answer, when and in
 * what order, and wherever an operator cancels, the checker finds the saga guarantee kept.
 * This holds the checker to the core (no false alarms) as much as the core to the guarantee.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { leafSteps, type CompiledSaga } from '../../engine/core/index.js';
import { loadSagas, simulate, type ReplyKind, type Script, type ScriptedReply } from '../../engine/testing/index.js';

const root = join(import.meta.dirname, '../..');
const sagas: CompiledSaga[] = [
  ...Object.values(loadSagas(join(root, 'saga-definitions.yaml'))),
  ...Object.values(loadSagas(join(root, 'sagas/trip-booking.yaml'))),
  ...Object.values(loadSagas(join(import.meta.dirname, 'fixtures/travel.yaml'))),
];

function replies(kinds: ReplyKind[]): fc.Arbitrary<ScriptedReply[]> {
  const reply = fc.record({ kind: fc.constantFrom(...kinds), delay: fc.option(fc.integer({ min: 1, max: 90_000 }), { nil: null }) });
  // Ending in ok keeps steps that retry until they succeed from retrying for ever.
  return fc.array(reply, { maxLength: 4 }).map((rs) => [...rs, { kind: 'ok', delay: null }]);
}

function scriptFor(saga: CompiledSaga): fc.Arbitrary<Script> {
  const leaves = leafSteps(saga);
  const doEntries = leaves.map((l) => {
    const kinds: ReplyKind[] = l.kind === 'wait' ? ['ok', 'timeout'] : ['ok', 'timeout', 'late'];
    if (l.kind === 'command' && l.reply.failure.length > 0) kinds.push('fail');
    if (l.kind === 'command' && l.reply.retryable.length > 0) kinds.push('retryable');
    return [l.name, fc.option(replies(kinds), { nil: undefined })] as const;
  });
  const undoEntries = leaves.filter((l) => l.compensate !== null).map((l) => [l.name, fc.option(replies(['ok', 'fail', 'retryable', 'timeout']), { nil: undefined })] as const);
  const clean = (o: Record<string, ScriptedReply[] | undefined>): Record<string, ScriptedReply[]> =>
    Object.fromEntries(Object.entries(o).filter((e): e is [string, ScriptedReply[]] => e[1] !== undefined));
  const cancel = fc.option(fc.oneof(fc.constantFrom(...leaves.map((l) => ({ step: l.name }))), fc.integer({ min: 0, max: 200_000 }).map((at) => ({ at }))), { nil: null });
  return fc.record({ do: fc.record(Object.fromEntries(doEntries)), undo: fc.record(Object.fromEntries(undoEntries)), cancel })
    .map((s) => ({ do: clean(s.do), undo: clean(s.undo), cancel: s.cancel }));
}

for (const saga of sagas) {
  t.test(`${saga.name}: the guarantee holds under any script`, async (t) => {
    fc.assert(fc.property(scriptFor(saga), (script) => {
      const r = simulate(saga, { script });
      if (!r.ok) throw new Error(`${JSON.stringify(script)}\n${r.guarantee.violations.map((v) => `${v.rule}: ${v.message}`).join('\n')}`);
      return ['completed', 'compensated', 'failed'].includes(r.outcome);
    }), { numRuns: 200, seed: 20261127 });
    t.pass('200 random scripts');
  });
}
