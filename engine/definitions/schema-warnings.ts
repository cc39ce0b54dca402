import { leafSteps, type CompiledSaga, type MessageSpec, type ReplySpec } from '../core/definition.js';
import { closest } from './suggest.js';

/** A `schemas` key that no message of its saga uses: where, and what the author may have meant. */
export interface SchemaWarning {
  /** Like `schemas.InventoryReserverd@1`. */
  readonly where: string;
  readonly message: string;
}

/** Pure: every message type a saga sends or takes: commands, compensations, replies, waits, its trigger. */
export function messageTypes(saga: CompiledSaga): Set<string> {
  const types = new Set<string>();
  if (saga.start.on !== null) types.add(saga.start.on.type);
  const exchange = (e: { command: MessageSpec; reply: ReplySpec }): void => {
    for (const t of [e.command.type, ...e.reply.success, ...e.reply.failure, ...e.reply.retryable]) types.add(t);
  };
  for (const l of leafSteps(saga)) {
    if (l.kind === 'wait') types.add(l.type);
    if (l.kind === 'command') exchange(l);
    if (l.compensate !== null) exchange(l.compensate);
  }
  return types;
}

/**
 * Pure: the saga's `schemas` keys whose type no message of the saga has. Such a schema
 * validates nothing (a misspelt key leaves the message it was meant for unchecked), so
 * `sagactl validate` warns about it, with the closest type the saga does use. Also each
 * pattern that only JavaScript's backtracking engine can run (payload-schemas.ts).
 */
export function schemaWarnings(saga: CompiledSaga): SchemaWarning[] {
  const types = messageTypes(saga);
  const unused = Object.keys(saga.schemas).flatMap((key) => {
    const type = key.split('@')[0] ?? key;
    if (types.has(type)) return [];
    const near = closest(type, types);
    const hint = near === null ? '' : `; did you mean \`${near}@${key.split('@')[1] ?? '1'}\`?`;
    return [{ where: `schemas.${key}`, message: `no command, reply, wait or trigger of the saga has the type \`${type}\`, so this schema checks nothing${hint}` }];
  });
  // Patterns run by RE2 take time linear in the text; these only JavaScript's engine runs.
  const backtracking = Object.entries(saga.schemas).flatMap(([key, validator]) => (validator.backtracking ?? []).map((pattern) => ({
    where: `schemas.${key}`,
    message: `the pattern /${pattern}/ runs on JavaScript's backtracking engine, as RE2 cannot run it with the same meaning ` +
      '(lookaround, a backreference, \\c, a repeat over 1000): a message can make its check run for minutes, holding sagad; write it without them if you can',
  })));
  return [...unused, ...backtracking];
}
