/**
 * CSRF_TRUSTED_ORIGINS as Django ≥ 4.0 reads and matches it: origins with their scheme
 * (`https://www.example.org`), or `https://*.example.org` for a domain and all its subdomains.
 */

const SCHEME = String.raw`[a-z][a-z0-9+.-]*`;
const HOST = String.raw`([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])`;
const ORIGIN_ENTRY = new RegExp(String.raw`^(${SCHEME}):\/\/(\*\.)?${HOST}(:[0-9]{1,5})?$`);

/** A URL's scheme and netloc as Python's urlparse splits them (netloc = `host[:port]`, userinfo included). */
export function splitUrl(url: string): { scheme: string; netloc: string } | null {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(url);
  return match ? { scheme: match[1].toLowerCase(), netloc: match[2].toLowerCase() } : null;
}

/**
 * Django's `is_same_domain`: `pattern` is a host (exact match) or `.example.org`, which matches
 * example.org and every subdomain of it. Both may carry a port, which must then be equal.
 */
export function isSameDomain(host: string, pattern: string): boolean {
  if (!pattern) return false;
  const h = host.toLowerCase();
  const p = pattern.toLowerCase();
  return p === h || (p.startsWith('.') && (h.endsWith(p) || h === p.slice(1)));
}

/** Why one CSRF_TRUSTED_ORIGINS entry is unusable, or null when it is an origin Django 4 accepts. */
export function trustedOriginProblem(entry: string): string | null {
  const e = entry.toLowerCase();
  if (ORIGIN_ENTRY.test(e)) return null;
  const shown = JSON.stringify(entry);
  if (!e.includes('://'))
    return `${shown} has no scheme; write origins as Django 4 does, e.g. https://${entry.replace(/^\/+/, '')}`;
  const rest = e.slice(e.indexOf('://') + 3);
  if (/[/?#]/.test(rest)) return `${shown} must be an origin (scheme://host[:port]), without a path`;
  if (rest.includes('*')) return `${shown}: only a leading *. is a wildcard (https://*.example.org)`;
  return `${shown} needs a scheme and a host, e.g. https://www.example.org`;
}

/** Entries of the comma-separated setting (blank ones dropped). */
export function trustedOriginEntries(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

export class TrustedOrigins {
  /** Origins given without a wildcard, compared whole. */
  private readonly exact: ReadonlySet<string>;
  /** Per scheme, the `.example.org[:port]` patterns of the `*.` entries. */
  private readonly subdomains: ReadonlyMap<string, readonly string[]>;
  /** Every entry's netloc (`*` dropped), which a Referer's netloc may match whatever the scheme. */
  private readonly refererHosts: readonly string[];

  /** `origins` must have passed trustedOriginProblem (the configuration checks it at start-up). */
  constructor(readonly origins: readonly string[] = []) {
    const lower = origins.map((o) => o.toLowerCase());
    for (const origin of lower)
      if (trustedOriginProblem(origin)) throw new Error(`Not a trusted origin: ${JSON.stringify(origin)}`);
    this.exact = new Set(lower.filter((o) => !o.includes('*')));
    const subdomains = new Map<string, string[]>();
    for (const origin of lower.filter((o) => o.includes('*'))) {
      const { scheme, netloc } = splitUrl(origin)!;
      subdomains.set(scheme, [...(subdomains.get(scheme) ?? []), netloc.replace(/^\*/, '')]);
    }
    this.subdomains = subdomains;
    this.refererHosts = lower.map((o) => splitUrl(o)!.netloc.replace(/^\*/, ''));
  }

  static parse(value: string | undefined): TrustedOrigins {
    return new TrustedOrigins(trustedOriginEntries(value));
  }

  /** Django's `_origin_verified` past the request's own origin: listed, or under a `*.` entry of its scheme. */
  includesOrigin(origin: string): boolean {
    const lower = origin.toLowerCase();
    if (this.exact.has(lower)) return true;
    const parts = splitUrl(lower);
    if (!parts || `${parts.scheme}://${parts.netloc}` !== lower || !/^[a-z0-9.:[\]-]+$/.test(parts.netloc))
      return false;
    return (this.subdomains.get(parts.scheme) ?? []).some((p) => isSameDomain(parts.netloc, p));
  }

  /** Django's `_check_referer` against `csrf_trusted_origins_hosts` (the scheme was checked before). */
  includesRefererHost(netloc: string): boolean {
    return this.refererHosts.some((host) => isSameDomain(netloc, host));
  }
}
