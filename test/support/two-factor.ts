import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's oathtool (package oathtool) and zbarimg (zbar-tools): the codes and the QR decoding. */
export const OATHTOOL = '/usr/bin/oathtool';
export const ZBARIMG = '/usr/bin/zbarimg';

/** Whether both tools are there (CI: required). */
export function twoFactorToolsAvailable(): boolean {
  const missing = [OATHTOOL, ZBARIMG].filter((bin) => !existsSync(bin));
  if (missing.length === 0) return true;
  if (process.env.CI === 'true')
    throw new Error(`CI needs ${missing.join(' and ')} (apt-get install oathtool zbar-tools)`);
  console.warn(`[live tests] two-factor suites skipped: no ${missing.join(', ')}`);
  return false;
}

/**
 * The TOTP code oathtool computes for a base32 secret (RFC 6238: 30 s, 6 digits, SHA-1), now or
 * `offsetSeconds` from now: the app's codes are checked against an implementation that is not its own.
 */
export function oathtoolCode(secret: string, offsetSeconds = 0): string {
  const args = ['--totp', '-b', secret];
  if (offsetSeconds !== 0) args.push(`--now=@${Math.floor(Date.now() / 1000) + offsetSeconds}`);
  return execFileSync(OATHTOOL, args, { encoding: 'utf8', timeout: 10_000 }).trim();
}

/** A six-digit code that is none of the secret's codes within two steps of now. */
export function wrongCode(secret: string): string {
  const near = new Set([-60, -30, 0, 30, 60].map((s) => oathtoolCode(secret, s)));
  for (let n = 0; ; n++) {
    const code = String((123456 + n * 7919) % 1_000_000).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

/** What zbarimg reads from an image file (its QR codes' text, without the `QR-Code:` prefix). */
export function decodeQr(png: Buffer): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'live-qr-'));
  const file = join(dir, 'qr.png');
  writeFileSync(file, png);
  return new Promise((resolve, reject) =>
    execFile(ZBARIMG, ['--quiet', '--raw', file], { timeout: 20_000 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (err) reject(new Error(`zbarimg: ${err.message} ${stderr}`));
      else resolve(stdout.replace(/\n$/, ''));
    }),
  );
}

/** The PNG bytes of a `data:image/png;base64,…` URL. */
export function pngOfDataUrl(url: string): Buffer {
  const m = /^data:image\/png;base64,([A-Za-z0-9+/=]+)$/.exec(url);
  if (!m) throw new Error(`not a PNG data URL: ${url.slice(0, 40)}`);
  return Buffer.from(m[1], 'base64');
}
