import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';

/**
 * TRUST_PROXY as Express's `trust proxy` takes it: the number of proxies in front (0: none), or
 * the proxies' own addresses and CIDR ranges. With a list, X-Forwarded-For is believed only for
 * connections that come from a listed proxy, and only as far back as listed proxies appended it.
 */
export type TrustProxy = number | readonly string[];

/** Whether a proxy hop is trusted: proxy-addr's (and so Express's) trust function. */
export type ProxyTrust = (address: string, hop: number) => boolean;

/** proxy-addr's names for the loopback, link-local and unique-local ranges (v4 and v6). */
const RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

const TRUE_WORDS = ['true', 'yes', 'on'];
const FALSE_WORDS = ['false', 'no', 'off'];

export const TRUST_PROXY_RULE =
  'TRUST_PROXY must be true, false, the number of proxies in front (0-9), or a comma-separated list ' +
  'of the proxies’ IP addresses and CIDR ranges (loopback, linklocal, uniquelocal name those ranges)';

/**
 * One list entry: a range name, or an IP address with an optional prefix length (or IPv4 netmask).
 * Stricter than proxy-addr, which reads `12` as the address 0.0.0.12: a bare number here is a hop
 * count out of range, not an address.
 */
function entryProblem(entry: string): string | null {
  if (RANGE_NAMES.includes(entry)) return null;
  const [ip, mask, extra] = entry.split('/');
  const version = isIP(ip);
  if (version === 0 || extra !== undefined) return `not an IP address or CIDR range: ${entry}`;
  if (mask !== undefined) {
    const bits = version === 4 ? 32 : 128;
    const prefixOk = /^\d{1,3}$/.test(mask) && Number(mask) <= bits;
    const netmaskOk = version === 4 && isIP(mask) === 4;
    if (!prefixOk && !netmaskOk) return `not an IP address or CIDR range: ${entry}`;
  }
  try {
    proxyaddr.compile(entry);
    return null;
  } catch (err) {
    return `${(err as Error).message}`;
  }
}

function isList(value: string): boolean {
  return !/^\d+$/.test(value) && ![...TRUE_WORDS, ...FALSE_WORDS].includes(value.toLowerCase());
}

function listEntries(value: string): string[] {
  return value.split(',').map((e) => e.trim());
}

/** What is wrong with a TRUST_PROXY value, or null (an EnvRule). */
export function trustProxyProblem(value: unknown): string | null {
  if (typeof value !== 'string') return TRUST_PROXY_RULE;
  if (/^\d+$/.test(value)) return /^\d$/.test(value) ? null : TRUST_PROXY_RULE;
  if (!isList(value)) return null; // a yes/no word
  const entries = listEntries(value);
  if (entries.some((e) => e === '')) return TRUST_PROXY_RULE;
  for (const entry of entries) {
    const problem = entryProblem(entry);
    if (problem) return `${TRUST_PROXY_RULE} (${problem})`;
  }
  return null;
}

/** A valid TRUST_PROXY value: yes/no words mean one proxy or none, a digit a count, else the list. */
export function parseTrustProxy(value: string): TrustProxy {
  const v = value.toLowerCase();
  if (TRUE_WORDS.includes(v)) return 1;
  if (FALSE_WORDS.includes(v)) return 0;
  if (!isList(value)) return Number(v);
  return listEntries(value);
}

/** Whether X-Forwarded-For is read at all. */
export function trustsAnyProxy(setting: TrustProxy): boolean {
  return typeof setting === 'number' ? setting > 0 : setting.length > 0;
}

/**
 * The trust function Express's `req.ip` and the WebSocket handshake log both use: the nearest
 * `n` hops for a count (the client address is the one the outermost trusted proxy appended),
 * or every hop whose address is in the list.
 */
export function proxyTrust(setting: TrustProxy): ProxyTrust {
  if (typeof setting === 'number') {
    const hops = setting;
    return (_address, hop) => hop < hops;
  }
  return proxyaddr.compile([...setting]);
}
