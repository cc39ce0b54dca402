import t from 'tap';
import { FAULT_GROUPS, walkPoints } from './fault-walk.js';

/** The crash walk (fault-walk.ts) over the fault points of the 'inputs' group. */
t.setTimeout(240_000);
await walkPoints(t, FAULT_GROUPS.inputs ?? []);
