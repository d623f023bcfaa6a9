import type { WebhookConfig } from '../config.js';
import type { Database } from '../db/database.js';
import { findById } from '../db/repositories/users.js';
import * as repo from '../db/repositories/webhooks.js';
import { invalid, invalidFields, notFound } from '../domain/errors.js';
import { EVENT_TYPES } from '../domain/events.js';
import { type Ordering, parseOrdering } from '../domain/ordering.js';
import { type AttemptOrderField, type EndpointOrderField, SECRET_GRACE_MS } from '../domain/webhooks.js';
import { newSigningSecret } from '../webhooks/signing.js';
import { targetProblem } from '../webhooks/targets.js';
import { checkPassword } from './users.js';

/** The fields of an endpoint a client sets; `events` are the types it subscribes to. */
export interface EndpointInput {
  target?: string | undefined;
  description?: string | undefined;
  is_active?: boolean | undefined;
  ssl_cert_verification?: boolean | undefined;
  events?: Array<{ type: string }> | undefined;
}

export interface Page<T> {
  total: number;
  items: T[];
}

const KNOWN = new Set<string>(EVENT_TYPES);
const missingEndpoint = () => notFound('Webhook endpoint not found.');

/** The event types an endpoint can subscribe to: the ones kith produces. */
export const subscribableEventTypes = (): string[] => [...EVENT_TYPES];

/** The subscribed types, each once; an unknown type is a 400 naming `events`. */
function eventTypes(events: Array<{ type: string }>): string[] {
  const unknown = events.map((e) => e.type).filter((t) => !KNOWN.has(t));
  if (unknown.length > 0) {
    throw invalid(`events: unknown event type(s): ${unknown.join(', ')}.`, {
      events: [`Unknown event type(s): ${unknown.join(', ')}. See GET /api/v2/webhook/endpoint/event/.`],
    });
  }
  return [...new Set(events.map((e) => e.type))];
}

/** A target kith may not call (not http(s), credentials, a private address unless allowed) is a 400 naming `target`. */
async function checkTarget(target: string, config: WebhookConfig) {
  const problem = await targetProblem(target, config.allowPrivate);
  if (problem) throw invalidFields({ target: [problem] });
}

/** One endpoint with its event types; 404 when there is none. */
export async function getEndpoint(db: Database, id: number): Promise<repo.EndpointWithEvents> {
  const [endpoint] = await repo.findEndpoints(db, [id]);
  if (!endpoint) throw missingEndpoint();
  return endpoint;
}

/** Creates an endpoint with a fresh signing secret; the event types are checked before the target. */
export async function createEndpoint(
  db: Database,
  config: WebhookConfig,
  input: EndpointInput & { target: string; events: Array<{ type: string }> },
) {
  const types = eventTypes(input.events);
  await checkTarget(input.target, config);
  const id = await db.transaction().execute(async (tx) => {
    const created = await repo.insertEndpoint(tx, {
      target: input.target,
      description: input.description ?? '',
      is_active: input.is_active ?? true,
      ssl_cert_verification: input.ssl_cert_verification ?? true,
      signing_secret: newSigningSecret(),
    });
    await repo.replaceEventTypes(tx, created, types);
    return created;
  });
  return getEndpoint(db, id);
}

/** Changes the given fields (PUT sends them all, PATCH some); 400s for bad types or target come before the 404. */
export async function updateEndpoint(db: Database, config: WebhookConfig, id: number, input: EndpointInput) {
  const types = input.events ? eventTypes(input.events) : undefined;
  if (input.target !== undefined) await checkTarget(input.target, config);
  // An allow-list: whatever else the input carries is never stored.
  const fields = {
    target: input.target,
    description: input.description,
    is_active: input.is_active,
    ssl_cert_verification: input.ssl_cert_verification,
  };
  const patch = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const found = await db.transaction().execute(async (tx) => {
    if (!(await repo.updateEndpoint(tx, id, patch))) return false;
    if (types) await repo.replaceEventTypes(tx, id, types);
    return true;
  });
  if (!found) throw missingEndpoint();
  return getEndpoint(db, id);
}

export async function deleteEndpoint(db: Database, id: number) {
  if (!(await repo.deleteEndpoint(db, id))) throw missingEndpoint();
}

/** A page of endpoints, filtered by a part of their target. */
export async function listEndpoints(
  db: Database,
  query: {
    target?: string | undefined;
    ordering?: Ordering<EndpointOrderField> | undefined;
    limit: number;
    offset: number;
  },
): Promise<Page<repo.EndpointWithEvents>> {
  const { column, descending } = parseOrdering(query.ordering ?? '-created_at');
  const { ids, total } = await repo.listEndpointIds(db, {
    target: query.target,
    orderBy: column,
    descending,
    limit: query.limit,
    offset: query.offset,
  });
  return { total, items: await repo.findEndpoints(db, ids) };
}

/**
 * The endpoint's signing secret. A `password`, when sent, must be the admin's own (a string that
 * verifies): checked before the endpoint is looked up.
 */
export async function revealSecret(db: Database, viewerId: number, id: number, password: unknown): Promise<string> {
  const passwordMatches = async (text: string) => {
    const user = await findById(db, viewerId);
    return user !== undefined && (await checkPassword(user, text));
  };
  if (password !== undefined && (typeof password !== 'string' || !(await passwordMatches(password)))) {
    throw invalidFields({ password: ['The password is not correct.'] });
  }
  return (await getEndpoint(db, id)).signing_secret;
}

/** Replaces the signing secret; the old one keeps signing beside the new one for 24 hours. */
export async function expireSecret(db: Database, id: number) {
  const rotated = await repo.rotateSecret(db, id, newSigningSecret(), new Date(Date.now() + SECRET_GRACE_MS));
  if (!rotated) throw missingEndpoint();
  return getEndpoint(db, id);
}

/** A page of the endpoint's delivery attempts, newest first unless `ordering` says otherwise. */
export async function listAttempts(
  db: Database,
  id: number,
  query: { ordering?: Ordering<AttemptOrderField> | undefined; limit: number; offset: number },
): Promise<Page<repo.AttemptRow>> {
  await getEndpoint(db, id);
  const { column, descending } = parseOrdering(query.ordering ?? '-created_at');
  const { rows, total } = await repo.listAttempts(db, id, {
    orderBy: column,
    descending,
    limit: query.limit,
    offset: query.offset,
  });
  return { total, items: rows };
}

/**
 * Queues the events for the endpoint again, due now: 404 for the endpoint, or naming the events that
 * do not exist (the ones that do are queued all the same).
 */
export async function resendEvents(db: Database, id: number, events: number[]) {
  const found = await db.transaction().execute(async (tx) => {
    await getEndpoint(tx, id);
    return repo.requeue(tx, id, [...new Set(events)], new Date());
  });
  const missing = events.filter((e) => !found.includes(e));
  if (missing.length > 0) throw notFound(`Event(s) not found: ${missing.join(', ')}.`);
}

/** Records one delivery try and its consequences (delivery state, the endpoint's failure streak) in one transaction. */
export async function recordAttempt(db: Database, record: repo.AttemptRecord) {
  await db.transaction().execute((tx) => repo.recordAttempt(tx, record));
}
