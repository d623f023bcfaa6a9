import { CompiledQuery, type Kysely } from 'kysely';
import { named } from '../pg-driver.js';
import type { DB } from '../schema.js';

/**
 * The three shapes of a list page that costs the same at any depth, shared by every list of
 * db/pages: from the start (an index walk of `offset + limit` entries, for shallow pages), after a
 * cursor (a seek past the last row of the previous page), and by day (a deep offset first finds its
 * day in per-day counts, then skips less than a day of entries).
 */
export type Shape = 'from_start' | 'after_cursor' | 'by_day';

/** The `$n` of a statement's named parameters, numbered in order of first use. */
export function parameterSlots<Name extends string>() {
  const slots: Name[] = [];
  const slot = (name: Name, cast = '') => {
    if (!slots.includes(name)) slots.push(name);
    return `$${slots.indexOf(name) + 1}${cast}`;
  };
  return { slots, slot };
}

export interface PageSpec<Name extends string> {
  /** `<table> <alias>` the rows come from. */
  from: string;
  columns: string;
  where: string;
  /** The newest-first order: `<alias>.created DESC, <tie-breaker> DESC`. */
  created: string;
  tieBreaker: string;
  /** The per-day counts for `by_day`: their table, the column naming whose list, its value, the count column. */
  days?: { table: string; owner: string; ownerValue: string; count: string };
  slot: (name: Name, cast?: string) => string;
}

type PageParams = 'limit' | 'offset' | 'micros' | 'afterId';

/** The SQL of one page in one shape (the rows, in the list's order, with the spec's columns). */
export function pageSql<Name extends string>(shape: Shape, spec: PageSpec<Name | PageParams>): string {
  const { from, columns, where, created, tieBreaker, slot } = spec;
  const order = `ORDER BY ${created} DESC, ${tieBreaker} DESC`;
  if (shape === 'after_cursor') {
    return `SELECT ${columns} FROM ${from} WHERE ${where}
        AND (${created}, ${tieBreaker}) < (timestamptz 'epoch' + ${slot('micros', '::bigint')} * interval '1 microsecond', ${slot('afterId', '::int')})
        ${order} LIMIT ${slot('limit')}`;
  }
  if (shape === 'by_day') {
    if (!spec.days) throw new Error('a by_day page needs per-day counts');
    const { table, owner, ownerValue, count } = spec.days;
    return `
      SELECT p.* FROM (
        SELECT d.day, d.upto - d.n AS before FROM (
          SELECT day, ${count} AS n, sum(${count}) OVER (ORDER BY day DESC) AS upto
          FROM ${table} WHERE ${owner} = ${ownerValue}
        ) d WHERE d.upto > ${slot('offset')} ORDER BY d.day DESC LIMIT 1
      ) s CROSS JOIN LATERAL (
        SELECT ${columns} FROM ${from}
        WHERE ${where} AND ${created} < timestamptz 'epoch' + (s.day + 1) * interval '1 day'
        ${order} OFFSET ${slot('offset')} - s.before LIMIT ${slot('limit')}
      ) p`;
  }
  return `SELECT ${columns} FROM ${from} WHERE ${where} ${order} LIMIT ${slot('limit')} OFFSET ${slot('offset')}`;
}

/** A fixed statement: its name (prepared once per connection), text, and which parameter each `$n` takes. */
export interface PageStatement<Name extends string> {
  name: string;
  text: string;
  slots: Name[];
}

/** Runs a fixed statement as its named statement with these parameters; its one row, if any. */
export async function runPageStatement<Name extends string, Row>(
  db: Kysely<DB>,
  statement: PageStatement<Name>,
  params: Record<Name, unknown>,
): Promise<Row | undefined> {
  const compiled = CompiledQuery.raw(
    statement.text,
    statement.slots.map((slot) => params[slot]),
  );
  const { rows } = await db.executeQuery<Row>(named(statement.name, compiled));
  return rows[0];
}
