import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { connectNats } from '../../engine/transport/connection.js';
import { uuidv7 } from '../../engine/ids.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import type { Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad, waitFor } from '../helpers/sagad.js';

/**
 * Issue 13: a payload expression that loops up to a number taken from a reply froze sagad for
 * good. Now the evaluation stops at its deadline, only that instance's step fails (and it is
 * compensated), and the server keeps answering /readyz throughout.
 */

const DEFS = `version: 1
sagas:
  - name: quote-loop
    defaults: { timeout: 30s }
    steps:
      - name: quote
        command: { subject: loop.commands, type: GetQuote, payload: { n: "{% $input.n %}" } }
        reply: { subject: loop.events, success: [QuoteGiven] }
        compensate:
          command: { subject: loop.commands, type: DropQuote }
          reply: { subject: loop.events, success: [QuoteDropped] }
      - name: count
        command:
          subject: loop.commands
          type: Count
          payload:
            upTo: "{% ($loop := function($i) { $i < $steps.quote.limit ? $loop($i + 1) : $i }; $loop(0)) %}"
        reply: { subject: loop.events, success: [Counted] }
        pivot: true
`;

const answers: Record<string, string> = { GetQuote: 'QuoteGiven', DropQuote: 'QuoteDropped', Count: 'Counted' };

t.test('a looping expression fails only its own instance; /readyz keeps answering', async (t) => {
  const dir = t.testdir();
  const definitions = join(dir, 'defs.yaml');
  writeFileSync(definitions, DEFS);
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const sagad = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), definitions });
  t.teardown(async () => { await sagad.stop(); });

  // The participant: answers every command at once; GetQuote's limit is the instance's `n`.
  const link = await connectNats({ url: nats.url, name: 'participant' });
  t.teardown(() => link.close());
  const received: string[] = [];
  const sub = link.nc.subscribe('loop.commands', {
    callback: (_err, msg) => {
      const parsed = parseEnvelope(msg.data);
      if (!parsed.ok) return;
      const cmd = parsed.envelope;
      received.push(cmd.eventType);
      const payload = cmd.eventType === 'GetQuote' ? { limit: (cmd.payload as { n: number }).n } : {};
      const reply: Envelope = {
        eventId: uuidv7(), eventType: answers[cmd.eventType] ?? 'Unknown', aggregateId: cmd.aggregateId, timestamp: new Date().toISOString(),
        version: 1, correlationId: cmd.correlationId, causationId: cmd.eventId, payload,
      };
      void publishEnvelope(link.js, 'loop.events', encodeEnvelope(reply), {}, reply.eventId);
    },
  });
  t.teardown(() => sub.unsubscribe());

  const start = async (n: number): Promise<string> => {
    const res = await fetch(`${sagad.url}/v1/sagas/quote-loop/instances`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { n } }),
    });
    t.equal(res.status, 201);
    return ((await res.json()) as { id: string }).id;
  };
  const instance = async (id: string) => (await (await fetch(`${sagad.url}/v1/instances/${id}`)).json()) as {
    state: string; steps: { name: string; state: string; lastError: string | null }[];
  };

  const looping = await start(1e12);
  let readyAnswers = 0;
  const ended = await waitFor(async () => {
    // Every poll also asks /readyz, which must answer while the reply with the huge limit is handled.
    const ready = await fetch(`${sagad.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
    t.equal(ready.status, 200, 'readyz answers 200');
    readyAnswers++;
    const doc = await instance(looping);
    return doc.state === 'compensated' ? doc : null;
  }, 30_000, { what: 'the looping instance to be compensated' });
  t.ok(readyAnswers > 0);
  const count = ended.steps.find((s) => s.name === 'count');
  t.equal(count?.state, 'failed', 'the step whose payload loops failed');
  t.match(count?.lastError ?? '', /stopped: it ran longer than 50 ms/, 'with the reason');
  t.equal(ended.steps.find((s) => s.name === 'quote')?.state, 'compensated', 'and the step before it was undone');
  t.notOk(received.includes('Count'), 'no Count command was sent for it');

  const fine = await start(25);
  const done = await waitFor(async () => {
    const doc = await instance(fine);
    return doc.state === 'completed' ? doc : null;
  }, 30_000, { what: 'an instance with a small limit to complete' });
  t.equal(done.state, 'completed', 'another instance of the same saga completes');
  t.ok(received.includes('Count'));
  t.notOk(sagad.exited(), 'sagad is still running');
});
