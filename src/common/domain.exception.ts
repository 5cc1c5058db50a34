/**
 * What went wrong, in the words both outer edges understand: HttpExceptionFilter answers each kind
 * with its HTTP status, the manage CLI with its exit code.
 */
export type DomainErrorKind =
  | 'invalid' // the input breaks a rule: 400, usage error
  | 'forbidden' // not allowed for this actor: 403
  | 'not_found' // 404
  | 'conflict' // clashes with the current state (exists, busy): 409
  | 'gone' // existed, no longer usable (revoked): 410
  | 'tool_failed' // an outside program answered with a failure: 502
  | 'unavailable'; // cannot be done now (not set up, daemon down, lock held): 503

/** The HTTP status of each kind (see HttpExceptionFilter). */
export const HTTP_STATUS_OF_KIND: Readonly<Record<DomainErrorKind, number>> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  tool_failed: 502,
  unavailable: 503,
};

/**
 * The base of each feature's domain exception (AuthError, CertsError, VpnError, AlertsError):
 * services throw these, never Nest's HTTP exceptions, so HTTP and the CLI each map them their way.
 */
export abstract class DomainException<K extends DomainErrorKind = DomainErrorKind> extends Error {
  constructor(
    readonly kind: K,
    message: string,
    /** An outside tool's own words, kept apart from our message (audit, logs). */
    readonly reason?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** What a person is told (HTTP `message`, the CLI's line): the message and the tool's reason. */
  get detail(): string {
    return this.reason ? `${this.message}: ${this.reason}` : this.message;
  }

  /** The HTTP `message`: the detail, or a list when there are several reasons (refused passwords). */
  get messages(): string | string[] {
    return this.detail;
  }

  /** The HTTP status this kind is answered with, readable by callers that only hold the error. */
  get status(): number {
    return HTTP_STATUS_OF_KIND[this.kind];
  }
}
