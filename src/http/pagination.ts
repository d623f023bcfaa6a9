import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { parseRowCursor, type RowCursor } from '../db/repositories/connections.js';
import { invalid } from '../domain/errors.js';

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

export const JSON_TYPE = 'application/json; charset=utf-8';

export interface Window {
  limit: number;
  offset: number;
}

/** The page asked for: limit defaults to 20 and is clamped to 100 (bad values never reach here: the schema rejects them). */
export function pageWindow(query: { limit?: number | undefined; offset?: number | undefined }): Window {
  return { limit: Math.min(query.limit ?? DEFAULT_LIMIT, MAX_LIMIT), offset: query.offset ?? 0 };
}

/**
 * The opaque `cursor` that kith adds to `next` links beside `limit` and `offset`: where the previous
 * page ended, so the next one seeks in the index instead of skipping `offset` rows. Clients that
 * build their own links with `offset` alone get the same pages.
 */
export const CursorParam = Type.Optional(
  Type.String({ maxLength: 64, description: 'Opaque position from a `next` link; takes precedence over offset' }),
);

/** Decodes a `cursor` query parameter; a malformed one is a 400, as DRF's cursor pagination answers. */
export function readCursor(cursor: string | undefined): RowCursor | undefined {
  if (cursor === undefined) return undefined;
  const parsed = parseRowCursor(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!parsed) throw invalid('Invalid cursor.', { cursor: ['Invalid cursor.'] });
  return parsed;
}

const encodeCursor = (cursor: RowCursor) =>
  Buffer.from(`${cursor.micros}.${cursor.id}`, 'latin1').toString('base64url');

/** The request's own absolute URL with `limit`/`offset` (and `cursor`) replaced, other parameters kept. */
function linkTo(request: FastifyRequest, limit: number, offset: number, cursor?: RowCursor | null): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.set('limit', String(limit));
  if (offset > 0) url.searchParams.set('offset', String(offset));
  else url.searchParams.delete('offset');
  if (cursor) url.searchParams.set('cursor', encodeCursor(cursor));
  else url.searchParams.delete('cursor');
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

/**
 * The same page as `paginated`, as JSON text around items that are JSON already (built by the
 * database): nothing is parsed or serialized again. `last` makes `next` carry a cursor.
 */
export function paginatedText(
  request: FastifyRequest,
  window: Window,
  page: { count: number; items: string; last?: RowCursor | null },
): string {
  const { limit, offset } = window;
  const { count } = page;
  const next = offset + limit < count ? JSON.stringify(linkTo(request, limit, offset + limit, page.last)) : 'null';
  const previous = offset > 0 ? JSON.stringify(linkTo(request, limit, Math.max(0, offset - limit))) : 'null';
  return `{"count":${count},"next":${next},"previous":${previous},"results":[${page.items}]}`;
}
