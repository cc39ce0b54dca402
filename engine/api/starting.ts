import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Socket } from 'node:net';

/** The answers of sagad's port while it starts, before the HTTP API listens on it. */
export interface StartingListener {
  /** The port it listens on (the one the API then takes, also when 0 asked for any). */
  readonly port: number;
  /** What sagad waits for now, as `/readyz` and the other routes say. */
  note(waitingFor: string): void;
  /** Stops listening, dropping its connections (a probe's keep-alive one), so that the API can take the port. */
  close(): Promise<void>;
}

/**
 * Listens on sagad's HTTP port from the start, before NATS and the store are reached: `/healthz`
 * answers 200 (the process is alive: a liveness probe must not restart it while PostgreSQL is
 * down at start, which would only wait again, after a crash-loop back-off), `/readyz` 503 with
 * what sagad waits for, every other route 503 `SAGA_ERR_NOT_READY`. Throws an error with code
 * EADDRINUSE when the port is taken, as the API's own listen would.
 */
export async function listenWhileStarting(host: string, port: number, tls?: { cert: Buffer; key: Buffer }): Promise<StartingListener> {
  let waitingFor = 'starting';
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
    };
    if (path === '/healthz') return send(200, { status: 'starting' });
    if (path === '/readyz') return send(503, { status: 'not_ready', ready: false, checks: { starting: { ok: false, detail: `sagad is starting: ${waitingFor}` } } });
    return send(503, { statusCode: 503, code: 'SAGA_ERR_NOT_READY', error: 'Service Unavailable', message: `sagad is starting: ${waitingFor}` });
  };
  const server: Server = tls === undefined ? createHttp(answer) : createHttps({ cert: tls.cert, key: tls.key }, answer);
  // Every socket, also one still in its TLS handshake (which closeAllConnections does not know):
  // a client that connected and sent nothing must not hold the port's handover.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  let closing: Promise<void> | null = null;
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    note: (what) => { waitingFor = what; },
    close: () => (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    })),
  };
}
