import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

// Never a webhook target: link-local (cloud metadata at 169.254.169.254), "this network", multicast, broadcast.
const ALWAYS_BLOCKED = new BlockList();
ALWAYS_BLOCKED.addSubnet('0.0.0.0', 8, 'ipv4');
ALWAYS_BLOCKED.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS_BLOCKED.addSubnet('224.0.0.0', 4, 'ipv4');
ALWAYS_BLOCKED.addSubnet('240.0.0.0', 4, 'ipv4');
ALWAYS_BLOCKED.addAddress('::', 'ipv6');
ALWAYS_BLOCKED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_BLOCKED.addSubnet('ff00::', 8, 'ipv6');

// Loopback and private ranges: refused unless KITH_WEBHOOK_ALLOW_PRIVATE=true.
const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('198.18.0.0', 15, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

/** Why an address may not be called, or undefined when it may. */
export function addressProblem(address: string, allowPrivate: boolean): string | undefined {
  let ip = address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) ip = mapped[1];
  const family = isIP(ip);
  if (family === 0) return `${address} is not an IP address`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (ALWAYS_BLOCKED.check(ip, type)) return `${address} is a link-local, multicast or unspecified address`;
  if (!allowPrivate && PRIVATE.check(ip, type)) return `${address} is a loopback or private address`;
  return undefined;
}

/** Checks a target URL: http(s) only, and every address its host resolves to must be allowed. */
export async function targetProblem(target: string, allowPrivate: boolean): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return 'Enter a valid URL.';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'Only http and https targets are allowed.';
  if (url.username || url.password) return 'Credentials in the target URL are not allowed.';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const problem = addressProblem(host, allowPrivate);
    return problem ? `Target not allowed: ${problem}.` : undefined;
  }
  let addresses: Array<{ address: string }>;
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch {
    return `Target host ${host} cannot be resolved.`;
  }
  for (const { address } of addresses) {
    const problem = addressProblem(address, allowPrivate);
    if (problem) return `Target not allowed: ${host} resolves to ${problem}.`;
  }
  return undefined;
}
