import { Injectable } from '@nestjs/common';
import { CommandResult, CommandRunner } from '../../common/command-runner';
import { CertsConfig } from './certs.config';

const MAX_OUTPUT_BYTES = 256 * 1024;

/** What one `certbot renew` said about each certificate. */
export interface RenewReport {
  renewed: string[];
  failed: { name: string; reason: string }[];
  notDue: string[];
}

/**
 * The real certbot CLI, run with argument arrays (never a shell), a timeout and an output cap.
 * Every call passes the config/work/logs dirs so certbot never touches /etc/letsencrypt.
 */
@Injectable()
export class CertbotDriver {
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
    });
  }

  /** `certbot renew`: renews what is due (or everything with `force`), runs the deploy hook. */
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

  /** `certbot certonly --webroot`: one certificate for `domains`, validated over http-01 by live itself. */
  certonlyArgs(domains: string[], email: string | undefined): string[] {
    const args = [
      'certonly',
      '--webroot',
      '-w',
      this.config.webroot,
      '--server',
      this.config.server,
      '--agree-tos',
      '--cert-name',
      domains[0],
      '--keep-until-expiring',
      '--expand',
    ];
    if (email) args.push('--email', email);
    else args.push('--register-unsafely-without-email');
    if (this.config.deployHook) args.push('--deploy-hook', this.config.deployHook);
    for (const d of domains) args.push('-d', d);
    return args;
  }

  certonly(domains: string[], email: string | undefined): Promise<CommandResult> {
    return this.run(this.certonlyArgs(domains, email));
  }
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

/** The most useful line of a failed certbot run, for logs and alerts. */
export function certbotReason(result: CommandResult): string {
  if (result.spawnError) return `certbot could not be started: ${result.spawnError}`;
  if (result.timedOut) return `certbot did not finish within ${Math.round(result.durationMs / 1000)} s`;
  const lines = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Saving debug log|^Ask for help|^See the logfile|^- - -/.test(l));
  const telling = lines.find((l) => /error|failed|problem|unauthorized|refused|invalid/i.test(l));
  return telling ?? lines[lines.length - 1] ?? `certbot exited with code ${result.exitCode}`;
}
