import type { Command } from 'commander';
import { ScriptError, simulate } from '../../engine/testing/index.js';
import { contextOf } from '../context.js';
import { usageError } from '../errors.js';
import { ExitCode, type Io } from '../io.js';
import { examples } from '../options.js';
import { historyText } from '../views/history.js';
import { scenarioText, simulatedHistory } from '../views/test-report.js';
import { parseInput } from './act.js';
import { loadForTest, pickSagas } from './test.js';

interface SimulateOptions { saga?: string; input?: string; script: string[] }

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `simulate FILE --saga NAME --script ...`: one instance under a script, offline, printed as `history` prints a journal. */
export function registerSimulate(parent: Command, io: Io, result: { code: ExitCode }): void {
  parent
    .command('simulate')
    .description('Run one saga instance offline under a script of replies and print its journal as a timeline, with simulated times.')
    .argument('<file>', 'definitions file (with its includes)')
    .option('--saga <name>', 'the saga to run (needed when the file has more than one)')
    .option('-i, --input <json>', 'the saga input: JSON, or @FILE; default a sample from the trigger schema and the expressions')
    .option('--script <script>', 'how participants answer (repeatable); unscripted steps succeed', collect, [])
    .addHelpText('after', `${examples(
      'sagactl simulate saga-definitions.yaml --saga order-fulfillment --script charge-payment=fail',
      "sagactl simulate sagas/trip-booking.yaml --input @trip.json --script 'book-hotel=retryable*2,ok:3s'",
      "sagactl simulate saga-definitions.yaml --script 'charge-payment=timeout' --script 'reserve-inventory.undo=fail,ok'",
      'sagactl simulate saga-definitions.yaml --script cancel=charge-payment',
      'sagactl simulate saga-definitions.yaml --script reserve-inventory=late:5s -o json',
      "sagactl simulate sagas/bulk-shipment.yaml --script 'reserve-lines[1]=fail'",
      "sagactl simulate sagas/pick-and-pack.yaml --script 'pick-lines[1].pick=fail'",
    )}
Script: entries separated by commas or given as several --script options.
  STEP=REPLY[,REPLY...]       answers to the step's attempts in order; the last one repeats
  STEP.undo=REPLY[,REPLY...]  answers to the attempts of the step's compensation
  cancel=STEP                 an operator cancels while STEP awaits its reply
  cancel=DURATION             an operator cancels at that simulated time (like cancel=2s)
  STEP[I]=...                 element I of a forEach step (STEP=... scripts every element)
  GROUP[I].STEP=...           step STEP of element I of a forEach group (GROUP.STEP=... every element's)
REPLY is one of, each with an optional :DELAY (default 100ms, or half the timeout) and *COUNT:
  ok         success (a wait step: its event arrives)
  fail       a business failure (its first failure type)
  retryable  a retryable reply (its first retryable type)
  timeout    no reply at all
  late       no reply in time; success arrives DELAY (default 1s) after the step was given up
Example: book-hotel=retryable*2,ok:3s answers attempts 1 and 2 retryable, attempt 3 success after 3s.

Times count from the start (simulated, so the timeline begins at 1970-01-01 in -o json).
After the timeline come the effects and the saga guarantee check; exit code 1 when it broke,
2 for a bad script.`)
    .action((file: string, o: SimulateOptions, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const input = o.input === undefined ? undefined : parseInput(o.input);
      const all = loadForTest(file, io);
      if (all === null) {
        result.code = ExitCode.error;
        return;
      }
      if (o.saga === undefined && all.length !== 1) throw usageError(`${file} has ${all.length} sagas; say which one to run`, `add --saga with one of ${all.map((s) => s.name).join(', ')}`);
      const [saga] = pickSagas(all, o.saga, file);
      if (saga === undefined) return;
      let r;
      try {
        r = simulate(saga, { script: o.script, ...(input === undefined ? {} : { input }) });
      } catch (err) {
        if (err instanceof ScriptError) throw usageError(`--script: ${err.message}`, err.hint);
        throw err;
      }
      if (!r.ok) result.code = ExitCode.error;
      const entries = simulatedHistory(r.journal);
      if (ctx.output === 'json') {
        return ctx.doc({
          saga: saga.name, outcome: r.outcome, ok: r.ok, input: r.input, effects: r.effects, notes: r.notes,
          violations: r.guarantee.violations, warnings: r.guarantee.warnings, items: entries,
        });
      }
      if (ctx.output === 'jsonl') return entries.forEach((e) => ctx.doc(e));
      ctx.out(historyText(entries, ctx.width, ctx.style));
      ctx.out(`\n${scenarioText(r, ctx.style, `${saga.name} ${o.script.length === 0 ? '(no script: all succeed)' : o.script.join(' ')}`)}`);
      ctx.out(r.ok ? 'The saga guarantee held.\n' : ctx.style.red('The saga guarantee broke; see the violations above.\n'));
    });
}
