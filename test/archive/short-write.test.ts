/**
 * A write to the archive file that takes fewer bytes than given, without an error (a full
 * disk, a file size limit): the append must fail, so that retention deletes nothing, and no
 * cut member may stay in the file. Run in a child process under `ulimit -f` (the built writer,
 * as `npm test` builds before it runs the tests).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

const writer = join(import.meta.dirname, '../../dist/engine/archive/writer.js');

const SCRIPT = `
import { randomBytes } from 'node:crypto';
// As with a full disk (ENOSPC), the write past the limit fails rather than the signal killing the process.
process.on('SIGXFSZ', () => {});
const { ArchiveWriter } = await import(process.argv[3]);
const w = new ArchiveWriter({ dir: process.argv[2], definition: async () => ({ name: 's', source: 'x' }) });
// Incompressible states: the member is about 120 KB, more than the 64 KiB the file may have.
const records = Array.from({ length: 200 }, (_, i) => ({ id: 'i-' + i, version: 1, definitionHash: 'h',
  json: { state: JSON.stringify({ id: 'i-' + i, blob: randomBytes(600).toString('base64') }), journal: '[]', timers: '[]' } }));
try {
  const r = await w.append(records);
  console.log(JSON.stringify({ ok: true, bytes: r.bytes }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code ?? null }));
}
await w.close();
`;

t.test('a member the file cannot take whole fails the append and is cut off', async (t) => {
  const dir = t.testdir();
  const script = join(dir, 'append.mjs');
  writeFileSync(script, SCRIPT);
  const archive = join(dir, 'archive');
  const out = execFileSync('bash', ['-c', 'ulimit -f 64 && exec node "$0" "$1" "$2"', script, archive, writer], { encoding: 'utf8' });
  t.same(JSON.parse(out), { ok: false, code: 'EFBIG' }, 'the append fails: retention keeps the instances');
  const files = readdirSync(archive);
  t.equal(files.length, 1);
  t.equal(statSync(join(archive, files[0] ?? '')).size, 0, 'the part written is cut off: nothing half written stays in the file');
});
