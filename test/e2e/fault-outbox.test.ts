import t from 'tap';
import { FAULT_GROUPS, walkPoint } from './fault-walk.js';

/** The crash walk (fault-walk.ts) over the fault points of the 'outbox' group, one world each. */
t.setTimeout(240_000);
for (const [point, pass] of FAULT_GROUPS.outbox ?? []) {
  await t.test(`SIGKILL at ${point} (pass ${pass}): after a restart nothing is lost or done twice`, (t) => walkPoint(t, point, pass));
}
