import { CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely';
import type { DB } from './schema.js';

/** Where a named value goes in a FixedStatement's text. */
class Slot {
  constructor(readonly name: string) {}
}

type SlotOf<P> = <K extends keyof P & string>(name: K) => RawBuilder<P[K]>;

/**
 * A statement whose text is the same on every call, built with Kysely's `sql` tag once (on first
 * use) with named slots where the values go. A call fills the slots and executes: no query tree is
 * built or compiled per request, which on the hottest reads cost more CPU than sending the query.
 * It still runs through Kysely (its driver, pool and query log).
 */
export class FixedStatement<P extends Record<string, unknown>, R> {
  #compiled: { sql: string; slots: string[] } | undefined;

  constructor(private readonly build: (slot: SlotOf<P>) => RawBuilder<R>) {}

  async execute(db: Kysely<DB>, params: P): Promise<R[]> {
    const compiled = this.compile(db);
    const values = compiled.slots.map((name) => params[name]);
    const { rows } = await db.executeQuery<R>(CompiledQuery.raw(compiled.sql, values));
    return rows;
  }

  /** The statement's text and the slot each `$n` takes its value from (the benchmark replays it). */
  compile(db: Kysely<DB>): { sql: string; slots: string[] } {
    return this.#compiled ?? this.#compile(db);
  }

  #compile(db: Kysely<DB>) {
    const slot = (name: string) => sql.val(new Slot(name));
    const { sql: text, parameters } = this.build(slot as SlotOf<P>).compile(db);
    const slots = parameters.map((p) => {
      if (!(p instanceof Slot)) throw new Error(`FixedStatement: a value outside a slot (${String(p)})`);
      return p.name;
    });
    this.#compiled = { sql: text, slots };
    return this.#compiled;
  }
}
