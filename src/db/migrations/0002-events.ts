import { type Kysely, sql } from 'kysely';

// The event log (a transactional outbox), notifications, and webhook delivery.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE events (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      type text NOT NULL,
      created timestamptz NOT NULL DEFAULT now(),
      from_user_id integer NOT NULL,
      to_user_id integer NOT NULL,
      data jsonb NOT NULL
    )`.execute(db);

  await sql`
    CREATE TABLE notifications (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      type text NOT NULL CHECK (type IN ('connection_request', 'connection_accept', 'connection_cancel_request', 'connection_remove')),
      actor_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      event_id bigint NOT NULL REFERENCES events (id),
      request_id integer,
      created timestamptz NOT NULL DEFAULT now(),
      read_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC)`.execute(db);
  await sql`CREATE INDEX notifications_unseen_idx ON notifications (user_id) WHERE read_at IS NULL`.execute(db);
  await sql`CREATE INDEX notifications_request_idx ON notifications (request_id) WHERE request_id IS NOT NULL`.execute(
    db,
  );

  await sql`
    CREATE TABLE webhook_endpoints (
      id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      target text NOT NULL CHECK (length(target) <= 2000),
      description text NOT NULL DEFAULT '',
      is_active boolean NOT NULL DEFAULT true,
      ssl_cert_verification boolean NOT NULL DEFAULT true,
      signing_secret text NOT NULL,
      previous_secret text,
      previous_secret_expires timestamptz,
      failing_since timestamptz,
      disabled_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE webhook_endpoint_events (
      endpoint_id integer NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
      type text NOT NULL,
      added_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (endpoint_id, type)
    )`.execute(db);
  await sql`CREATE INDEX webhook_endpoint_events_type_idx ON webhook_endpoint_events (type)`.execute(db);

  // One row per (endpoint, event): claimed with SKIP LOCKED by pushing next_attempt_at forward
  // (a lease), so a worker that dies mid-delivery leaves the row to be retried, never lost.
  await sql`
    CREATE TABLE webhook_deliveries (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      endpoint_id integer NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
      event_id bigint NOT NULL REFERENCES events (id),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (endpoint_id, event_id)
    )`.execute(db);
  await sql`CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`.execute(
    db,
  );

  await sql`
    CREATE TABLE webhook_attempts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
      endpoint_id integer NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
      event_id bigint NOT NULL REFERENCES events (id),
      created_at timestamptz NOT NULL,
      sent_at timestamptz NOT NULL,
      http_request_body text NOT NULL,
      http_request_signature_header text NOT NULL,
      http_response_code integer,
      http_response_body text NOT NULL DEFAULT '',
      error text,
      next_retry timestamptz
    )`.execute(db);
  await sql`CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, created_at DESC, id DESC)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE webhook_attempts, webhook_deliveries, webhook_endpoint_events, webhook_endpoints, notifications, events`.execute(
    db,
  );
}
