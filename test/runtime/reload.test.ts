import { join } from 'node:path';
import t, { type Test } from 'tap';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import type { LogLevel } from '../../engine/log.js';
import { Registry, inboundSubjectsOf, outboundSubjectsOf } from '../../engine/runtime/registry.js';
import { Reloader, type ReloadActor } from '../../engine/runtime/reload.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import { sagaYaml, writeDefinitions } from '../reload/defs.js';

/**
 * The reloader in this process (engine/runtime/reload.ts) over a real definitions file, a real
 * registry and a real SQLite store for the sources; what sagad does to consume new subjects is
 * the `consume` it is given (test/reload/reload.test.ts runs the whole thing on NATS), here a
 * record of what it was asked that answers the subjects it had not seen. Checked: the outcome,
 * the order of the steps (stored, consumed, then current), the log lines, and that reloads run
 * one at a time.
 */
interface Line { level: LogLevel; msg: string; fields: Record<string, unknown> | undefined }

async function world(t: Test, first: readonly string[]) {
  const dir = t.testdir();
  const path = writeDefinitions(dir, 'sagas.yaml', first);
  const loaded = loadDefinitionsFile(path);
  if (!loaded.ok) throw new Error('the first file is invalid');
  const registry = new Registry(loaded.sagas);
  const store = await openSqlitePort(join(dir, 'sagad.db'));
  t.teardown(() => store.close());
  const lines: Line[] = [];
  const seen = new Set(registry.inboundSubjects());
  const asked: { inbound: string[]; outbound: string[]; current: string[] }[] = [];
  let failConsume: Error | null = null;
  const reloader = new Reloader({
    path, registry, log: (level, msg, fields) => lines.push({ level, msg, fields }),
    remember: (saga) => store.rememberDefinition(saga.hash, saga.name, saga.source),
    consume: async (inbound, outbound) => {
      asked.push({ inbound: [...inbound], outbound: [...outbound], current: registry.all().map((s) => s.name) });
      if (failConsume !== null) throw failConsume;
      const fresh = inbound.filter((s) => !seen.has(s));
      for (const s of fresh) seen.add(s);
      return fresh;
    },
  });
  return {
    dir, path, registry, store, lines, asked, reloader, first: loaded.sagas,
    write: (sagas: readonly string[]) => writeDefinitions(dir, 'sagas.yaml', sagas),
    failNextConsume: (err: Error | null) => { failConsume = err; },
  };
}

const http: ReloadActor = { via: 'http', access: 'admin', token: 'sha256:0123456789ab', remote: '127.0.0.1' };

t.test('a valid file: stored, its subjects consumed, then current; the difference returned and logged', async (t) => {
  const w = await world(t, [sagaYaml('alpha', 'al', ['a1']), sagaYaml('legacy', 'lg', ['l1']), sagaYaml('same', 'sm', ['s1'])]);
  w.write([sagaYaml('alpha', 'al', ['a1', 'a2']), sagaYaml('newbie', 'nw', ['n1']), sagaYaml('same', 'sm', ['s1'])]);
  const next = loadDefinitionsFile(w.path);
  if (!next.ok) throw new Error('the second file is invalid');
  const hash = (name: string, list = next.sagas) => list.find((s) => s.name === name)?.hash ?? '';

  const r = await w.reloader.reload(http);
  t.same(r, {
    ok: true,
    diff: {
      added: [{ name: 'newbie', hash: hash('newbie') }],
      removed: [{ name: 'legacy', hash: hash('legacy', w.first) }],
      changed: [{ name: 'alpha', oldHash: hash('alpha', w.first), newHash: hash('alpha') }],
      unchanged: ['same'],
      subjects: ['nw.events', 'nw.replies'],
    },
  });
  for (const s of next.sagas) t.equal(await w.store.getDefinitionSource(s.hash), s.source, `${s.name}'s source is stored`);
  const everything = [...w.first, ...next.sagas];
  t.same(w.asked, [{ inbound: inboundSubjectsOf(everything), outbound: outboundSubjectsOf(everything), current: ['alpha', 'legacy', 'same'] }],
    'asked to consume the subjects of the old and the new definitions, while the old ones were still current');
  t.ok(w.asked[0]?.inbound.includes('lg.replies'), 'the removed saga\'s replies stay consumed for its running instances');
  t.same(w.registry.all().map((s) => s.name), ['alpha', 'newbie', 'same'], 'the file\'s sagas are current');
  t.equal(w.registry.current('alpha')?.hash, hash('alpha'));
  t.equal(w.registry.byDefinitionHash(hash('alpha', w.first))?.name, 'alpha', 'the earlier alpha stays reachable by hash');
  t.same(w.lines, [{
    level: 'info', msg: 'definitions reloaded',
    fields: { ...http, file: w.path, added: ['newbie'], removed: ['legacy'], changed: ['alpha'], unchanged: 1, newSubjects: ['nw.events', 'nw.replies'] },
  }]);
});

t.test('an invalid file is refused with every error and changes nothing; the log says how many, and who asked', async (t) => {
  const w = await world(t, [sagaYaml('alpha', 'al', ['a1'])]);
  const bad = w.write([sagaYaml('alpha', 'al', ['a1']), sagaYaml('alpha', 'al', ['a1']), sagaYaml('Bad_Name', 'bd', ['b1'])]);
  const expected = (() => {
    const r = loadDefinitionsFile(bad);
    return r.ok ? [] : r.errors.map(formatDefinitionError);
  })();
  t.ok(expected.length >= 2, 'the file has several problems');
  const before = w.registry.all();
  t.same(await w.reloader.reload({ via: 'SIGHUP' }), { ok: false, errors: expected });
  t.same(w.lines, [{
    level: 'warn', msg: `definitions reload refused: ${expected.length} problems in ${bad}; the loaded definitions stay`,
    fields: { via: 'SIGHUP', file: bad, errors: expected },
  }]);
  t.same(w.registry.all(), before, 'the loaded definitions stay current');
  t.same(w.asked, [], 'nothing new is consumed');
  t.equal(await w.store.getDefinitionSource(before[0]?.hash ?? ''), undefined, 'nothing is stored');

  w.lines.length = 0;
  w.write([sagaYaml('alpha', 'al', ['a1']), sagaYaml('alpha', 'al', ['a1'])]);
  const one = await w.reloader.reload({ via: 'SIGHUP' });
  t.equal(one.ok ? 0 : one.errors.length, 1, 'a file with a single problem');
  t.match(w.lines, [{ level: 'warn', msg: /^definitions reload refused: 1 problem in / }], 'says "1 problem"');
});

t.test('consuming fails: the reload rejects, the old definitions stay current, and the next reload runs', async (t) => {
  const w = await world(t, [sagaYaml('alpha', 'al', ['a1'])]);
  w.write([sagaYaml('alpha', 'al', ['a1']), sagaYaml('newbie', 'nw', ['n1'])]);
  w.failNextConsume(new Error('stream create failed'));
  await t.rejects(w.reloader.reload(http), { message: 'stream create failed' });
  t.same(w.registry.all().map((s) => s.name), ['alpha'], 'newbie did not become current');
  t.same(w.lines, [], 'nothing logged as reloaded');
  w.failNextConsume(null);
  const again = await w.reloader.reload(http);
  t.match(again, { ok: true, diff: { added: [{ name: 'newbie' }], subjects: ['nw.events', 'nw.replies'] } }, 'the queue goes on after a failed reload');
  t.same(w.registry.all().map((s) => s.name), ['alpha', 'newbie']);
});

t.test('reloads run one at a time, in the order asked', async (t) => {
  const w = await world(t, [sagaYaml('alpha', 'al', ['a1'])]);
  w.write([sagaYaml('alpha', 'al', ['a1']), sagaYaml('beta', 'bt', ['b1'])]);
  const first = w.reloader.reload(http);
  // The second reads the file only after the first is done: it sees beta as loaded already.
  const second = w.reloader.reload({ via: 'SIGHUP' });
  const [a, b] = await Promise.all([first, second]);
  t.match(a, { ok: true, diff: { added: [{ name: 'beta' }], unchanged: ['alpha'] } });
  t.match(b, { ok: true, diff: { added: [], unchanged: ['alpha', 'beta'], subjects: [] } });
  t.equal(w.asked.length, 2);
});
