// Counts the test points of a tap run (its TAP stream on stdin) for .ci/run, and prints the
// one line CI ends with: "N passed, M failed".
//
// A test point is an assertion: an `ok`/`not ok` line at any depth that is not the summary
// line of a subtest. Beyond tap's own verdict this fails
// - a test file that ran no assertion (tap reports it as a skip, "no tests found"),
// - any skipped or todo test point, unless `.ci/allowed-skips` lists it with a reason,
// - a subtest or file that failed without a failing assertion of its own (a crash, a timeout).
//
// Usage: node .ci/count.mjs [--checks-passed N] [--checks-failed N] [--tap-status CODE] < tap.out
// The checks are the lint/typecheck/build steps .ci/run counts alongside the test points.
import { readFileSync } from 'node:fs';
import { Parser } from 'tap-parser';

const args = new Map();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i], Number(process.argv[i + 1]));
const ALLOWLIST = new URL('./allowed-skips', import.meta.url);

/**
 * `.ci/allowed-skips`: one skipped or todo test point a line, as
 * `<test file> | <test point name> | <reason>`; `#` starts a comment. A line without a
 * reason is itself an error.
 */
function readAllowlist() {
  const allowed = new Map();
  const problems = [];
  let text;
  try {
    text = readFileSync(ALLOWLIST, 'utf8');
  } catch {
    return { allowed, problems };
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    const [file = '', name = '', reason = ''] = line.split('|').map((s) => s.trim());
    if (file === '' || name === '' || reason === '') problems.push(`.ci/allowed-skips line ${i + 1}: want "<test file> | <test point name> | <reason>"`);
    else allowed.set(`${file}\u0000${name}`, reason);
  });
  return { allowed, problems };
}

const problems = [];
let passed = 0;
let failed = 0;
const used = new Set();

function problem(message) {
  failed++;
  problems.push(message);
}

const { allowed, problems: allowlistProblems } = readAllowlist();
allowlistProblems.forEach(problem);

/**
 * Follows one level of the stream. `file` is the test file the level belongs to (null at the
 * root, where each test point is a file); `path` names the subtests leading here. Returns a
 * tally of the level, filled in as it streams by: assertions seen and failures counted, for
 * the level above to judge its summary line by.
 */
function follow(parser, file, path) {
  const tally = { assertions: 0, failures: 0 };
  let child = null;
  parser.on('child', (sub) => {
    child = file === null ? follow(sub, sub.name, []) : follow(sub, file, [...path, sub.name]);
  });
  parser.on('assert', (res) => {
    const inner = child;
    child = null;
    const where = file === null ? res.name : `${file}: ${[...path, res.name].join(' > ')}`;
    if (file === null && (inner === null || inner.assertions === 0)) {
      // tap reports a file without assertions as skipped ("no tests found").
      problem(`${res.name}: ran no assertion${res.ok ? '' : ' and failed'}`);
      return;
    }
    if (inner === null) {
      // A leaf: an assertion.
      tally.assertions++;
      if (res.skip || res.todo) directive(file, res, where);
      else if (res.ok) passed++;
      else { tally.failures++; problem(`not ok: ${where}`); }
      return;
    }
    // The summary line of a subtest, or at the root of a test file.
    tally.assertions += inner.assertions;
    tally.failures += inner.failures;
    if (res.skip || res.todo) directive(file ?? res.name, res, where);
    else if (!res.ok && inner.failures === 0) {
      // Failed without a failing assertion below it: a crash, a timeout, a plan mismatch.
      tally.failures++;
      problem(`not ok: ${where}${res.diag?.message ? ` (${res.diag.message})` : ''}`);
    }
  });
  return tally;
}

/** A skipped or todo point fails unless the allowlist names it with a reason. */
function directive(file, res, where) {
  const key = `${file}\u0000${res.name}`;
  const kind = res.todo ? 'todo' : 'skip';
  if (allowed.has(key)) {
    used.add(key);
    passed++;
    return;
  }
  problem(`${kind} not in .ci/allowed-skips: ${where}${typeof (res.todo || res.skip) === 'string' ? ` (${res.todo || res.skip})` : ''}`);
}

// The root's test points are the test files; each file's stream is a child parser named after it.
const root = new Parser();
follow(root, null, []);
root.on('bailout', (reason) => problem(`bailed out: ${reason || 'no reason given'}`));
root.on('complete', (results) => {
  if (results.count === 0) problem('the TAP stream held no test file at all');
  if (results.plan && !results.plan.skipAll && results.count < results.plan.end) problem(`planned ${results.plan.end} test files, saw ${results.count}`);
  for (const key of allowed.keys()) if (!used.has(key)) problems.push(`(unused) .ci/allowed-skips names ${key.replace('\u0000', ' | ')}, which did not skip`);
  const tapStatus = args.get('--tap-status') ?? 0;
  if (tapStatus !== 0 && failed === 0) problem(`tap exited ${tapStatus} without a failing test point`);
  for (const p of problems) console.log(p);
  const total = { passed: passed + (args.get('--checks-passed') ?? 0), failed: failed + (args.get('--checks-failed') ?? 0) };
  console.log(`${total.passed} passed, ${total.failed} failed`);
  process.exitCode = total.failed === 0 ? 0 : 1;
});
process.stdin.pipe(root);
