/** What a bench case is, what it is given, and the small helpers the cases share. */
import type autocannon from 'autocannon';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.js';
import type { Dataset } from '../dataset.js';

/** One load case: a title, the requests autocannon sends, and optional steps before and after. */
export interface LoadCase {
  id: string;
  title: string;
  /** The status every answer should have (default: any 2xx); others count as non-2xx do. */
  expectStatus?: number;
  /** A fresh request list for one autocannon run (the warm-up and the measured run each get one). */
  requests(): autocannon.Request[];
  /** Runs before the warm-up. */
  setup?(): Promise<void>;
  /**
   * Runs after the measured run, while the server is still up; returns the note said under the
   * table, and for a case that writes, whether it left the dataset as it found it.
   */
  finish?(): Promise<Finished> | Finished;
  /** Runs once after all cases, while the server is still up, even when a case failed: undoes what setup changed. */
  teardown?(): Promise<void>;
}

/** What a case's finish says: its note, or its note and whether the dataset was restored. */
export type Finished = string | undefined | { note: string; restored: boolean };

/** Everything a case may use. */
export interface CaseWorld {
  dataset: Dataset;
  /** A bearer token for every member a case acts as. */
  tokens: Map<number, string>;
  /** The server's address, for work a case does outside autocannon (case 7's undo). */
  base: string;
  /** autocannon's concurrency. */
  connections: number;
  /** The bench's own database handle, for reads only: the server makes every change. */
  db: Kysely<DB>;
}

/** A GET as a member. */
export function get(path: string, auth: string): autocannon.Request {
  return { method: 'GET', path, headers: { authorization: auth } };
}

/** Cycles through a list, one item per request, across all connections. */
export function rotate<T>(items: T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length]!;
}
