import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { connectNats } from '../../engine/transport/connection.js';
import type { LogFn } from '../../engine/log.js';
import { NATS_MISSING_MESSAGE, startEmbeddedNats } from '../../engine/transport/embedded.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { ensureStreams } from '../../engine/transport/streams.js';

const embeddedModule = new URL('../../engine/transport/embedded.js', import.meta.url).href;

function recordingLog(): { log: LogFn; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  return { lines, log: (level, msg) => { lines.push({ level, msg }); } };
}

/** Publishes one message on `demo.x` and returns the stream's message count. */
async function publishOne(url: string, id: string): Promise<number> {
  const link = await connectNats({ url, jsTimeoutMs: 2_000 });
  try {
    const streams = await ensureStreams(link.jsm, ['demo.x'], 'create');
    await publishEnvelope(link.js, 'demo.x', new TextEncoder().encode(id), {}, id);
    return (await link.jsm.streams.info(streams['demo.x'] ?? '')).state.messages;
  } finally {
    await link.close();
  }
}

/** False once the process is gone or a zombie (an init that does not reap must not fail the test). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function parentOf(pid: number): number {
  // /proc/<pid>/stat: "pid (comm) state ppid ..."
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; await delay(50)) if (!alive(pid)) return true;
  return !alive(pid);
}

t.test('starts with JetStream, says so, stops, and keeps its store for the next start', async (t) => {
  const dir = t.testdir();
  const { log, lines } = recordingLog();
  const nats = await startEmbeddedNats(dir, log);
  t.teardown(() => nats.stop());
  t.match(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  const started = lines.find((l) => l.msg.startsWith('started embedded nats-server'));
  t.equal(started?.msg, `started embedded nats-server at ${nats.url}, store ${join(dir, 'nats')}`);
  t.equal(await publishOne(nats.url, 'one'), 1);
  const pid = Number(readFileSync(join(dir, 'nats', 'nats-server.pid'), 'utf8'));
  await nats.stop();
  t.notOk(alive(pid), 'nats-server has exited when stop() resolves');
  t.notOk(lines.some((l) => l.level === 'error'), 'a requested stop is no error');
  await nats.stop(); // a second stop is harmless

  const again = await startEmbeddedNats(dir, log);
  t.teardown(() => again.stop());
  t.equal(await publishOne(again.url, 'two'), 2, 'the stream and its message survived the restart');
});

t.test('a second start on the same store waits until the first server has exited', async (t) => {
  const dir = t.testdir();
  const first = await startEmbeddedNats(dir, recordingLog().log);
  t.teardown(() => first.stop());
  t.equal(await publishOne(first.url, 'first'), 1);
  let waiting: () => void = () => undefined;
  const warned = new Promise<void>((resolve) => { waiting = resolve; });
  const second = startEmbeddedNats(dir, (level, msg) => { if (level === 'warn' && msg.includes('still uses the store')) waiting(); });
  await warned;
  await first.stop();
  const nats = await second;
  t.teardown(() => nats.stop());
  t.equal(await publishOne(nats.url, 'second'), 2, 'the second server has the first one\'s data');
});

t.test('an unexpected exit is logged as an error and told to the caller', async (t) => {
  const dir = t.testdir();
  const { log, lines } = recordingLog();
  let told!: () => void;
  const exited = new Promise<void>((r) => { told = r; });
  const nats = await startEmbeddedNats(dir, log, () => told());
  t.teardown(() => nats.stop());
  process.kill(Number(readFileSync(join(dir, 'nats', 'nats-server.pid'), 'utf8')), 'SIGKILL');
  await exited;
  t.ok(lines.some((l) => l.level === 'error' && l.msg === 'embedded nats-server exited unexpectedly'));
});

t.test('without nats-server on PATH it stops with a sentence saying how to get one', async (t) => {
  const saved = process.env.PATH;
  process.env.PATH = t.testdir({ bin: {} });
  const pending = startEmbeddedNats(t.testdir(), recordingLog().log);
  process.env.PATH = saved;
  await t.rejects(pending, { code: 'SAGA_ERR_NATS_MISSING', message: NATS_MISSING_MESSAGE });
  t.equal(NATS_MISSING_MESSAGE, 'nats-server was not found on PATH; install it (Debian: apt-get install -y nats-server) or set NATS_URL to an existing server');
});

t.test('kill -9 of the parent takes nats-server down too; the next start reuses the store', async (t) => {
  const dir = t.testdir();
  const script = `
    const { startEmbeddedNats } = await import(${JSON.stringify(embeddedModule)});
    const nats = await startEmbeddedNats(${JSON.stringify(dir)}, () => {});
    console.log(nats.url);
    setInterval(() => {}, 60000);`;
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(() => { child.kill('SIGKILL'); });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', () => reject(new Error('the child exited before it printed a URL')));
  });
  t.equal(await publishOne(url, 'before'), 1);
  const server = Number(readFileSync(join(dir, 'nats', 'nats-server.pid'), 'utf8'));
  const watchdog = parentOf(server);
  t.equal(parentOf(watchdog), child.pid, 'the server runs under a watchdog that is the child of sagad');

  child.kill('SIGKILL');
  await exited;
  t.ok(await gone(server, 8_000), 'nats-server exited after its parent was killed');
  t.ok(await gone(watchdog, 2_000), 'the watchdog exited too');

  const again = await startEmbeddedNats(dir, recordingLog().log);
  t.teardown(() => again.stop());
  t.equal(await publishOne(again.url, 'after'), 2, 'JetStream data survived the kill');
});

t.test('sagad on its embedded nats-server stops (exit 1) when that server dies, for a supervisor to restart both', async (t) => {
  const dir = t.testdir();
  const env: NodeJS.ProcessEnv = {
    ...process.env, SAGA_DB: join(dir, 'sagad.db'), SAGA_HTTP_PORT: '0', SAGA_HTTP_HOST: '127.0.0.1',
    SAGA_DEFINITIONS: new URL('../../saga-definitions.yaml', import.meta.url).pathname,
  };
  delete env.NATS_URL;
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [new URL('../../dist/engine/main.js', import.meta.url).pathname], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  const lines: string[] = [];
  const ready = new Promise<void>((resolve) => createInterface({ input: child.stderr }).on('line', (l) => {
    lines.push(l);
    if (l.includes('"msg":"sagad ready"')) resolve();
  }));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await ready;
  process.kill(Number(readFileSync(join(dir, 'nats', 'nats-server.pid'), 'utf8')), 'SIGKILL');
  t.equal(await exited, 1, 'exit code 1');
  t.ok(lines.some((l) => l.includes('the embedded nats-server is gone; stopping')), 'saying why', { lines });
});
