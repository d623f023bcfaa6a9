import { type Kysely, sql } from 'kysely';
import type { GraphMode } from '../../contracts/user.js';
import type { DB } from '../schema.js';
import { connectionStatusSql, pageOf, type UserWithStatus } from './users.js';

type Executor = Kysely<DB>;

/** Whether `hider` hides `hidden`. */
export async function hides(db: Executor, hider: number, hidden: number): Promise<boolean> {
  const row = await db
    .selectFrom('user_hides')
    .select('hider_id')
    .where('hider_id', '=', hider)
    .where('hidden_id', '=', hidden)
    .executeTakeFirst();
  return row !== undefined;
}

/** The active members `hider` hides, by id. */
export async function hiddenIds(db: Executor, hider: number): Promise<number[]> {
  const rows = await db
    .selectFrom('user_hides as h')
    .innerJoin('users as u', 'u.id', 'h.hidden_id')
    .select('u.id')
    .where('h.hider_id', '=', hider)
    .where('u.is_active', '=', true)
    .orderBy('u.id')
    .execute();
  return rows.map((r) => r.id);
}

/** The user fields the hidden list filters on by exact value (case-insensitive), as the page lists them. */
export const HIDDEN_FILTER_FIELDS = ['username', 'real_name', 'gender', 'location', 'description'] as const;
export type HiddenFilterField = (typeof HIDDEN_FILTER_FIELDS)[number];

export interface HiddenListFilter {
  search?: string | undefined;
  fields: Partial<Record<HiddenFilterField, string>>;
  /** By `hidden_at` (when I hid them), or by a user column; ties by id. */
  ordering: { column: 'hidden_at' | 'id' | 'username' | 'date_joined'; descending: boolean };
  limit: number;
  offset: number;
}

/**
 * A page of the active members `hider` hides, with the viewer's status towards each, and their
 * total, in one statement: the total and the page come from the same rows, so `count`, `next`
 * and any offset agree.
 */
export async function listHidden(db: Executor, hider: number, filter: HiddenListFilter, mode: GraphMode) {
  const { where, order } = hiddenListSql(hider, filter);
  const { rows } = await sql<UserWithStatus & { total: number }>`
    SELECT t.total, p.* FROM (
      SELECT count(*)::int AS total FROM user_hides h JOIN users u ON u.id = h.hidden_id WHERE ${where}
    ) t
    LEFT JOIN LATERAL (
      SELECT u.*, ${connectionStatusSql(hider, sql`u.id`, mode)} AS connection_status
      FROM user_hides h JOIN users u ON u.id = h.hidden_id WHERE ${where} ${order}
      LIMIT ${filter.limit} OFFSET ${filter.offset}
    ) p ON true`.execute(db);
  return pageOf(rows);
}

/** The page `listHidden` would answer as ids and graph versions only (its ETag inputs), and the total. */
export async function listHiddenVersions(db: Executor, hider: number, filter: HiddenListFilter) {
  const { where, order } = hiddenListSql(hider, filter);
  const { rows } = await sql<{ total: number; id: number | null; graph_version: string }>`
    SELECT t.total, p.* FROM (
      SELECT count(*)::int AS total FROM user_hides h JOIN users u ON u.id = h.hidden_id WHERE ${where}
    ) t
    LEFT JOIN LATERAL (
      SELECT u.id, u.graph_version FROM user_hides h JOIN users u ON u.id = h.hidden_id WHERE ${where} ${order}
      LIMIT ${filter.limit} OFFSET ${filter.offset}
    ) p ON true`.execute(db);
  return pageOf(rows);
}

function hiddenListSql(hider: number, filter: HiddenListFilter) {
  const conditions = [sql`h.hider_id = ${hider}`, sql`u.is_active`];
  for (const field of HIDDEN_FILTER_FIELDS) {
    const value = filter.fields[field];
    if (value !== undefined) conditions.push(sql`lower(${sql.ref(`u.${field}`)}) = ${value.toLowerCase()}`);
  }
  if (filter.search) {
    const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conditions.push(sql`(u.username ILIKE ${pattern} OR u.real_name ILIKE ${pattern})`);
  }
  const where = sql.join(conditions, sql` AND `);
  const direction = filter.ordering.descending ? sql`DESC` : sql`ASC`;
  const column = filter.ordering.column === 'hidden_at' ? sql`h.created_at` : sql.ref(`u.${filter.ordering.column}`);
  return { where, order: sql`ORDER BY ${column} ${direction}, u.id ${direction}` };
}

/** Every hide a member made or is the object of (a deleted member's). */
export async function deleteHidesOf(db: Executor, userId: number) {
  await db
    .deleteFrom('user_hides')
    .where((eb) => eb.or([eb('hider_id', '=', userId), eb('hidden_id', '=', userId)]))
    .execute();
}
