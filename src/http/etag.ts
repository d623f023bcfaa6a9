import { hash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PageVersions } from '../db/pages/request-pages.js';
import { type TagDependencies, tagKey } from './tag-cache.js';

/**
 * Free re-reads: every list and user response carries a strong ETag derived from what the answer
 * depends on — never from its bytes — and `Cache-Control: private, no-cache`, so a browser keeps it
 * and asks again with `If-None-Match`; a match answers 304 without building the answer.
 *
 * The tag hashes the request's own identity (method, route, path and query parameters as validated,
 * the origin the `next` links are built on, the viewer and the community's mode) with the versions
 * the route's data gives (`parts`): the viewer's `graph_version`, the owner's, the page's count and
 * the max `json_version` over its items (migration 0016 says what bumps them). A route computes the
 * same parts with its cheap tag statement (for a conditional request) and with its full page.
 */
export type TagPart = string | number | boolean | null | undefined;

export const CACHE_CONTROL = 'private, no-cache';

/** The strong ETag of this request's answer, given the versions its data has now. */
export function entityTag(request: FastifyRequest, parts: readonly TagPart[]): string {
  const identity = [
    request.method,
    request.routeOptions.url,
    JSON.stringify(sorted(request.params)),
    JSON.stringify(sorted(request.query)),
    `${request.protocol}://${request.host}`,
    request.viewer?.id ?? request.tokenUserId ?? 'anonymous',
    request.community?.followEnabled ? 'follow' : 'friendship',
  ];
  return `"${hash('sha1', JSON.stringify([identity, parts]), 'base64url')}"`;
}

function sorted(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value ?? null;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Whether the request is conditional (`If-None-Match` sent): only then is a tag statement worth running. */
export function isConditional(request: FastifyRequest): boolean {
  return typeof request.headers['if-none-match'] === 'string';
}

/** Whether `If-None-Match` names `tag` (or is `*`); the weak comparison RFC 9110 asks of this header. */
export function matches(request: FastifyRequest, tag: string): boolean {
  const header = request.headers['if-none-match'];
  if (typeof header !== 'string') return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === tag);
}

/** Sets the ETag and the cache policy on an answer. */
export function tagged(reply: FastifyReply, tag: string): FastifyReply {
  return reply.header('etag', tag).header('cache-control', CACHE_CONTROL);
}

/** 304 Not Modified, with the tag and the cache policy, and no body. */
export function notModified(reply: FastifyReply, tag: string) {
  return tagged(reply, tag).code(304).send();
}

/**
 * The conditional half of a tagged route: on a conditional request whose `If-None-Match` names the
 * tag of `parts` (read by the route's cheap tag statement), sends 304 and returns true. With `deps`,
 * the tag is remembered (tag-cache.ts) for the next re-read to be answered without the database.
 */
export function sentNotModified(
  request: FastifyRequest,
  reply: FastifyReply,
  parts: readonly TagPart[],
  deps?: TagDependencies,
): boolean {
  const tag = entityTag(request, parts);
  if (!matches(request, tag)) return false;
  if (deps) remember(request, tag, deps);
  void notModified(reply, tag);
  return true;
}

/** Tags a full answer; with `deps`, remembers the tag (see `sentNotModified`). */
export function tagAnswer(
  request: FastifyRequest,
  reply: FastifyReply,
  parts: readonly TagPart[],
  deps?: TagDependencies,
): FastifyReply {
  const tag = entityTag(request, parts);
  if (deps) remember(request, tag, deps);
  return tagged(reply, tag);
}

/**
 * Remembers this request's tag in the process's tag cache. Only answers read on the primary: a
 * replica's may lag behind changes this process has already heard of, and would then be remembered
 * past them.
 */
function remember(request: FastifyRequest, tag: string, deps: TagDependencies) {
  const cache = request.server.tagCache;
  if (cache && request.reads.target === 'primary') cache.remember(tagKey(request), request.tagSince, tag, deps);
}

/**
 * What a list page derives from, for the tag cache: the viewer (their row: the statuses, their
 * admission), the list's owner and the page's items.
 */
export function pageDependencies(
  viewer: { id: number; tokens_not_before: number } | null,
  ownerId: number,
  versions: PageVersions,
): TagDependencies {
  const members = versions.itemIds ? versions.itemIds.split(',').map(Number) : [];
  members.push(ownerId);
  if (viewer) members.push(viewer.id);
  return { members, notBefore: viewer?.tokens_not_before ?? 0 };
}

/** A list page's tag parts: the viewer's graph version (null: anonymous) and the page's own versions. */
export function pageTagParts(viewerVersion: string | null, versions: PageVersions): TagPart[] {
  return [viewerVersion, versions.owner, versions.count, versions.items];
}

/**
 * A user list's tag parts (lists rendered from user rows, ordered by any user field): the viewer's
 * graph version (the statuses), the total, which users in which order, and the newest of their
 * graph versions (any change of any of their rows).
 */
export function rowsTagParts(
  viewerVersion: string,
  total: number,
  items: ReadonlyArray<{ id: number | null; graph_version: string }>,
): TagPart[] {
  return [viewerVersion, total, items.map((u) => u.id).join(','), maxVersion(items.map((u) => u.graph_version))];
}

/** The highest of these versions (bigint text from one sequence), null for none. */
export function maxVersion(versions: Iterable<string | null | undefined>): string | null {
  let max: string | null = null;
  for (const v of versions) {
    if (v == null) continue;
    if (max === null || v.length > max.length || (v.length === max.length && v > max)) max = v;
  }
  return max;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers with an ETag and honours If-None-Match (documented by `documentTagged`). */
    etag?: boolean;
  }
}

/**
 * A tagged route's OpenAPI schema: the If-None-Match header it reads, the ETag and Cache-Control
 * its 200 carries, and its 304. Documentation only: the header is never validated.
 */
export function documentTagged<S extends { headers?: unknown; response?: unknown }>(schema: S): S {
  const response = (schema.response ?? {}) as Record<string, Record<string, unknown>>;
  const ok = response['200'];
  return {
    ...schema,
    headers: {
      type: 'object',
      properties: {
        'if-none-match': {
          type: 'string',
          description: 'The ETag of an earlier answer: 304 when the answer has not changed since',
        },
      },
    },
    response: {
      ...response,
      ...(ok && {
        200: {
          ...ok,
          headers: {
            ETag: { type: 'string', description: 'Strong; derived from what the answer depends on' },
            'Cache-Control': { type: 'string', description: '`private, no-cache`' },
          },
        },
      }),
      304: { description: 'Not Modified: the If-None-Match tag is current; no body', type: 'null' },
    },
  };
}
