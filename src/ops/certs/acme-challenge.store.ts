import { DataSource, LessThan, Repository } from 'typeorm';
import { AcmeChallenge } from './acme-challenge.entity';

/** ACME tokens are base64url (RFC 8555 §8.3): anything else never reaches the database. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;
/** `<token>.<base64url SHA-256 thumbprint of the account key>` (RFC 8555 §8.1). */
export const KEY_AUTHORIZATION_PATTERN = /^[A-Za-z0-9_-]{1,256}\.[A-Za-z0-9_-]{16,128}$/;
/** A host name as certbot passes it in CERTBOT_DOMAIN (lower case, no wildcard for http-01). */
export const CHALLENGE_DOMAIN_PATTERN =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A challenge older than this was abandoned (certbot killed before its cleanup hook): removed. */
export const STALE_CHALLENGE_MS = 24 * 3_600_000;

export class ChallengeInputError extends Error {}

/**
 * The shared store of pending http-01 challenges. Used by the app (which serves them on every
 * instance) and by `manage acme-challenge` (which certbot's manual hooks run), so both hold the rules.
 */
export class AcmeChallengeStore {
  private readonly repo: Repository<AcmeChallenge>;

  constructor(source: DataSource | Repository<AcmeChallenge>) {
    this.repo = source instanceof DataSource ? source.getRepository(AcmeChallenge) : source;
  }

  /** Stores (or replaces) one challenge; drops abandoned ones on the way. */
  async put(token: string, keyAuthorization: string, domain: string, now = new Date()): Promise<void> {
    if (!TOKEN_PATTERN.test(token)) throw new ChallengeInputError('the token is not a base64url ACME token');
    if (!KEY_AUTHORIZATION_PATTERN.test(keyAuthorization) || !keyAuthorization.startsWith(`${token}.`))
      throw new ChallengeInputError('the validation is not "<token>.<account key thumbprint>"');
    if (!CHALLENGE_DOMAIN_PATTERN.test(domain))
      throw new ChallengeInputError('the domain is not a host name');
    await this.repo.delete({ createdAt: LessThan(new Date(now.getTime() - STALE_CHALLENGE_MS)) });
    await this.repo.save(
      this.repo.create({ token, keyAuthorization, domain: domain.toLowerCase(), createdAt: now }),
    );
  }

  /** The key authorization for `token`, or null (also for a token that cannot be one). */
  async get(token: string): Promise<string | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    return (await this.repo.findOneBy({ token }))?.keyAuthorization ?? null;
  }

  /** Removes one challenge; true when it was there. */
  async delete(token: string): Promise<boolean> {
    if (!TOKEN_PATTERN.test(token)) throw new ChallengeInputError('the token is not a base64url ACME token');
    return ((await this.repo.delete({ token })).affected ?? 0) > 0;
  }
}
