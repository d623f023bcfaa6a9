import { type Static, type TSchema, Type } from 'typebox';
import { orderings } from '../../domain/ordering.js';

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ErrorBody = Type.Object(
  {
    detail: Type.String(),
    code: Type.String(),
    errors: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
  },
  { $id: 'Error', additionalProperties: true },
);

/** Postgres `integer` ids: anything outside this range cannot name a row. */
export const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });

export const IdParams = Type.Object({ id: Id });

/**
 * The `:id` path segment: decimal digits only, so a word where an id goes (`/user/abc/`,
 * `/user/12abc/…`) is a path kith does not have — 404, like any unknown path — instead of a 400 from
 * the id's schema. Digits that cannot name a row (0, 2147483648) still reach the schema: 400.
 */
export const ID_SEGMENT = ':id(^\\d+$)';

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Results per page (default 20, at most 100)' })),
  // Bounded so that a huge offset never reaches the database as a bigint overflow (a 500).
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647, description: 'Index of the first result' })),
});

/** The optional `ordering` parameter of a list: each field ascending or descending (`-field`). */
export const OrderingParam = <const F extends string>(fields: readonly F[]) =>
  Type.Optional(Type.Union(orderings(fields).map((v) => Type.Literal(v))));

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    count: Type.Integer(),
    next: Nullable(Type.String({ format: 'uri' })),
    previous: Nullable(Type.String({ format: 'uri' })),
    results: Type.Array(item),
  });

/**
 * `schema` with `example` as its one example: the OpenAPI document shows it as the example of the
 * request or response body (a test checks every body has one, and that it is valid).
 */
export const withExample = <T extends TSchema>(schema: T, example: unknown): T => ({ ...schema, examples: [example] });

const errorResponse = (description: string, example: Static<typeof ErrorBody>) =>
  withExample({ ...Type.Ref('Error'), description }, example);

/** The error answers a route may give, by status; the examples are answers kith gives. */
export const errors = {
  400: errorResponse('Bad request', {
    detail: 'id: Must be an integer.',
    code: 'invalid',
    errors: { id: ['Must be an integer (params).'] },
  }),
  401: errorResponse('Not authenticated', {
    detail: 'Authentication credentials were not provided.',
    code: 'not_authenticated',
  }),
  403: errorResponse('Forbidden', {
    detail: 'You do not have permission to perform this action.',
    code: 'permission_denied',
  }),
  404: errorResponse('Not found', { detail: 'Not found.', code: 'not_found' }),
} as const;

/** The 429 of a route with its own limit (docs/security.md); the per-address ceiling may answer it on any route. */
export const throttledResponse = errorResponse(
  'Too many requests: the Retry-After header says in how many seconds to try again',
  { detail: 'Request was throttled. Expected available in 3512 seconds.', code: 'throttled' },
);
