/**
 * PostgreSQL NOTIFY channels. Payloads are ids only (NOTIFY payloads are small); the listener reads
 * the rest. Sent inside the writing transaction, so PostgreSQL delivers them only on commit.
 */
export const CHANNEL_NOTIFICATIONS = 'kith_notifications';
export const CHANNEL_DELIVERIES = 'kith_deliveries';
