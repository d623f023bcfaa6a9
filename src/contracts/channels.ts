/**
 * PostgreSQL NOTIFY channels. Payloads are ids only (NOTIFY payloads are small); the listener reads
 * the rest. Sent inside the writing transaction, so PostgreSQL delivers them only on commit.
 */
/**
 * `<member id>:<notification id>`: a notification for the member, pushed to their open sockets; or
 * `<member id>:closed`: the member was withdrawn (blocked, deactivated, deleted), their open sockets
 * are closed at once (1008) in every process, as their tokens stop working at the next request.
 */
export const CHANNEL_NOTIFICATIONS = 'kith_notifications';
/** The payload on `CHANNEL_NOTIFICATIONS` that closes a withdrawn member's sockets. */
export const sessionsClosed = (memberId: number) => `${memberId}:closed`;
export const CHANNEL_DELIVERIES = 'kith_deliveries';
/**
 * A member's write has committed: `<member id> <primary WAL position>`, sent after the commit by the
 * process that wrote, so every process sends that member's reads to replicas that have replayed it.
 */
export const CHANNEL_MEMBER_WRITES = 'kith_member_writes';
/**
 * What a tagged answer derives from has changed (migration 0020's triggers): the members' ids,
 * comma-separated, or `*` for everything (the community settings, a bulk load, a large statement).
 * Sent by triggers inside the writing transaction; each process's tag cache forgets those members.
 */
export const CHANNEL_VERSIONS = 'kith_versions';
