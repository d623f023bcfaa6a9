import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { parseRowCursor, type RowCursor } from '../db/pages/request-pages.js';
import { HEAD_ROOM, PageBytes, TAIL_ROOM } from '../db/pg-bytes.js';
import { AppError, invalid } from '../domain/errors.js';
import { refuseInput } from './plugins/auth.js';

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
  Type.String({
    maxLength: 128,
    description: 'Opaque position from a `next` link; used only with the exact limit and offset of that link',
  }),
);

/**
 * What a cursor was minted for: one member's list, at one `limit` and `offset`. Clients jump by
 * editing `offset` in a `next` link, so a cursor that does not match the request exactly is
 * ignored and the offset is served: it can never send a client to another page than it asked for.
 */
export interface CursorScope {
  /** The list and whose it is, e.g. `pending:42`. */
  list: string;
  window: Window;
}

const CURSOR_FORM = /^([a-z]+:\d{1,10})\|(\d{1,3})\|(\d{1,10})\|(.{1,40})$/;

/** The cursor text for the page at `scope` that starts after `row`. */
export function encodeCursor(scope: CursorScope, row: RowCursor): string {
  const { list, window } = scope;
  return Buffer.from(`${list}|${window.limit}|${window.offset}|${row.micros}.${row.id}`, 'latin1').toString(
    'base64url',
  );
}

/**
 * Decodes a `cursor` query parameter for the page at `scope`: the row to seek past, or undefined
 * when the cursor was minted for another list, limit or offset (the offset is served then). A
 * malformed cursor is a 400, as DRF's cursor pagination answers.
 */
export function readCursor(cursor: string | undefined, scope: CursorScope): RowCursor | undefined {
  if (cursor === undefined) return undefined;
  const match = CURSOR_FORM.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  const row = parseRowCursor(match?.[4]);
  if (!match || !row) throw invalid('Invalid cursor.', { cursor: ['Invalid cursor.'] });
  const minted = match[1] === scope.list && Number(match[2]) === scope.window.limit;
  return minted && Number(match[3]) === scope.window.offset ? row : undefined;
}

/**
 * `readCursor` for a route whose statement loads the member: a malformed cursor is bad input,
 * answered after the gate as every bad input is (see plugins/auth.ts `refuseInput`).
 */
export async function cursorAfterGate(
  request: FastifyRequest,
  cursor: string | undefined,
  scope: CursorScope,
): Promise<RowCursor | undefined> {
  try {
    return readCursor(cursor, scope);
  } catch (error) {
    if (error instanceof AppError) return refuseInput(request, error);
    throw error;
  }
}

/** The request's own absolute URL with `limit`/`offset` (and `cursor`) replaced, other parameters kept. */
function linkTo(request: FastifyRequest, window: Window, cursor?: string): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.set('limit', String(window.limit));
  if (window.offset > 0) url.searchParams.set('offset', String(window.offset));
  else url.searchParams.delete('offset');
  if (cursor) url.searchParams.set('cursor', cursor);
  else url.searchParams.delete('cursor');
  return url.toString();
}

/** A DRF limit/offset page: `next` and `previous` are absolute, null at either end. */
export function paginated<T>(request: FastifyRequest, window: Window, count: number, results: T[]) {
  const { limit, offset } = window;
  return {
    count,
    next: offset + limit < count ? linkTo(request, { limit, offset: offset + limit }) : null,
    previous: offset > 0 ? linkTo(request, { limit, offset: Math.max(0, offset - limit) }) : null,
    results,
  };
}

/**
 * The same page as `paginated`, as JSON text around items that are JSON already (built by the
 * database): nothing is parsed or serialized again. With `list` (the list and whose it is) and
 * the page's last row, `next` carries a cursor minted for exactly that next page.
 */
export function paginatedText(
  request: FastifyRequest,
  window: Window,
  page: { count: number; items: string | PageBytes; last?: RowCursor | null },
  list?: string,
): string | Buffer {
  const { limit, offset } = window;
  const { count } = page;
  const following = { limit, offset: offset + limit };
  const cursor = list && page.last ? encodeCursor({ list, window: following }, page.last) : undefined;
  const next = offset + limit < count ? JSON.stringify(linkTo(request, following, cursor)) : 'null';
  const previous =
    offset > 0 ? JSON.stringify(linkTo(request, { limit, offset: Math.max(0, offset - limit) })) : 'null';
  const head = `{"count":${count},"next":${next},"previous":${previous},"results":[`;
  const { items } = page;
  if (!(items instanceof PageBytes)) return `${head}${items}]}`;
  return aroundBytes(head, items);
}

/** Printable ASCII only (JSON text escapes the control characters). */
const ASCII = /^[ -~]*$/;
const CLOSE = Buffer.from(']}');

/**
 * The page's bytes: the envelope's head written into the room before the items (see db/pg-bytes.ts),
 * `]}` after them, no other copy. The head is ASCII (the links are percent-encoded), so its latin1
 * bytes are its UTF-8 bytes; one that is not, or does not fit, is concatenated instead.
 */
function aroundBytes(head: string, items: PageBytes): Buffer {
  const { buffer, start, end } = items;
  if (head.length > HEAD_ROOM || CLOSE.length > TAIL_ROOM || !ASCII.test(head)) {
    return Buffer.concat([Buffer.from(head, 'utf8'), buffer.subarray(start, end), CLOSE]);
  }
  const from = start - head.length;
  buffer.write(head, from, 'latin1');
  CLOSE.copy(buffer, end);
  return buffer.subarray(from, end + CLOSE.length);
}

/**
 * Sends `paginatedText`'s page. A page sent from the bytes PostgreSQL sent gives their buffer back
 * once the answer has gone out (see db/pg-bytes.ts); one that never goes out leaves it to the collector.
 */
export function sendPage(
  reply: FastifyReply,
  request: FastifyRequest,
  window: Window,
  page: { count: number; items: string | PageBytes; last?: RowCursor | null },
  list?: string,
): FastifyReply {
  const body = paginatedText(request, window, page, list);
  const { items } = page;
  if (items instanceof PageBytes) reply.raw.once('finish', () => items.release());
  return reply.type(JSON_TYPE).send(body);
}
