import { assertNever } from '../../engine/core/assert-never.js';

/** The console's pages as hash routes (`#/instances/ID`), so the server serves one page and links work. */

/** A page of the console and what it shows. */
export type Route =
  | { readonly page: 'overview' }
  | { readonly page: 'instances'; readonly query: Readonly<Record<string, string>> }
  | { readonly page: 'instance'; readonly id: string }
  | { readonly page: 'definitions' }
  | { readonly page: 'definition'; readonly name: string; readonly hash: string | null }
  | { readonly page: 'dlq' }
  | { readonly page: 'letter'; readonly id: string }
  | { readonly page: 'not-found'; readonly path: string };

/** Filters of the instance list kept in the URL, in the order the form shows them. */
export const listFilters = ['saga', 'state', 'key', 'correlationId', 'since', 'until'] as const;

function queryOf(search: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) if (v !== '') out[k] = v;
  return out;
}

/** Pure: the route of a location hash (`#/definitions/order-fulfillment?hash=ab12`). */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', search = ''] = raw.split('?', 2);
  const parts = pathPart.split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [first, second] = parts;
  const query = queryOf(search);
  if (parts.length === 0) return { page: 'overview' };
  if (first === 'instances' && parts.length === 1) return { page: 'instances', query };
  if (first === 'instances' && second !== undefined && parts.length === 2) return { page: 'instance', id: second };
  if (first === 'definitions' && parts.length === 1) return { page: 'definitions' };
  if (first === 'definitions' && second !== undefined && parts.length === 2) return { page: 'definition', name: second, hash: query.hash ?? null };
  if (first === 'dlq' && parts.length === 1) return { page: 'dlq' };
  if (first === 'dlq' && second !== undefined && parts.length === 2) return { page: 'letter', id: second };
  return { page: 'not-found', path: `/${pathPart.replace(/^\//, '')}` };
}

/** Pure: the hash link of a route; `parseRoute(href(r))` gives `r` back. */
export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case 'overview': return '#/';
    case 'instances': {
      const qs = new URLSearchParams(Object.entries(route.query).filter(([, v]) => v !== '')).toString();
      return `#/instances${qs === '' ? '' : `?${qs}`}`;
    }
    case 'instance': return `#/instances/${e(route.id)}`;
    case 'definitions': return '#/definitions';
    case 'definition': return `#/definitions/${e(route.name)}${route.hash === null ? '' : `?hash=${e(route.hash)}`}`;
    case 'dlq': return '#/dlq';
    case 'letter': return `#/dlq/${e(route.id)}`;
    case 'not-found': return `#${route.path}`;
    default: return assertNever(route);
  }
}
