/**
 * A saga whose second command renders larger than the NATS server's max_payload (an input of
 * 100 KB against 64 KiB): the relay parks the command in the dead-letter queue with the reason
 * and takes it out of the outbox, the step, never told, times out, and the instance's
 * compensations (of the timed-out step and of the step before it) are published, received and
 * answered: the instance ends compensated. Before, the relay retried the command for ever and
 * held the compensations behind it. sagad runs in the test process on a real SQLite file.
 */
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { startSagad } from '../../engine/main.js';
import { connectNats } from '../../engine/transport/connection.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';
import { writeDefinitions } from '../reload/defs.js';

const MAX_PAYLOAD = 65_536;

const saga = `  - name: big
    timeout: 10m
    defaults:
      timeout: 30s
      retry: { maxAttempts: 1 }
    steps:
      - name: first
        command: { subject: bg.commands, type: DoFirst, payload: { order: "{% $input.order %}" } }
        reply: { subject: bg.replies, success: [DoneFirst] }
        compensate:
          command: { subject: bg.commands, type: UndoFirst, payload: { order: "{% $input.order %}" } }
          reply: { subject: bg.replies, success: [UndoneFirst] }
      - name: second
        command: { subject: bg.commands, type: DoSecond, payload: { blob: "{% $input.blob %}" } }
        reply: { subject: bg.replies, success: [DoneSecond] }
        timeout: 1s
        compensate:
          command: { subject: bg.commands, type: UndoSecond, payload: { order: "{% $input.order %}" } }
          reply: { subject: bg.replies, success: [UndoneSecond] }
`;

t.test('a command over max_payload is parked, its step times out, and the compensations go out and are answered', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}\n` });
  t.teardown(() => nats.stop());
  const file = writeDefinitions(dir, 'sagas.yaml', [saga]);
  const config = loadConfig({ SAGA_DEFINITIONS: file, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_PORT: '0' });
  const defs = loadDefinitionsFile(file);
  if (!defs.ok) throw new Error(JSON.stringify(defs.errors));
  const logged: string[] = [];
  const server = await startSagad(config, defs.sagas, (level, msg, fields) => { logged.push(JSON.stringify({ level, msg, ...fields })); });
  t.teardown(() => server.stop());

  // The participant: answers every command it receives with its success reply.
  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  const received: string[] = [];
  const success: Record<string, string> = { DoFirst: 'DoneFirst', DoSecond: 'DoneSecond', UndoFirst: 'UndoneFirst', UndoSecond: 'UndoneSecond' };
  link.nc.subscribe('bg.commands', {
    callback: (_err, m) => {
      const parsed = parseEnvelope(m.data);
      if (!parsed.ok) return;
      const cmd = parsed.envelope;
      received.push(cmd.eventType);
      void link.js.publish('bg.replies', encodeEnvelope({
        eventId: uuidv7(), eventType: success[cmd.eventType] ?? '?', aggregateId: cmd.aggregateId, timestamp: new Date().toISOString(),
        version: 1, correlationId: cmd.correlationId, causationId: cmd.eventId, payload: {},
      }));
    },
  });

  const api = (path: string, init?: RequestInit) => fetch(`${server.httpUrl}${path}`, init).then(async (r) => r.json() as Promise<Record<string, unknown>>);
  const blob = 'x'.repeat(100_000);
  const started = await api('/v1/sagas/big/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { order: 'o-1', blob } }) });
  const id = String(started.id);
  await until(async () => (await api(`/v1/instances/${id}`)).state === 'compensated', 'the instance to end compensated', { withinMs: 20_000, everyMs: 50 });

  t.same(received, ['DoFirst', 'UndoSecond', 'UndoFirst'], 'the oversized command never went out; both compensations did, in reverse order');
  const dlq = (await api('/v1/dlq')) as { items: { id: string; subject: string; reason: string; headers: Record<string, string>; size: number }[] };
  t.equal(dlq.items.length, 1, 'one letter: the step\'s one attempt');
  const letter = dlq.items[0];
  t.match(letter, { subject: 'bg.commands', headers: { 'Saga-Id': id, 'Saga-Step': 'second' } });
  t.ok((letter?.size ?? 0) > MAX_PAYLOAD, 'the whole command', { size: letter?.size });
  t.match(letter?.reason, new RegExp(`^never published: \\d+ bytes \\(headers included\\) to bg\\.commands are more than the NATS server's max_payload of ${MAX_PAYLOAD} bytes`));
  t.match(letter?.reason, /raise max_payload .* or make the payload smaller .* A redrive .* fails the same way/);
  const body = await api(`/v1/dlq/${letter?.id ?? ''}`);
  t.match(JSON.stringify(body), /DoSecond/, 'the letter holds the command');
  const steps = (await api(`/v1/instances/${id}`)).steps as { name: string; state: string }[];
  t.match(steps, [{ name: 'first', state: 'compensated' }, { name: 'second', state: 'compensated' }], 'the timed-out step was compensated as a done one');
  await until(async () => (await api('/v1/stats')).outboxBacklog === 0, 'the outbox to be empty', { withinMs: 5_000, everyMs: 50 });
  // Told once (through the relay's error log until main.ts gives it a log of its own), never retried.
  t.equal(logged.filter((l) => /never published|larger than NATS takes/.test(l)).length, 1, 'the letter logged once');
  t.equal(logged.filter((l) => /max_payload size exceeded/.test(l)).length, 0, 'no publish of it retried');
});
