import jsonata from 'jsonata';
import type { CompiledSaga, Expr, LeafStep, Template } from '../core/definition.js';
import { DEFAULT_EXPRESSION_LIMITS } from './expression-limits.js';

/** A risk seen in an expression that is valid: where it is and what may go wrong. */
export interface ExpressionWarning {
  /** Like `steps.charge.command.payload` or `start.key`. */
  readonly where: string;
  readonly source: string;
  readonly message: string;
}

/**
 * Pure: the risks `sagactl validate` can see in a saga's expressions without running them: a
 * function that calls itself (recursion that may not end), and a range whose bound comes
 * from data. Both are stopped at run time by the expression limits; the warning says so
 * before a step fails in production.
 */
export function expressionWarnings(saga: CompiledSaga): ExpressionWarning[] {
  const out: ExpressionWarning[] = [];
  for (const { where, expr } of expressionsOf(saga)) {
    for (const message of risks(jsonata(expr.source).ast(), outcomeOf(where))) out.push({ where, source: expr.source, message });
  }
  return out;
}

/** What follows when an expression at `where` is stopped: a failed `match` does not take the event, a failed key refuses the start. */
function outcomeOf(where: string): string {
  if (where.endsWith('.match')) return 'the event is not taken (the wait goes on)';
  if (where === 'start.key') return 'the start is refused';
  return 'its step fails';
}

function* expressionsOf(saga: CompiledSaga): Generator<{ where: string; expr: Expr }> {
  if (saga.start.key !== null) yield { where: 'start.key', expr: saga.start.key };
  for (const stage of saga.stages) {
    if (stage.kind === 'parallel') {
      if (stage.when !== null) yield { where: `steps.${stage.name}.when`, expr: stage.when };
      for (const branch of stage.branches) for (const step of branch) yield* stepExpressions(step);
    } else if (stage.kind === 'forEach') {
      if (stage.when !== null) yield { where: `steps.${stage.name}.when`, expr: stage.when };
      yield { where: `steps.${stage.name}.forEach.items`, expr: stage.items };
      if (stage.steps === undefined) yield* stepExpressions(stage.step);
      else for (const step of stage.steps) yield* stepExpressions({ ...step, name: `${stage.name}.steps.${step.name}` });
    } else {
      yield* stepExpressions(stage);
    }
  }
}

function* stepExpressions(step: LeafStep): Generator<{ where: string; expr: Expr }> {
  const at = `steps.${step.name}`;
  if (step.when !== null) yield { where: `${at}.when`, expr: step.when };
  if (step.kind === 'command') yield* templateExpressions(step.command.payload, `${at}.command.payload`);
  else if (step.kind === 'wait' && step.match !== null) yield { where: `${at}.match`, expr: step.match };
  else if (step.kind === 'delay' && step.until !== null) yield { where: `${at}.until`, expr: step.until };
  else if (step.kind === 'saga') {
    yield* templateExpressions(step.input, `${at}.input`);
    if (step.key !== null) yield { where: `${at}.key`, expr: step.key };
  }
  if (step.compensate !== null) yield* templateExpressions(step.compensate.command.payload, `${at}.compensate.command.payload`);
}

function* templateExpressions(tpl: Template, where: string): Generator<{ where: string; expr: Expr }> {
  switch (tpl.kind) {
    case 'literal':
      return;
    case 'expr':
      yield { where, expr: tpl.expr };
      return;
    case 'array':
      for (const [i, item] of tpl.items.entries()) yield* templateExpressions(item, `${where}[${i}]`);
      return;
    case 'object':
      for (const [k, v] of tpl.entries) yield* templateExpressions(v, `${where}.${k}`);
      return;
    default:
      tpl satisfies never;
  }
}

type Node = jsonata.ExprNode & { procedure?: Node; body?: Node; expression?: Node };

/** Pure: the risks in one syntax tree, one sentence each; `outcome` is what a stopped evaluation leads to. */
export function risks(ast: jsonata.ExprNode, outcome = 'its step fails'): string[] {
  const found: string[] = [];
  const limits = `it is stopped after ${DEFAULT_EXPRESSION_LIMITS.timeoutMs} ms (SAGA_EXPR_TIMEOUT) or ${DEFAULT_EXPRESSION_LIMITS.maxDepth} levels and ${outcome}`;
  walk(ast, (n) => {
    const rhs = n.rhs as Node | undefined;
    if (n.type === 'bind' && n.lhs?.type === 'variable' && rhs?.type === 'lambda') {
      const name = String(n.lhs.value);
      if (callsVariable(rhs.body, name)) {
        found.push(`$${name} calls itself: recursion that does not end on some input (a bound taken from a reply, say) runs until ${limits}; make sure every input reaches its base case quickly`);
      }
    }
    if (n.type === 'binary' && n.value === '..' && !(isLiteral(n.lhs) && isLiteral(rhs))) {
      found.push(`the range [..] takes a bound from data: a large value builds a large array; ranges over ${DEFAULT_EXPRESSION_LIMITS.maxItems} items are refused and ${outcome}`);
    }
  });
  return [...new Set(found)];
}

function isLiteral(n: Node | undefined): boolean {
  return n?.type === 'number' || (n?.type === 'unary' && n.value === '-' && n.expression?.type === 'number');
}

function callsVariable(body: Node | undefined, name: string): boolean {
  let calls = false;
  walk(body, (n) => {
    if ((n.type === 'function' || n.type === 'partial') && n.procedure?.type === 'variable' && n.procedure.value === name) calls = true;
  });
  return calls;
}

function walk(node: unknown, visit: (n: Node) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  visit(node as Node);
  for (const value of Object.values(node)) walk(value, visit);
}
