import t from 'tap';
import { silentLog } from '../../engine/log.js';
import { StreamKeeper } from '../../engine/transport/stream-keeper.js';

/** The streams set up again after one was found gone (engine/transport/stream-keeper.ts), with a set-up that fails at will. */
t.test('set up again once for callers at once, tried until it succeeds, not ready meanwhile', async (t) => {
  let calls = 0;
  let failures = 0;
  const keeper = new StreamKeeper(async () => {
    calls++;
    if (failures > 0) {
      failures--;
      throw new Error('jetstream is not enabled');
    }
    return { 'a.events': calls === 1 ? 'A' : 'A_AGAIN' };
  }, silentLog, () => false);
  t.equal(keeper.isReady(), false, 'not ready before start');
  t.same(await keeper.start(), { 'a.events': 'A' });
  t.ok(keeper.isReady());
  failures = 2;
  const both = Promise.all([keeper.lost(), keeper.lost()]);
  t.equal(keeper.isReady(), false, 'not ready while set up again');
  await both;
  t.equal(calls, 4, 'one set-up for both callers: two failures, then success');
  t.ok(keeper.isReady(), 'ready again');
  t.equal(keeper.streamOf('a.events'), 'A_AGAIN', 'the stream as set up again');
  await keeper.lost();
  t.equal(calls, 4, 'asked again within 5 s: not set up again');
});

t.test('a set-up that fails while sagad stops is not tried again', async (t) => {
  let calls = 0;
  const keeper = new StreamKeeper(async () => {
    calls++;
    if (calls > 1) throw new Error('connection closed');
    return {};
  }, silentLog, () => calls > 1);
  await keeper.start();
  await t.rejects(keeper.lost(), { message: 'connection closed' });
  t.equal(calls, 2);
  t.equal(keeper.isReady(), false);
});
