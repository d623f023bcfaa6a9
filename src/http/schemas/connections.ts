import { Type } from 'typebox';
import { ConnectionStatus } from '../../contracts/user.js';
import { Id, Nullable, PageQuery } from './common.js';
import { UserRef } from './users.js';

const DateTime = Type.String({ format: 'date-time' });

export const ConnectionRequest = Type.Object(
  {
    id: Type.Integer(),
    from_user: UserRef,
    to_user: UserRef,
    created: DateTime,
    rejected: Nullable(DateTime),
    viewed: Nullable(DateTime),
  },
  { $id: 'ConnectionRequest' },
);

export const StatusBody = Type.Object({ connection_status: ConnectionStatus });

export const ReceivedQuery = Type.Object({
  ...PageQuery.properties,
  rejected: Type.Optional(Type.Boolean({ description: 'List the requests I rejected instead of the pending ones' })),
});

export const ConnectionsQuery = Type.Object({
  ...PageQuery.properties,
  mutual: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 1, description: '1: only connections shared with me; 0: only the others' }),
  ),
});

export const StatusesBody = Type.Object({
  users: Type.Array(Id, { maxItems: 1000 }),
});

export const StatusesResult = Type.Object({
  connection_statuses: Type.Record(Type.String(), ConnectionStatus),
});
