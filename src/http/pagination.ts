import type { FastifyRequest } from 'fastify';

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

export interface Window {
  limit: number;
  offset: number;
}

/** The page asked for: limit defaults to 20 and is clamped to 100 (bad values never reach here: the schema rejects them). */
export function pageWindow(query: { limit?: number | undefined; offset?: number | undefined }): Window {
  return { limit: Math.min(query.limit ?? DEFAULT_LIMIT, MAX_LIMIT), offset: query.offset ?? 0 };
}

/** The request's own absolute URL with `limit`/`offset` replaced, other parameters kept. */
function linkTo(request: FastifyRequest, limit: number, offset: number): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.set('limit', String(limit));
  if (offset > 0) url.searchParams.set('offset', String(offset));
  else url.searchParams.delete('offset');
  return url.toString();
}

/** A DRF limit/offset page: `next` and `previous` are absolute, null at either end. */
export function paginated<T>(request: FastifyRequest, window: Window, count: number, results: T[]) {
  const { limit, offset } = window;
  return {
    count,
    next: offset + limit < count ? linkTo(request, limit, offset + limit) : null,
    previous: offset > 0 ? linkTo(request, limit, Math.max(0, offset - limit)) : null,
    results,
  };
}
