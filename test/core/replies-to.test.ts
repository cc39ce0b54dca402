import t from 'tap';
import { repliesTo } from '../../engine/core/index.js';
import { saga } from './sim-sagas.js';

/**
 * `repliesTo`: a message is the reply to a step's command (or its compensation's) only when
 * it is one of the types that side lists. The shell asks it before treating a message that
 * names a command as its cause as a reply; anything else is an event (engine/runtime/engine.ts
 * `receive`).
 */
const bulk = saga('bulk.yaml', 'bulk');
const tail = saga('group-tail.yaml', 'tail');

t.test('a command step: its success, failure and retryable types, and nothing else', async (t) => {
  for (const type of ['PaymentCharged', 'PaymentDeclined']) t.ok(repliesTo(bulk, 'charge', 'do', type), type);
  t.notOk(repliesTo(bulk, 'charge', 'do', 'PaymentSettled'), 'a follow-up event on the same subject');
  t.notOk(repliesTo(bulk, 'charge', 'do', 'PaymentRefunded'), 'the compensation\'s type is no reply of the do side');
});

t.test('a compensation: its own reply spec', async (t) => {
  t.ok(repliesTo(bulk, 'charge', 'undo', 'PaymentRefunded'));
  t.notOk(repliesTo(bulk, 'charge', 'undo', 'PaymentCharged'), 'the do side\'s type');
  t.notOk(repliesTo(bulk, 'ship', 'undo', 'Shipped'), 'the pivot has no compensation');
});

t.test('forEach elements and group steps are matched by their stage\'s specs', async (t) => {
  t.ok(repliesTo(bulk, 'reserve[2]', 'do', 'InventoryBusy'), 'a retryable type of an element');
  t.ok(repliesTo(bulk, 'reserve[0]', 'undo', 'LineReleased'));
  t.notOk(repliesTo(bulk, 'reserve[0]', 'do', 'LineReleased'));
  t.ok(repliesTo(tail, 'lines[1].pick', 'do', 'PickFailed'), 'a step of a group element');
  t.notOk(repliesTo(tail, 'lines[1].pick', 'do', 'LineReserved'), 'another step\'s reply');
});

t.test('a step that sends no command, or none of that name, has no replies', async (t) => {
  t.notOk(repliesTo(tail, 'await-ok', 'do', 'Approved'), 'a wait step');
  t.notOk(repliesTo(bulk, 'nope', 'do', 'PaymentCharged'), 'an unknown step');
});
