import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/**
 * Lets browsers on the configured origins call the API (SelfCommunity's widgets on a community's own site).
 * Off when no origin is configured. kith authenticates with the Authorization header, never with cookies,
 * so no credentials are allowed: `*` is then a valid answer, and a listed origin is echoed with `Vary: Origin`.
 * Registered before authentication, so preflights and 401s carry the headers the browser needs to read them.
 */
export async function registerCors(app: FastifyInstance, origins: readonly string[]) {
  if (origins.length === 0) return;
  await app.register(cors, {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // Lists and users carry an ETag (http/etag.ts); a widget may read it to revalidate by itself.
    exposedHeaders: ['ETag'],
    credentials: false,
    maxAge: 600,
    strictPreflight: true,
  });
}
