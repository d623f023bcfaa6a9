/**
 * PostgreSQL NOTIFY channels. Payloads are ids only (NOTIFY payloads are small); the listener reads
 * the rest. Sent inside the writing transaction, so PostgreSQL delivers them only on commit.
 */
export const CHANNEL_NOTIFICATIONS = 'kith_notifications';
export const CHANNEL_DELIVERIES = 'kith_deliveries';
/**
 * A member's write has committed: `<member id> <primary WAL position>`, sent after the commit by the
 * process that wrote, so every process sends that member's reads to replicas that have replayed it.
 */
export const CHANNEL_MEMBER_WRITES = 'kith_member_writes';
