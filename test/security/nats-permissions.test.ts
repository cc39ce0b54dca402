import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad, waitFor } from '../helpers/sagad.js';
import { GUARDED_DEFS, runGuarded, startParticipant } from './secure-nats.js';

/**
 * sagad runs under a NATS user with exactly the permissions docs/nats-security.md lists (the
 * block is read from the document itself): starts over HTTP, over NATS and by an event, a
 * completion and a compensation, without one permission error in its log.
 */

const DOC = new URL('../../docs/nats-security.md', import.meta.url);

/** The nats-server configuration block of the document, marked `# sagad-permissions`. */
function documentedPermissions(): string {
  const block = /```conf\n# sagad-permissions\n([\s\S]*?)```/.exec(readFileSync(DOC, 'utf8'))?.[1];
  if (block === undefined) throw new Error('docs/nats-security.md has no ```conf block marked # sagad-permissions');
  return block;
}

t.test('sagad works with exactly the documented permissions', async (t) => {
  const block = documentedPermissions();
  t.match(block, 'password: $SAGAD_NATS_PASSWORD');
  // The participant and the starter are another user, with no limits.
  const config = block
    .replace('password: $SAGAD_NATS_PASSWORD', 'password: "sagad-pw"')
    .replace('users = [', 'users = [\n    { user: admin, password: admin-pw }');
  const nats = await startNatsServer({ config, check: { user: 'admin', pass: 'admin-pw' } });
  t.teardown(() => nats.stop());
  const admin = { user: 'admin', password: 'admin-pw' };
  const run = await runGuarded(t.testdir(), nats.url, { NATS_USER: 'sagad', NATS_PASSWORD: 'sagad-pw' }, admin, admin);
  t.match(run, { completed: 'completed', compensated: 'compensated', natsStart: { state: 'completed' }, triggered: 'completed' });
  t.type(run.natsStart?.id, 'string');
});

t.test('a permission missing from the list shows in the log, naming the subject', async (t) => {
  const config = documentedPermissions()
    .replace('password: $SAGAD_NATS_PASSWORD', 'password: "sagad-pw"')
    .replace('"payments.commands", ', '')
    .replace('users = [', 'users = [\n    { user: admin, password: admin-pw }');
  const nats = await startNatsServer({ config, check: { user: 'admin', pass: 'admin-pw' } });
  t.teardown(() => nats.stop());
  const dir = t.testdir();
  const definitions = join(dir, 'guarded.yaml');
  writeFileSync(definitions, GUARDED_DEFS);
  const sagad = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), definitions, env: { NATS_USER: 'sagad', NATS_PASSWORD: 'sagad-pw' } });
  t.teardown(async () => { await sagad.stop(); });
  const participant = await startParticipant(nats.url, { user: 'admin', password: 'admin-pw' });
  t.teardown(() => participant.close());
  const res = await fetch(`${sagad.url}/v1/sagas/guarded/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { n: 1 } }) });
  t.equal(res.status, 201);
  const errorOf = (l: string): unknown => { try { return (JSON.parse(l) as { error?: unknown }).error; } catch { return undefined; } };
  const line = await waitFor(() => sagad.logs().find((l) => errorOf(l) === 'Permissions Violation for Publish to "payments.commands"'), 20_000,
    { what: 'a permissions violation in the log' });
  t.match(line, '"level":"error"');
});
