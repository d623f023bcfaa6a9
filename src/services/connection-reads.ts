import type { GraphMode } from '../contracts/user.js';
import type { Database } from '../db/database.js';
import { connectionsPage, connectionsPageVersions } from '../db/pages/connection-pages.js';
import {
  type JsonPage,
  type PageVersions,
  type RequestPageQuery,
  requestPage,
  requestPageVersions,
  type ViewerPage,
  type ViewerPageVersions,
} from '../db/pages/request-pages.js';
import * as repo from '../db/repositories/connections.js';
import { findUserWithStatus } from '../db/repositories/users.js';
import type { ConnectionStatus } from '../domain/connection-state.js';
import type { FollowStatus } from '../domain/follow-state.js';

/** A status in either mode's vocabulary. */
type Status = ConnectionStatus | FollowStatus;

import { notFound } from '../domain/errors.js';

/**
 * The reads of the friendship graph. The lists come pre-rendered from db/pages (JSON text built by
 * PostgreSQL around stored user JSON); the checks return plain values.
 */

/**
 * A page of one of the member's request lists, loaded with the member and the community settings
 * in one statement: undefined when the member is missing or inactive (the gate decides on it).
 */
export function requestList(db: Database, memberId: number, query: RequestPageQuery): Promise<ViewerPage | undefined> {
  return requestPage(db, memberId, query);
}

/** What the page `requestList` would answer is derived from (its ETag inputs), without building it; undefined as there. */
export function requestListVersions(
  db: Database,
  memberId: number,
  query: RequestPageQuery,
): Promise<ViewerPageVersions | undefined> {
  return requestPageVersions(db, memberId, query);
}

/** What the page `connectionsOf` would answer is derived from, without building it; 404 for an unknown member. */
export async function connectionsVersions(
  db: Database,
  viewerId: number | null,
  userId: number,
  window: { mutual: boolean | undefined; limit: number; offset: number },
): Promise<PageVersions> {
  const versions = await connectionsPageVersions(db, viewerId, userId, window);
  if (!versions) throw notFound('User not found.');
  return versions;
}

/** A page of a member's connections as the viewer sees them (shared ones first); 404 for an unknown member. */
export async function connectionsOf(
  db: Database,
  viewerId: number | null,
  userId: number,
  window: { mutual: boolean | undefined; limit: number; offset: number },
): Promise<JsonPage> {
  const page = await connectionsPage(db, viewerId, userId, window);
  if (!page) throw notFound('User not found.');
  return page;
}

/** Whether the two are connected; 404 when the other is unknown or inactive. */
export async function isConnection(db: Database, viewerId: number, userId: number): Promise<boolean> {
  if (await repo.isConnected(db, viewerId, userId)) return true;
  if (!(await findUserWithStatus(db, viewerId, userId, 'friendship'))) throw notFound('User not found.');
  return false;
}

/**
 * My status towards a member, in the community's mode's vocabulary, and their graph version (the
 * answer's ETag input); 404 when they are unknown or inactive.
 */
export async function statusTowards(
  db: Database,
  viewerId: number,
  userId: number,
  mode: GraphMode,
): Promise<{ status: Status; version: string }> {
  const user = await findUserWithStatus(db, viewerId, userId, mode);
  if (!user) throw notFound('User not found.');
  return { status: user.connection_status as Status, version: user.graph_version };
}

/** My status towards each of these members, by id; ids that name no active member are left out. */
export async function statusesTowards(
  db: Database,
  viewerId: number,
  ids: readonly number[],
  mode: GraphMode,
): Promise<Record<string, Status>> {
  const rows = await repo.statuses(db, viewerId, [...new Set(ids)], mode);
  const statuses: Record<string, Status> = {};
  for (const row of rows) statuses[String(row.id)] = row.connection_status as Status;
  return statuses;
}
