import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { toDataURL } from 'qrcode';
import { In, IsNull, Not, Repository } from 'typeorm';
import { AppConfig } from '../../config/app.config';
import { LoginThrottle } from '../login-throttle';
import { User } from '../user.entity';
import { EnteredCode, newRecoveryCodes } from './codes';
import { RecoveryCode } from './recovery-code.entity';
import { CodeHasher, SecretBox } from './secret-box';
import { TotpDevice } from './totp-device.entity';
import { TwoFactorError } from './two-factor.exception';
import { base32Encode, matchTotp, newTotpSecret, otpauthUri } from './totp';

/** The name authenticator apps show above the account. */
export const TOTP_ISSUER = 'live';

/** What a set-up hands the person, once: the secret three ways. */
export interface Enrolment {
  /** Base32, for typing into the app by hand. */
  secret: string;
  otpauthUri: string;
  /** A PNG of the otpauth URI as a data: URL, made here (no outside service sees the secret). */
  qrCode: string;
}

export interface TwoFactorStatus {
  /** A confirmed authenticator protects the account. */
  enabled: boolean;
  confirmedAt: string | null;
  /** A set-up was started and not confirmed yet. */
  pending: boolean;
  recoveryCodesLeft: number;
  /** STAFF_2FA as it applies to this account (non-staff: always optional). */
  policy: 'optional' | 'required';
  /** This session passed the code of the current authenticator. */
  sessionVerified: boolean;
  /** /admin answers 403 otp_required until this account sets up two-factor. */
  mustEnrol: boolean;
}

/** How a code was taken: the device it passed, or why not (a wrong code is already counted). */
export type CodeVerdict =
  | { ok: true; deviceId: number; usedRecoveryCode: boolean }
  | { ok: false; reason: 'wrong' }
  | { ok: false; reason: 'throttled'; retryAfterSeconds: number };

/** A code that passed: the device, and whether it was a recovery code. */
type Taken = { deviceId: number; usedRecoveryCode: boolean };

/** Key purposes (HKDF info) and the row binding of sealed secrets. */
const SECRET_PURPOSE = 'live.two-factor.totp-secret.v1';
const RECOVERY_PURPOSE = 'live.two-factor.recovery-code.v1';
const sealedFor = (userId: number) => `live_totp_device:user:${userId}`;

/**
 * Staff two-factor (TOTP, RFC 6238) in the manner of django-otp: one authenticator per user, set up
 * in two steps (a secret, then a code from the app confirms it) with ten single-use recovery codes;
 * codes at login, at step-up and to turn it off. Secrets are sealed with a key derived from
 * SECRET_KEY (readable with SECRET_KEY_FALLBACKS after a rotation) and never logged. Wrong codes
 * count like wrong passwords (LoginThrottle), under their own key per user, so a right password
 * (which clears the user's password failures) does not reset them.
 */
@Injectable()
export class TwoFactorService {
  private readonly logger = new Logger('TwoFactor');
  private readonly box: SecretBox;
  private readonly hasher: CodeHasher;

  constructor(
    @InjectRepository(TotpDevice) private readonly devices: Repository<TotpDevice>,
    @InjectRepository(RecoveryCode) private readonly recoveryCodes: Repository<RecoveryCode>,
    private readonly config: AppConfig,
    private readonly throttle: LoginThrottle,
  ) {
    const keys = [config.secretKey, ...config.secretKeyFallbacks];
    this.box = new SecretBox(keys, SECRET_PURPOSE);
    this.hasher = new CodeHasher(keys, RECOVERY_PURPOSE);
  }

  /** The moment codes are checked against (a method, so a test can move it). */
  protected now(): number {
    return Date.now();
  }

  confirmedDevice(userId: number): Promise<TotpDevice | null> {
    return this.devices.findOneBy({ userId, confirmedAt: Not(IsNull()) });
  }

  private policyFor(user: User): 'optional' | 'required' {
    return user.isStaff ? this.config.staff2fa : 'optional';
  }

  async status(user: User, sessionDeviceId: number | null): Promise<TwoFactorStatus> {
    const device = await this.devices.findOneBy({ userId: user.id });
    const enabled = !!device?.confirmedAt;
    const policy = this.policyFor(user);
    return {
      enabled,
      confirmedAt: device?.confirmedAt ? device.confirmedAt.toISOString() : null,
      pending: !!device && !device.confirmedAt,
      recoveryCodesLeft: enabled
        ? await this.recoveryCodes.countBy({ userId: user.id, usedAt: IsNull() })
        : 0,
      policy,
      sessionVerified: enabled && device?.id === sessionDeviceId,
      mustEnrol: !enabled && policy === 'required',
    };
  }

  /**
   * Why this staff session may not use /admin (a sentence for the 403), or null when it may: an
   * account with an authenticator needs a session that passed its code, and with STAFF_2FA=required
   * an account without one must set it up first.
   */
  async adminBlock(user: User, sessionDeviceId: number | null): Promise<string | null> {
    if (!user.isStaff) return null;
    const device = await this.confirmedDevice(user.id);
    if (device)
      return device.id === sessionDeviceId
        ? null
        : 'This session has not passed two-factor authentication: log in again with the code from your ' +
            'authenticator app (or verify it with POST /auth/2fa/verify)';
    return this.config.staff2fa === 'required'
      ? 'Staff must set up two-factor authentication first: open the Two-factor tab of the console ' +
          '(POST /auth/2fa/enrol, then POST /auth/2fa/confirm)'
      : null;
  }

  /** Starts (or starts again) a set-up: a new secret, not protecting anything until confirmed. */
  async enrol(user: User): Promise<Enrolment> {
    if (!user.isStaff)
      throw new TwoFactorError('forbidden', 'Two-factor authentication is for staff accounts');
    if (await this.confirmedDevice(user.id))
      throw new TwoFactorError(
        'conflict',
        'Two-factor authentication is already on for this account; turn it off first to set up another device',
      );
    const secret = newTotpSecret();
    await this.devices.delete({ userId: user.id });
    await this.devices.insert({
      userId: user.id,
      sealedSecret: this.box.seal(secret, sealedFor(user.id)),
      confirmedAt: null,
      lastUsedStep: null,
      createdAt: new Date(),
    });
    const uri = otpauthUri(secret, user.username, TOTP_ISSUER);
    this.logger.log({ event: 'otp_enrolment_started', username: user.username });
    return {
      secret: base32Encode(secret),
      otpauthUri: uri,
      qrCode: await toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, width: 264 }),
    };
  }

  /**
   * Confirms a set-up with a code from the app: from now on the account needs codes. Returns the
   * ten recovery codes, shown this once (only their hashes are kept), and the device, whose code
   * this session has now passed.
   */
  async confirm(
    user: User,
    code: EnteredCode,
    address: string,
  ): Promise<{ verdict: CodeVerdict; recoveryCodes: string[] }> {
    const device = await this.devices.findOneBy({ userId: user.id });
    if (!device || device.confirmedAt)
      throw new TwoFactorError(
        'conflict',
        device
          ? 'Two-factor authentication is already on for this account'
          : 'There is no set-up to confirm: start one with POST /auth/2fa/enrol',
      );
    if (code.kind !== 'totp')
      throw new TwoFactorError(
        'invalid',
        'Confirm the set-up with the 6-digit code from your authenticator app',
      );
    const verdict = await this.throttled(user, address, () => this.takeTotp(user, device, code.code));
    if (!verdict.ok) return { verdict, recoveryCodes: [] };
    const recoveryCodes = newRecoveryCodes();
    await this.devices.manager.transaction(async (manager) => {
      await manager.update(TotpDevice, { id: device.id }, { confirmedAt: new Date() });
      await manager.delete(RecoveryCode, { userId: user.id });
      const createdAt = new Date();
      await manager.insert(
        RecoveryCode,
        recoveryCodes.map((shown) => ({
          userId: user.id,
          codeHash: this.hasher.hash(shown.replace('-', '')),
          usedAt: null,
          createdAt,
        })),
      );
    });
    this.logger.log({ event: 'otp_enabled', username: user.username });
    return { verdict, recoveryCodes };
  }

  /** A code (authenticator or recovery) of the account's confirmed authenticator. */
  async check(user: User, code: EnteredCode, address: string): Promise<CodeVerdict> {
    const device = await this.confirmedDevice(user.id);
    if (!device) throw new TwoFactorError('conflict', 'Two-factor authentication is not on for this account');
    return this.throttled(user, address, () =>
      code.kind === 'totp'
        ? this.takeTotp(user, device, code.code)
        : this.takeRecoveryCode(user, device, code.code),
    );
  }

  /** Turns two-factor off, given one of its codes. */
  async disable(user: User, code: EnteredCode, address: string): Promise<CodeVerdict> {
    const verdict = await this.check(user, code, address);
    if (verdict.ok) {
      await this.remove(user.id);
      this.logger.log({ event: 'otp_disabled', username: user.username });
    }
    return verdict;
  }

  /** `manage reset-2fa`: a lost phone. Whether there was anything to remove. */
  async reset(user: User): Promise<boolean> {
    const removed = await this.remove(user.id);
    this.logger.warn({ event: 'otp_reset', username: user.username, removed });
    return removed;
  }

  private async remove(userId: number): Promise<boolean> {
    return this.devices.manager.transaction(async (manager) => {
      const devices = await manager.delete(TotpDevice, { userId });
      await manager.delete(RecoveryCode, { userId });
      return (devices.affected ?? 0) > 0;
    });
  }

  /**
   * Counts the attempt before checking it, as the password login does, so concurrent guesses cannot
   * outrun the limit; a right code takes it back. The key `otp:<username>` cannot be a username
   * (Django's usernames have no colon) and is not cleared by a right password; staff see it in the
   * lockouts under that name and clear it by it (`manage unlock otp:alice`).
   */
  private async throttled(
    user: User,
    address: string,
    take: () => Promise<Taken | null>,
  ): Promise<CodeVerdict> {
    const key = `otp:${user.username}`;
    const verdict = await this.throttle.reserve(key, address);
    if (!verdict.allowed) {
      this.logger.warn({
        event: 'otp_throttled',
        username: user.username,
        address,
        retryAfter: verdict.retryAfterSeconds,
      });
      return { ok: false, reason: 'throttled', retryAfterSeconds: verdict.retryAfterSeconds };
    }
    let result: Taken | null;
    try {
      result = await take();
    } catch (err) {
      await this.throttle.release(verdict.attempt);
      throw err;
    }
    if (!result) {
      this.logger.log({ event: 'otp_failed', username: user.username, address });
      this.throttle.failed(verdict.attempt); // stays counted; a full count is a lockout, logged and alerted
      return { ok: false, reason: 'wrong' };
    }
    await this.throttle.succeeded(verdict.attempt);
    return { ok: true, ...result };
  }

  /**
   * A TOTP code of `device`: within a step of now and after the last step used. The step is then
   * claimed with a conditional update, so the same code sent twice at once passes once.
   */
  private async takeTotp(user: User, device: TotpDevice, code: string): Promise<Taken | null> {
    const opened = this.box.open(device.sealedSecret, sealedFor(user.id));
    if (!opened) {
      this.logger.error({
        event: 'otp_secret_unreadable',
        username: user.username,
        reason: 'sealed under a key that is neither SECRET_KEY nor in SECRET_KEY_FALLBACKS',
      });
      return null;
    }
    const step = matchTotp(opened.plain, code, this.now(), device.lastUsedStep);
    if (step === null) return null;
    const claimed = await this.devices
      .createQueryBuilder()
      .update(TotpDevice)
      .set({
        lastUsedStep: step,
        // Sealed under a fallback key: sealed again under SECRET_KEY while we are here.
        ...(opened.stale ? { sealedSecret: this.box.seal(opened.plain, sealedFor(user.id)) } : {}),
      })
      .where('id = :id', { id: device.id })
      .andWhere('(last_used_step IS NULL OR last_used_step < :step)', { step })
      .execute();
    return claimed.affected === 1 ? { deviceId: device.id, usedRecoveryCode: false } : null;
  }

  /** An unused recovery code of the user, used up by a conditional update (single use, also at once). */
  private async takeRecoveryCode(user: User, device: TotpDevice, code: string): Promise<Taken | null> {
    const used = await this.recoveryCodes.update(
      { userId: user.id, codeHash: In(this.hasher.all(code)), usedAt: IsNull() },
      { usedAt: new Date() },
    );
    if ((used.affected ?? 0) === 0) return null;
    this.logger.warn({ event: 'otp_recovery_code_used', username: user.username });
    return { deviceId: device.id, usedRecoveryCode: true };
  }
}
