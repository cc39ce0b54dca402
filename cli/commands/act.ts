/** The acting commands: start, cancel and retry, one instance or many (`--saga ... --yes`). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { InstanceDocument, InstanceSummaryDocument } from '../../engine/api/documents.js';
import type { InstanceStatus } from '../../engine/core/index.js';
import { ApiCallError, UnreachableError } from '../client.js';
import { contextOf, type Ctx } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { ExitCode, shown, type Io } from '../io.js';
import { examples, reason, stateOption } from '../options.js';
import { collect } from '../paging.js';
import { renderTable, type Cell } from '../render/table.js';
import { httpSource } from '../source.js';
import { instanceListTable } from '../views/instances.js';

type Verb = 'cancel' | 'retry';

/** Pure: `--input` as JSON: inline, or `@file` read from disk; a bad value is a usage error. */
export function parseInput(value: string, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): unknown {
  let text = value;
  let from = 'the --input value';
  if (value.startsWith('@')) {
    const file = value.slice(1);
    from = file;
    try {
      text = read(file);
    } catch (err) {
      throw new CliError(`cannot read the input file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'give --input @FILE with a readable JSON file, or the JSON itself');
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw usageError(`${from} is not JSON: ${(err as Error).message}`, `write it like --input '{"orderId":"order-1"}', or --input @order.json`);
  }
}

/** Turns the API's refusals of an act on one instance into a sentence and a hint. */
function actError(err: unknown, id: string, ctx: Ctx): never {
  if (err instanceof ApiCallError) {
    const why = `\`sagactl why ${id}\` says what it is waiting for`;
    switch (err.failure.code) {
      case 'SAGA_ERR_NOT_FOUND': throw new CliError(`no instance ${id} on sagad at ${ctx.api().server}`, '`sagactl list` shows the instances; ids are matched exactly');
      case 'SAGA_ERR_INVALID_STATE': throw new CliError(err.failure.message, why);
      case 'SAGA_ERR_PAST_PIVOT': throw new CliError(err.failure.message, why);
      default:
    }
  }
  throw err;
}

/** Cancels or retries one instance; the reason (required by cancel, optional for retry) is journaled with the token's name. */
async function act(ctx: Ctx, verb: Verb, id: string, why: string | undefined): Promise<InstanceDocument> {
  const path = `/v1/instances/${encodeURIComponent(id)}/${verb}`;
  return ctx.api().post<InstanceDocument>(path, why === undefined ? undefined : { reason: why }).catch((err: unknown) => actError(err, id, ctx));
}

const watch = (id: string) => `watch it with: sagactl history ${shown(id)} --follow`;

interface BulkOptions {
  saga?: string;
  state?: InstanceStatus;
  key?: string;
  reason?: string;
  yes?: boolean;
}

/** Asks on the terminal, or refuses (exit 2) when there is none to ask on. */
async function confirm(io: Io, question: string, what: string): Promise<boolean> {
  if (io.ask === undefined) {
    throw usageError(`refusing to ${what} without confirmation: there is no terminal to ask on`, 'add --yes to go ahead without asking');
  }
  const answer = (await io.ask(`${question} [y/N] `)).trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}

async function bulk(ctx: Ctx, io: Io, verb: Verb, o: BulkOptions, result: { code: ExitCode }): Promise<void> {
  if (o.saga === undefined) throw usageError(`${verb} needs an instance ID, or --saga NAME to ${verb} many`, `sagactl ${verb} ID${verb === 'cancel' ? ' --reason "..."' : ''}, or sagactl ${verb} --saga NAME --state ${verb === 'cancel' ? 'running' : 'failed'} --yes`);
  const state = o.state ?? (verb === 'cancel' ? 'running' : 'failed');
  const source = httpSource(ctx.api());
  const page = await collect<InstanceSummaryDocument>((limit, cursor) => source.list({ saga: o.saga, state, key: o.key, limit, cursor }), { limit: 0, all: true });
  const targets = page.items;
  const filter = shown(`${state} instances of ${o.saga}${o.key === undefined ? '' : ` with key ${o.key}`}`);
  if (targets.length === 0) {
    if (ctx.output === 'table') ctx.out(`No ${filter}; nothing to ${verb}.\n`);
    else if (ctx.output === 'json') ctx.doc({ items: [] });
    return;
  }
  if (ctx.output === 'table') {
    ctx.out(`${verb === 'cancel' ? 'Cancel' : 'Retry'} would touch ${targets.length} ${filter}:\n`);
    ctx.out(instanceListTable(targets, { now: ctx.now(), width: ctx.width, style: ctx.style }));
  }
  if (o.yes !== true && !(await confirm(io, `${verb === 'cancel' ? 'Cancel' : 'Retry'} these ${targets.length} instances?`, `${verb} ${targets.length} instances`))) {
    io.err('Nothing done.\n');
    result.code = ExitCode.error;
    return;
  }
  const outcomes: { id: string; ok: boolean; state?: string; error?: string }[] = [];
  for (const t of targets) {
    try {
      const doc = await act(ctx, verb, t.id, o.reason);
      outcomes.push({ id: t.id, ok: true, state: doc.state });
    } catch (err) {
      // The server being unreachable stops the whole run; a refusal of one instance does not.
      if (err instanceof UnreachableError) throw err;
      outcomes.push({ id: t.id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const failed = outcomes.filter((x) => !x.ok).length;
  if (failed > 0) result.code = ExitCode.error;
  if (ctx.output === 'json') return ctx.doc({ items: outcomes });
  if (ctx.output === 'jsonl') return outcomes.forEach((x) => ctx.doc(x));
  const rows: Cell[][] = outcomes.map((x) => [x.id, x.ok ? { text: x.state ?? '', paint: ctx.style.state } : { text: 'refused', paint: ctx.style.red }, x.error ?? '']);
  ctx.out(renderTable([{ header: 'ID' }, { header: 'NOW' }, { header: 'ERROR', shrink: true, min: 20 }], rows, ctx.width));
  const done = outcomes.length - failed;
  ctx.out(`${verb === 'cancel' ? 'Cancelled' : 'Retried'} ${done} of ${outcomes.length}${failed > 0 ? `; ${failed} refused (see ERROR)` : ''}.\n`);
}

function single(ids: string | undefined, o: BulkOptions, verb: Verb): string | undefined {
  if (ids !== undefined && (o.saga !== undefined || o.state !== undefined || o.key !== undefined)) {
    throw usageError(`give either an instance ID or --saga/--state/--key to ${verb}, not both`, `sagactl ${verb} ID, or sagactl ${verb} --saga NAME --state STATE --yes`);
  }
  return ids;
}

/** Registers `start`, `cancel` and `retry`. */
export function registerAct(parent: Command, io: Io, result: { code: ExitCode }): void {
  parent
    .command('start')
    .description('Start an instance of a saga (idempotent with --id or a business key).')
    .argument('<saga>', 'saga name (sagactl defs list shows them)')
    .requiredOption('-i, --input <json>', 'the saga input: JSON, or @FILE to read it from a file')
    .option('--id <id>', 'instance id; starting again with the same id returns the first instance')
    .option('--key <key>', 'business key, instead of the one the definition computes')
    .option('--correlation-id <id>', 'correlation id copied onto every command (default: the instance id)')
    .addHelpText('after', examples(
      `sagactl start order-fulfillment --input '{"orderId":"order-1","customerId":"c-1","items":[{"sku":"a","quantity":1}],"total":10}'`,
      'sagactl start order-fulfillment --input @order.json --id order-1-attempt-1',
      'sagactl start order-fulfillment --input @order.json -o json | jq -r .id',
    ))
    .action(async (saga: string, o: { input: string; id?: string; key?: string; correlationId?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const input = parseInput(o.input);
      const body = { input, ...(o.id === undefined ? {} : { id: o.id }), ...(o.key === undefined ? {} : { key: o.key }), ...(o.correlationId === undefined ? {} : { correlationId: o.correlationId }) };
      const res = await ctx.api().postWithStatus<InstanceDocument>(`/v1/sagas/${encodeURIComponent(saga)}/instances`, body).catch((err: unknown) => {
        if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_UNKNOWN_SAGA') throw new CliError(err.failure.message, '`sagactl defs list` shows the sagas the server loaded');
        if (err instanceof ApiCallError && (err.failure.code === 'SAGA_ERR_INVALID_INPUT' || err.failure.code === 'SAGA_ERR_VALIDATION')) {
          throw new CliError(`the server refused the start: ${err.failure.message}`, `\`sagactl defs show ${saga}\` shows what the saga expects`);
        }
        throw err;
      });
      const doc = res.body;
      if (ctx.output !== 'table') return ctx.doc(doc);
      const what = shown(`${doc.id} (${doc.saga}${doc.key === null ? '' : `, key ${doc.key}`})`);
      ctx.out(res.status === 201 ? `Started ${what}: ${ctx.style.state(doc.state)}; ${watch(doc.id)}\n` : `Already started: ${what} has this id or key and is ${ctx.style.state(doc.state)}; nothing new started.\n`);
    });

  parent
    .command('cancel')
    .description('Cancel a running instance: it compensates its done steps now. With --saga, cancel many.')
    .argument('[id]', 'instance id (or use --saga to choose many)')
    .requiredOption('--reason <text>', 'why (kept in the journal with your token\'s name, shown by describe, history and why)', reason)
    .option('--saga <name>', 'cancel every matching instance of this saga')
    .addOption(stateOption('with --saga: instances in this state; only a running instance can be cancelled', ['running']))
    .option('--key <key>', 'with --saga: only the instance with this business key')
    .option('-y, --yes', 'with --saga: go ahead without asking')
    .addHelpText('after', examples(
      'sagactl cancel 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --reason "customer called"',
      'sagactl cancel --saga order-fulfillment --reason "bad price list"          # shows them, then asks',
      'sagactl cancel --saga order-fulfillment --key order-7 --reason "duplicate" --yes',
      '# Cancel is refused once an instance has sent its pivot step; sagactl why ID says so.',
    ))
    .action(async (id: string | undefined, o: BulkOptions, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const one = single(id, o, 'cancel');
      if (one === undefined) return bulk(ctx, io, 'cancel', o, result);
      const doc = await act(ctx, 'cancel', one, o.reason);
      if (ctx.output !== 'table') return ctx.doc(doc);
      ctx.out(`Cancelled ${shown(doc.id)}: it is ${ctx.style.state(doc.state)} now; ${watch(doc.id)}\n`);
    });

  parent
    .command('retry')
    .description('Resume a failed instance: its compensation, or, after the pivot, its failed step (with every other command still in flight sent again, same Idempotency-Key). With --saga, retry many.')
    .argument('[id]', 'instance id (or use --saga to choose many)')
    .option('--reason <text>', 'why (kept in the journal with your token\'s name, shown by describe, history and why)', reason)
    .option('--saga <name>', 'retry every matching instance of this saga')
    .addOption(stateOption('with --saga: instances in this state; only a failed instance can be retried', ['failed']))
    .option('--key <key>', 'with --saga: only the instance with this business key')
    .option('-y, --yes', 'with --saga: go ahead without asking')
    .addHelpText('after', examples(
      'sagactl retry 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f',
      'sagactl retry 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --reason "fixed inventory"',
      'sagactl retry --saga order-fulfillment --reason "payment service is back" --yes   # every failed instance of the saga',
    ))
    .action(async (id: string | undefined, o: BulkOptions, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const one = single(id, o, 'retry');
      if (one === undefined) return bulk(ctx, io, 'retry', o, result);
      const doc = await act(ctx, 'retry', one, o.reason);
      if (ctx.output !== 'table') return ctx.doc(doc);
      ctx.out(`Retrying ${shown(doc.id)}: it is ${ctx.style.state(doc.state)} again; ${watch(doc.id)}\n`);
    });
}
