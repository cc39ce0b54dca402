import t from 'tap';
import { loadDefinitionsText } from '../../engine/definitions/index.js';
import type { CompiledSaga } from '../../engine/core/index.js';
import { diffLoaded } from '../../engine/runtime/reload.js';
import { Registry } from '../../engine/runtime/registry.js';
import { tokenFingerprint } from '../../engine/api/routes-reload.js';
import { sagaYaml } from './defs.js';

function sagas(...yaml: string[]): CompiledSaga[] {
  const r = loadDefinitionsText(`version: 1\nsagas:\n${yaml.join('')}`, 'inline.yaml');
  if (!r.ok) throw new Error('invalid');
  return r.sagas;
}

t.test('the difference a reload reports: added, removed, changed, unchanged', async (t) => {
  const before = sagas(sagaYaml('a', 'pa', ['x']), sagaYaml('b', 'pb', ['x']), sagaYaml('c', 'pc', ['x']));
  const after = sagas(sagaYaml('a', 'pa', ['x']), sagaYaml('b', 'pb', ['x', 'y']), sagaYaml('d', 'pd', ['x']));
  const hash = (list: CompiledSaga[], name: string) => list.find((s) => s.name === name)?.hash ?? '';
  t.same(diffLoaded(before, after), {
    added: [{ name: 'd', hash: hash(after, 'd') }],
    removed: [{ name: 'c', hash: hash(before, 'c') }],
    changed: [{ name: 'b', oldHash: hash(before, 'b'), newHash: hash(after, 'b') }],
    unchanged: ['a'],
  });
  t.same(diffLoaded(before, before), { added: [], removed: [], changed: [], unchanged: ['a', 'b', 'c'] }, 'the same file changes nothing');
});

t.test('the registry after a reload: the file\'s sagas are current, every earlier one stays pinned', async (t) => {
  const v1 = sagas(sagaYaml('a', 'pa', ['x']), sagaYaml('gone', 'pg', ['x']));
  const v2 = sagas(sagaYaml('a', 'pa', ['x', 'y']), sagaYaml('new', 'pn', ['x']));
  const r = new Registry(v1);
  r.replace(v2);
  t.same(r.all().map((s) => s.name), ['a', 'new']);
  t.equal(r.current('gone'), undefined, 'a removed saga starts nothing');
  t.same(r.triggeredBy('pg.events', 'Begin'), [], 'not even by its trigger');
  for (const s of [...v1, ...v2]) t.equal(r.byDefinitionHash(s.hash), s, `${s.name} ${s.hash.slice(0, 8)} is still found by hash`);
  t.ok(r.inboundSubjects().includes('pg.replies'), 'the removed saga\'s replies are still consumed for its running instances');
  t.ok(r.inboundSubjects().includes('pn.replies'));
});

t.test('a token in the log is its fingerprint', async (t) => {
  t.match(tokenFingerprint('Bearer s3cret'), /^sha256:[0-9a-f]{12}$/);
  t.equal(tokenFingerprint('Bearer s3cret'), tokenFingerprint('bearer  s3cret'));
  t.not(tokenFingerprint('Bearer s3cret'), tokenFingerprint('Bearer other'));
  t.equal(tokenFingerprint(undefined), undefined);
  t.equal(tokenFingerprint('Basic abc'), undefined);
});
