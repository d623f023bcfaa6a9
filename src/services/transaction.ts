import type { Database } from '../db/database.js';

/** A Kysely transaction over kith's database, as services pass it to repositories. */
export type Transaction = Parameters<Parameters<ReturnType<Database['transaction']>['execute']>[0]>[0];
