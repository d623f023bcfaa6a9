import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { addressProblem } from './targets.js';

export interface DeliveryRequest {
  target: string;
  body: string;
  signature: string;
  sslVerify: boolean;
  allowPrivate: boolean;
  timeoutMs: number;
  /** Resolves the target's host name (tests inject one; the system resolver otherwise). */
  resolve?: Resolve | undefined;
}

/** Every address a host name has, as node:dns `lookup(host, { all: true })` gives them. */
export type Resolve = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface DeliveryOutcome {
  ok: boolean;
  status: number | null;
  /** The start of the response body (bounded), for the attempts list. */
  responseBody: string;
  error: string | null;
}

const MAX_RESPONSE_BYTES = 16 * 1024;
const STORED_RESPONSE_CHARS = 2000;

/** A DNS lookup that refuses disallowed addresses, so the address checked is the address connected to. */
function guardedLookup(allowPrivate: boolean, resolve: Resolve): LookupFunction {
  return ((hostname: string, options: LookupOneOptions | LookupAllOptions, callback: (...args: unknown[]) => void) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error);
      for (const { address } of addresses) {
        const problem = addressProblem(address, allowPrivate);
        if (problem) return callback(new Error(`target not allowed: ${hostname} resolves to ${problem}`));
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} has no address`));
      return callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}

/**
 * POSTs one signed payload. Never follows redirects; a non-2xx answer, a redirect, a timeout (for
 * the whole exchange) or a refused connection is a failure. Reads at most 16 KiB of the answer.
 */
export function deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    // Declared before `finish`, which a refusal before the request starts calls at once.
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: DeliveryOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    let url: URL;
    try {
      url = new URL(request.target);
    } catch {
      return finish({ ok: false, status: null, responseBody: '', error: 'invalid target URL' });
    }
    // Checked at registration too; again here, so a row written some other way is held to the same rules.
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password)
      return finish({
        ok: false,
        status: null,
        responseBody: '',
        error: 'target not allowed: not http(s) or with credentials',
      });
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const literalProblem = /^[\d.]+$|:/.test(host) ? addressProblem(host, request.allowPrivate) : undefined;
    if (literalProblem)
      return finish({ ok: false, status: null, responseBody: '', error: `target not allowed: ${literalProblem}` });

    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(request.body),
        'user-agent': 'kith-webhooks/1',
        'SelfCommunity-Signature': request.signature,
      },
      lookup: guardedLookup(request.allowPrivate, request.resolve ?? dnsLookup),
      rejectUnauthorized: request.sslVerify,
      agent: false,
    });
    timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, status: null, responseBody: '', error: `timed out after ${request.timeoutMs} ms` });
    }, request.timeoutMs);
    req.on('error', (error) => finish({ ok: false, status: null, responseBody: '', error: error.message }));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        const responseBody = Buffer.concat(chunks).toString('utf8').slice(0, STORED_RESPONSE_CHARS);
        const ok = status >= 200 && status < 300;
        finish({ ok, status, responseBody, error: ok ? null : `answered ${status}` });
      };
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - size));
        size += chunk.length;
        if (size >= MAX_RESPONSE_BYTES) {
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.end(request.body);
  });
}
