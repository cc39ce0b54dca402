/** `sagactl validate <(...)`: the file named on the command line may be a pipe (the server and includes still read regular files only). */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { cli } from './helpers.js';

const YAML = `sagas:
  - name: piped
    defaults: { timeout: 5s }
    steps:
      - name: a
        pivot: true
        command: { subject: x.commands, type: A }
        reply: { subject: x.events, success: [AOk] }
`;

t.test('a definitions file given to sagactl validate as a pipe is read and checked', async (t) => {
  const fifo = join(t.testdir(), 'defs.yaml');
  execFileSync('mkfifo', [fifo]);
  // The writer, another process, as a shell's process substitution is.
  const writer = spawn('sh', ['-c', 'printf "%s" "$1" > "$2"', 'sh', YAML, fifo], { stdio: 'ignore' });
  // Refused unread, the pipe would keep its writer waiting.
  t.teardown(() => writer.kill());
  const r = await cli(['validate', fifo]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /ok piped \(1 step/);
});
