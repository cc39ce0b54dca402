/**
 * A definition compiled again from the store for an instance after start-up (a completed child
 * saga its parent compensates, whose definition was not pinned at start) is handed to
 * `onPinned` before the instance decides anything with it, so that its subjects are consumed
 * before its commands go out; should that fail, the next input asks again.
 */
import t from 'tap';
import { formatDefinitionError, loadDefinitionsText } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import type { CompiledSaga } from '../../engine/core/index.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { rig } from './engine-rig.js';

const yaml = (prefix: string) => `
version: 1
sagas:
  - name: order
    defaults: { timeout: 1h }
    steps:
      - name: reserve
        command: { subject: ${prefix}.commands, type: Reserve }
        reply: { subject: ${prefix}.replies, success: [Reserved] }
        compensate:
          command: { subject: ${prefix}.commands, type: Release }
          reply: { subject: ${prefix}.replies, success: [Released] }
`;

function compiled(text: string): CompiledSaga[] {
  const r = loadDefinitionsText(text, 'v2.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  return r.sagas;
}

t.test('an instance whose stored definition is not loaded: onPinned is told of it before it is used, once; a failure asks again', async (t) => {
  const r = rig(t, yaml('old'));
  await r.engine.rememberDefinitions();
  const { state } = await r.engine.start({ saga: 'order', input: {}, id: 'o-1' });
  // A restart with the file changed: only the new version is loaded.
  const pinned: CompiledSaga[] = [];
  let fail = true;
  const engine = new Engine({
    store: r.engine.deps.store, registry: new Registry(compiled(yaml('new'))), log: silentLog,
    onPinned: async (saga) => {
      pinned.push(saga);
      if (fail) throw new Error('the consumer of old.replies could not start');
    },
  });
  await t.rejects(engine.cancel('o-1', 'first try'), /could not start/, 'the input fails while its subjects are not consumed');
  t.equal((await engine.getInstance('o-1'))?.status, 'running', 'and changed nothing');
  fail = false;
  const after = await engine.cancel('o-1', 'second try');
  t.equal(after.status, 'compensating', 'the next input asks again, and goes on once they are');
  await engine.cancel('o-1', 'third try').catch(() => undefined);
  t.same(pinned.map((s) => s.hash), [state.definitionHash, state.definitionHash], 'told of the stored definition before each use until it was pinned, then not again');
  t.same(engine.deps.registry.inboundSubjects().sort(), ['new.replies', 'old.replies'], 'pinned: its subjects are the registry’s');
});
