/**
 * The web console's static files under `/ui`: the bundle `npm run build` writes to `dist/ui`.
 * They are open (no token): they hold no data, and every API call the console makes carries
 * the token the operator signs in with.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiErrorCode, errorBody } from './errors.js';

/** Route patterns of the console, reachable without the bearer token. */
export const uiRoutes: ReadonlySet<string> = new Set(['/ui', '/ui/', '/ui/:file']);

/** Content types of the files a build may hold; any other file is not served. */
const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

// Scripts and styles only from this origin, API calls only to it, never framed: the console
// shows operators' data, so an injected script or a framing page must not get at the token.
const securityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer | null;
  readonly etag: string;
}

/** A flat file name: no separator, no leading dot, so nothing outside the directory is named. */
const safeName = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)+$/;

/** Pure: whether `name` may name a console file (flat, no `..`, a known extension). */
export function isAssetName(name: string): boolean {
  return safeName.test(name) && Object.hasOwn(contentTypes, extname(name));
}

/** The built console of this package: `dist/ui` beside `package.json`, found from this file in `dist/` or in the sources. */
export function defaultUiDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'ui');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui');
}

/** Reads every servable file of `dir` into memory (a few hundred KB), or null when there is no build. */
function loadAssets(dir: string): Map<string, Asset> | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!isAssetName(name) || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    const type = contentTypes[extname(name)] ?? 'application/octet-stream';
    const zipped = type.startsWith('image/png') ? null : gzipSync(body, { level: 9 });
    assets.set(name, {
      type, body, gzip: zipped !== null && zipped.length < body.length ? zipped : null,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  return assets;
}

/** A name with a content hash (`app-Y5PCIKGE.js`): its content never changes, so browsers keep it. */
const hashedName = /-[A-Z0-9]{8}\.(js|css)$/;

function send(request: FastifyRequest, reply: FastifyReply, name: string, asset: Asset): FastifyReply {
  void reply.headers(securityHeaders).header('etag', asset.etag).header('vary', 'accept-encoding')
    // The page is revalidated on every load, so a new build is seen at once (an unchanged one
    // costs a 304); the scripts and styles it names are kept without asking again.
    .header('cache-control', hashedName.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache').type(asset.type);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  if (asset.gzip !== null && acceptsGzip) return reply.header('content-encoding', 'gzip').send(asset.gzip);
  return reply.send(asset.body);
}

/**
 * Registers `GET /ui` (a redirect to `/ui/`), `/ui/` (the console's page) and `/ui/<file>`
 * (its scripts and styles). Only flat names of files in the build are served, with their
 * content type; anything else is a 404. Without a build, `/ui/` says how to make one.
 */
export function registerUiRoutes(app: FastifyInstance, dir: string = defaultUiDir()): void {
  let assets: Map<string, Asset> | null = null;
  // Read on first use, and again while there is no build, so API-only uses never touch the disk.
  const current = (): Map<string, Asset> | null => (assets ??= loadAssets(dir));
  const quiet = { logLevel: 'warn' } as const;
  const missing = (reply: FastifyReply, what: string) =>
    reply.code(404).send(errorBody(404, ApiErrorCode.RouteNotFound, what));

  app.get('/ui', quiet, async (_request, reply) => reply.redirect('/ui/', 302));

  app.get('/ui/', quiet, async (request, reply) => {
    const page = current()?.get('index.html');
    if (page === undefined) return missing(reply, `the web console is not built (no ${join(dir, 'index.html')}); run npm run build`);
    return send(request, reply, 'index.html', page);
  });

  app.get<{ Params: { file: string } }>('/ui/:file', quiet, async (request, reply) => {
    const { file } = request.params;
    const asset = isAssetName(file) ? current()?.get(file) : undefined;
    if (asset === undefined) return missing(reply, `no console file ${JSON.stringify(file)}`);
    return send(request, reply, file, asset);
  });
}
