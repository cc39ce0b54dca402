/** The demo participants as a process, and a port nothing listens on. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PARTICIPANTS = fileURLToPath(new URL('../../dist/sagas/demo/participants.js', import.meta.url));

export interface Participants {
  /** SIGTERM, and resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Starts `node dist/sagas/demo/participants.js` and resolves once it says it is ready. */
export async function startParticipants(natsUrl: string, env: Record<string, string>): Promise<Participants> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NATS_URL: natsUrl, SAGA_LOG_LEVEL: 'info', ...env };
  delete childEnv.NODE_OPTIONS;
  const child: ChildProcess = spawn(process.execPath, [PARTICIPANTS], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`participants not ready in 20 s:\n${lines.join('\n')}`)), 20_000);
    if (child.stderr !== null) {
      createInterface({ input: child.stderr }).on('line', (l) => {
        if (lines.length < 200) lines.push(l);
        if (l.includes('"demo participants ready"')) { clearTimeout(timer); resolve(); }
      });
    }
    void exited.then(() => { clearTimeout(timer); reject(new Error(`participants exited:\n${lines.join('\n')}`)); });
  });
  try {
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    },
  };
}

/** A local port that was free a moment ago: nothing answers there. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
