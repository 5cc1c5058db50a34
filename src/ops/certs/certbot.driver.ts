import { Injectable } from '@nestjs/common';
import { CommandResult, CommandRunner } from '../../common/command-runner';
import { CertsConfig, LETS_ENCRYPT_STAGING } from './certs.config';

const MAX_OUTPUT_BYTES = 256 * 1024;

/** What one `certbot renew` said about each certificate. */
export interface RenewReport {
  renewed: string[];
  failed: { name: string; reason: string }[];
  notDue: string[];
}

/** How live renews one lineage (`renew --cert-name`). */
export interface LineageRenewal {
  name: string;
  /** `--force-renewal`: live's window says it is due, whatever certbot's own window says. */
  force: boolean;
  /** Pass live's challenge hooks (a lineage live obtained, possibly through its old webroot). */
  liveHooks: boolean;
}

export interface CertonlyOptions {
  /** Let's Encrypt's staging directory instead of CERTBOT_SERVER (default CERTBOT_STAGING). */
  staging?: boolean;
  /** Issue even when a lineage for these names is not due (replacing a staging certificate). */
  force?: boolean;
}

/** certbot's version, e.g. [2, 1, 0]; null when `certbot --version` said nothing readable. */
export type CertbotVersion = [number, number, number] | null;

/**
 * The real certbot CLI, run with argument arrays (never a shell), a timeout and an output cap.
 * Every call passes the config/work/logs dirs so certbot never touches /etc/letsencrypt.
 */
@Injectable()
export class CertbotDriver {
  private version: Promise<CertbotVersion> | null = null;

  constructor(
    private readonly runner: CommandRunner,
    private readonly config: CertsConfig,
  ) {}

  private common(): string[] {
    const c = this.config;
    return [
      '--config-dir',
      c.configDir,
      '--work-dir',
      c.workDir,
      '--logs-dir',
      c.logsDir,
      '--non-interactive',
    ];
  }

  private run(args: string[]): Promise<CommandResult> {
    return this.runner.run(this.config.certbotBin, [...this.common(), ...args], {
      timeoutMs: this.config.timeoutMs,
      maxOutputBytes: MAX_OUTPUT_BYTES,
      // certbot and the hooks it starts inherit live's environment, plus the database live uses
      // (which a test or a wrapper may have given live other than through the environment).
      env: { ...process.env, ...this.config.hookEnv },
    });
  }

  /** certbot's version, asked once (`certbot --version`). */
  certbotVersion(): Promise<CertbotVersion> {
    this.version ??= this.runner
      .run(this.config.certbotBin, ['--version'], { timeoutMs: 30_000, maxOutputBytes: 4096 })
      .then((r) => parseCertbotVersion(`${r.stdout}\n${r.stderr}`));
    return this.version;
  }

  /** The manual-hook arguments: certbot stores each challenge through `manage acme-challenge`. */
  hookArgs(): string[] {
    // Plain words (CertsConfig checks them): certbot looks the first one up on PATH as written, so
    // quoting it would make certbot refuse the hook.
    const command = this.config.hookCommand.join(' ');
    return [
      '--manual',
      '--preferred-challenges',
      'http',
      '--manual-auth-hook',
      `${command} put`,
      '--manual-cleanup-hook',
      `${command} delete`,
    ];
  }

  /** `certbot renew`: renews what certbot finds due (or everything with `force`), runs the deploy hook. */
  renewArgs(force: boolean): string[] {
    // The schedule already picks a random minute per installation; certbot's own random sleep of up
    // to 8 minutes (without a terminal) would only hold the run and its lease.
    const args = ['renew', '--no-random-sleep-on-renew'];
    if (force) args.push('--force-renewal');
    if (this.config.deployHook) args.push('--deploy-hook', this.config.deployHook);
    return args;
  }

  renew(force: boolean): Promise<CommandResult> {
    return this.run(this.renewArgs(force));
  }

  /** `certbot renew --cert-name N`: one lineage, forced when live's window says it is due. */
  renewLineageArgs(lineage: LineageRenewal): string[] {
    const args = ['renew', '--cert-name', lineage.name, '--no-random-sleep-on-renew'];
    if (lineage.force) args.push('--force-renewal');
    if (lineage.liveHooks) args.push(...this.hookArgs());
    if (this.config.deployHook) args.push('--deploy-hook', this.config.deployHook);
    return args;
  }

  renewLineage(lineage: LineageRenewal): Promise<CommandResult> {
    return this.run(this.renewLineageArgs(lineage));
  }

  /**
   * `certbot certonly --manual` with live's hooks: one certificate for `domains`, validated over
   * http-01 by whichever instance the CA reaches (the challenge is in the shared database).
   */
  certonlyArgs(domains: string[], email: string | undefined, options: CertonlyOptions = {}): string[] {
    const staging = options.staging ?? this.config.staging;
    const args = [
      'certonly',
      ...this.hookArgs(),
      '--server',
      staging ? LETS_ENCRYPT_STAGING : this.config.server,
      '--agree-tos',
      '--cert-name',
      domains[0],
      // An existing lineage for the same names is kept unless it is due; `force` replaces it.
      options.force ? '--force-renewal' : '--keep-until-expiring',
      '--expand',
    ];
    if (email) args.push('--email', email);
    else args.push('--register-unsafely-without-email');
    if (this.config.deployHook) args.push('--deploy-hook', this.config.deployHook);
    for (const d of domains) args.push('-d', d);
    return args;
  }

  certonly(
    domains: string[],
    email: string | undefined,
    options: CertonlyOptions = {},
  ): Promise<CommandResult> {
    return this.run(this.certonlyArgs(domains, email, options));
  }
}

/** `certbot 2.1.0` → [2, 1, 0]. */
export function parseCertbotVersion(text: string): CertbotVersion {
  const m = /certbot (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** ACME Renewal Information (RFC 9773) is checked by `certbot renew` from certbot 4.1 on. */
export function certbotHasAri(version: CertbotVersion): boolean {
  return version !== null && (version[0] > 4 || (version[0] === 4 && version[1] >= 1));
}

/** Lineage name from a path certbot prints: `<config>/live/<name>/fullchain.pem`. */
function lineageOf(path: string): string | null {
  return /\/live\/([^/\s]+)\/fullchain\.pem/.exec(path)?.[1] ?? null;
}

/** Reads certbot 2.x's `renew` output (stdout summary, reasons on stderr). */
export function parseRenewOutput(stdout: string, stderr: string): RenewReport {
  const all = `${stdout}\n${stderr}`;
  const report: RenewReport = { renewed: [], failed: [], notDue: [] };
  for (const line of all.split('\n')) {
    const name = lineageOf(line);
    if (!name) continue;
    if (/\(success\)\s*$/.test(line) && !report.renewed.includes(name)) report.renewed.push(name);
    else if (/\(skipped\)\s*$/.test(line) && !report.notDue.includes(name)) report.notDue.push(name);
    else if (/\(failure\)\s*$/.test(line) && !report.failed.some((f) => f.name === name))
      report.failed.push({ name, reason: '' });
  }
  for (const m of all.matchAll(/Failed to renew certificate (\S+) with error: (.+)/g)) {
    const entry = report.failed.find((f) => f.name === m[1]);
    if (entry) entry.reason = m[2].trim();
    else report.failed.push({ name: m[1], reason: m[2].trim() });
  }
  return report;
}

/** Lines certbot prints around every failure that say nothing about this one. */
const BOILERPLATE =
  /^(Saving debug log|Ask for help|See the logfile|- - -|Hint:|If you like Certbot|Donating to|Some challenges have failed\.|\* )/;
/** A reason is for a person, an alert and a log line: bounded. */
export const MAX_REASON_CHARS = 2000;

function bounded(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}

/**
 * certbot's "The Certificate Authority reported these problems:" block, one problem per domain:
 * `a.example.org (dns): DNS problem: NXDOMAIN looking up A for a.example.org …`.
 */
export function caProblems(text: string): string | null {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /reported these problems:\s*$/.test(l));
  if (start < 0) return null;
  const problems: { domain: string; type?: string; detail?: string }[] = [];
  for (const raw of lines.slice(start + 1)) {
    const line = raw.trim();
    const field = /^(Domain|Type|Detail):\s*(.*)$/.exec(line);
    const current = problems[problems.length - 1];
    if (field?.[1] === 'Domain') problems.push({ domain: field[2] });
    else if (field && current) current[field[1] === 'Type' ? 'type' : 'detail'] = field[2];
    else if (line !== '') break;
  }
  if (problems.length === 0) return null;
  return problems
    .map((p) => `${p.domain}${p.type ? ` (${p.type})` : ''}: ${p.detail ?? 'no detail given'}`)
    .join('; ');
}

/** The block after a heading such as "An unexpected error occurred:", up to a blank or boilerplate line. */
function blockAfter(lines: string[], heading: RegExp): string | null {
  const start = lines.findIndex((l) => heading.test(l));
  if (start < 0) return null;
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line === '' || BOILERPLATE.test(line) || line.startsWith("Hook '")) break;
    // `manage` names its database first on stderr: not the hook's reason.
    if (!line.startsWith('Using database ')) body.push(line);
  }
  return body.length ? body.join(' ') : null;
}

/**
 * Why a certbot run failed, in certbot's own words: the CA's problems (domain, type, detail), the
 * lines of an "unexpected error" block, a hook's error output; else the first telling line with the
 * line it introduces. Never just a heading that ends with a colon.
 */
export function certbotReason(result: CommandResult): string {
  if (result.spawnError) return `certbot could not be started: ${result.spawnError}`;
  if (result.timedOut) return `certbot did not finish within ${Math.round(result.durationMs / 1000)} s`;
  const text = `${result.stderr}\n${result.stdout}`;
  const lines = text.split('\n').map((l) => l.trim());
  const ca = caProblems(text);
  if (ca) return bounded(ca);
  const unexpected = blockAfter(lines, /^An unexpected error occurred:$/);
  if (unexpected) return bounded(unexpected);
  const hook = blockAfter(lines, /^Hook '[^']+' for \S+ ran with error output:$/);
  if (hook) {
    const which = /^Hook '([^']+)' for (\S+) ran with error output:$/m.exec(text)!;
    return bounded(`${which[1]} for ${which[2]} failed: ${hook}`);
  }
  const meaningful = lines.filter((l) => l && !BOILERPLATE.test(l));
  const i = meaningful.findIndex((l) => /error|failed|problem|unauthorized|refused|invalid|denied/i.test(l));
  if (i >= 0) {
    const line = meaningful[i];
    const next = meaningful[i + 1];
    return bounded(line.endsWith(':') && next ? `${line} ${next}` : line);
  }
  return bounded(meaningful.length ? meaningful.join(' ') : `certbot exited with code ${result.exitCode}`);
}
