import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, type NatsSecurity } from '../../engine/transport/connection.js';
import { uuidv7 } from '../../engine/ids.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import type { Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { startSagad, waitFor } from '../helpers/sagad.js';

/**
 * One saga for the secured-NATS tests: `reserve` then `charge`; a charge of more than 100 is
 * refused, so reserve is compensated. Started over HTTP, by a request on sagas.start.guarded,
 * or by an OrderPlaced event on orders.events (the subjects of the example saga).
 */
export const GUARDED_DEFS = `version: 1
sagas:
  - name: guarded
    start: { on: { subject: orders.events, type: OrderPlaced } }
    defaults: { timeout: 30s }
    steps:
      - name: reserve
        command: { subject: inventory.commands, type: Reserve, payload: { n: "{% $input.n %}" } }
        reply: { subject: inventory.events, success: [Reserved] }
        compensate:
          command: { subject: inventory.commands, type: Release }
          reply: { subject: inventory.events, success: [Released] }
      - name: charge
        command: { subject: payments.commands, type: Charge, payload: { n: "{% $input.n %}" } }
        reply: { subject: payments.events, success: [Charged], failure: [Refused] }
        pivot: true
`;

/** The subjects the guarded saga's participants work on. */
export const GUARDED_SUBJECTS = { commands: ['inventory.commands', 'payments.commands'], replies: ['inventory.events', 'payments.events'] } as const;

const answer = (cmd: Envelope): { type: string; subject: string } => {
  switch (cmd.eventType) {
    case 'Reserve': return { type: 'Reserved', subject: 'inventory.events' };
    case 'Release': return { type: 'Released', subject: 'inventory.events' };
    default: return { type: (cmd.payload as { n: number }).n > 100 ? 'Refused' : 'Charged', subject: 'payments.events' };
  }
};

/** A participant connected with its own credentials: answers every command of the guarded saga. */
export async function startParticipant(url: string, security: NatsSecurity): Promise<{ close(): Promise<void> }> {
  const link = await connectNats({ url, name: 'participant', security });
  const subs = GUARDED_SUBJECTS.commands.map((subject) => link.nc.subscribe(subject, {
    callback: (_err, msg) => {
      const parsed = parseEnvelope(msg.data);
      if (!parsed.ok) return;
      const cmd = parsed.envelope;
      const { type, subject: to } = answer(cmd);
      const reply: Envelope = {
        eventId: uuidv7(), eventType: type, aggregateId: cmd.aggregateId, timestamp: new Date().toISOString(),
        version: 1, correlationId: cmd.correlationId, causationId: cmd.eventId, payload: {},
      };
      void publishEnvelope(link.js, to, encodeEnvelope(reply), {}, reply.eventId);
    },
  }));
  return {
    async close() {
      for (const s of subs) s.unsubscribe();
      await link.close();
    },
  };
}

/** What {@link runGuarded} saw: the final states of an instance that completes and one that compensates. */
export interface GuardedRun {
  completed: string;
  compensated: string;
  /** The answer to a start requested over NATS and the state of one started by an event, when asked for. */
  natsStart?: { id: string; state: string };
  triggered?: string;
}

/**
 * Starts sagad with `env` against `url`, runs the guarded saga twice over HTTP (once to
 * completion, once to compensation) and, with `natsStarter`, once over NATS; stops sagad.
 */
export async function runGuarded(dir: string, url: string, env: Record<string, string>, participant: NatsSecurity, natsStarter?: NatsSecurity): Promise<GuardedRun> {
  mkdirSync(dir, { recursive: true });
  const definitions = join(dir, 'guarded.yaml');
  writeFileSync(definitions, GUARDED_DEFS);
  const sagad = await startSagad({ natsUrl: url, dbFile: join(dir, 'sagad.db'), definitions, env });
  const p = await startParticipant(url, participant);
  let run: GuardedRun;
  let code: number | null;
  try {
    const state = async (id: string): Promise<string> => ((await (await fetch(`${sagad.url}/v1/instances/${id}`)).json()) as { state: string }).state;
    const start = async (n: number): Promise<string> => {
      const res = await fetch(`${sagad.url}/v1/sagas/guarded/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { n } }) });
      if (res.status !== 201) throw new Error(`start answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    };
    const settle = (id: string): Promise<string> => waitFor(async () => {
      const s = await state(id);
      return s === 'completed' || s === 'compensated' || s === 'failed' ? s : null;
    }, 30_000, { what: `instance ${id} to end` });
    const [ok, refused] = [await start(5), await start(500)];
    run = { completed: await settle(ok), compensated: await settle(refused) };
    if (natsStarter !== undefined) {
      const link = await connectNats({ url, name: 'starter', security: natsStarter });
      try {
        const req: Envelope = {
          eventId: uuidv7(), eventType: 'StartSaga', aggregateId: 'nats-start', timestamp: new Date().toISOString(),
          version: 1, correlationId: 'c-nats', causationId: null, payload: { input: { n: 7 } },
        };
        const msg = await link.nc.request('sagas.start.guarded', encodeEnvelope(req), { timeout: 10_000 });
        const started = JSON.parse(new TextDecoder().decode(msg.data)) as { id: string; state: string };
        run.natsStart = { id: started.id, state: await settle(started.id) };
        const event: Envelope = { ...req, eventId: uuidv7(), eventType: 'OrderPlaced', aggregateId: 'order-9', payload: { n: 9 } };
        await publishEnvelope(link.js, 'orders.events', encodeEnvelope(event), {}, event.eventId);
        const list = async () => ((await (await fetch(`${sagad.url}/v1/instances?saga=guarded`)).json()) as { items: { id: string }[] }).items;
        const byEvent = await waitFor(async () => (await list()).find((i) => ![ok, refused, started.id].includes(i.id)), 30_000, { what: 'an instance started by OrderPlaced' });
        run.triggered = await settle(byEvent.id);
      } finally {
        await link.close();
      }
    }
  } finally {
    await p.close();
    code = await sagad.stop();
  }
  if (code !== 0) throw new Error(`sagad exited with ${code}:\n${sagad.logs().slice(-20).join('\n')}`);
  const errors = sagad.logs().filter((l) => l.includes('"level":"error"'));
  if (errors.length > 0) throw new Error(`sagad logged errors:\n${errors.join('\n')}`);
  return run;
}
