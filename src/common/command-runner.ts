import { spawn } from 'node:child_process';
import { Injectable, Logger } from '@nestjs/common';

export interface CommandOptions {
  /** Kill the process after this many milliseconds (SIGTERM, then SIGKILL 2 s later). */
  timeoutMs: number;
  /** Keep at most this many bytes of stdout and of stderr (the tail is kept: errors come last). */
  maxOutputBytes?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Text written to the child's stdin, then closed. */
  input?: string;
}

export interface CommandResult {
  command: string;
  args: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
}

/** The one way live runs an outside program: argument array, never a shell, bounded in time and output. */
export abstract class CommandRunner {
  abstract run(command: string, args: string[], options: CommandOptions): Promise<CommandResult>;
}

const DEFAULT_MAX_OUTPUT = 1024 * 1024;

/** Keeps the last `limit` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const excess = this.size - this.limit;
      const head = this.chunks[0];
      if (head.length <= excess) {
        this.chunks.shift();
        this.size -= head.length;
      } else {
        this.chunks[0] = head.subarray(excess);
        this.size -= excess;
      }
      this.truncated = true;
    }
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

@Injectable()
export class ExecFileCommandRunner extends CommandRunner {
  private readonly logger = new Logger('CommandRunner');

  run(command: string, args: string[], options: CommandOptions): Promise<CommandResult> {
    const started = Date.now();
    const limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const stdout = new TailBuffer(limit);
    const stderr = new TailBuffer(limit);
    return new Promise((resolve) => {
      let timedOut = false;
      let settled = false;
      // spawn with an argument array and shell:false (as execFile does), streaming so only the tail is kept.
      const child = spawn(command, args, {
        env: options.env ?? process.env,
        cwd: options.cwd,
        shell: false,
        windowsHide: true,
      });
      child.stdout?.on('data', (c: Buffer) => stdout.push(c));
      child.stderr?.on('data', (c: Buffer) => stderr.push(c));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2000).unref();
      }, options.timeoutMs);
      const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const result: CommandResult = {
          command,
          args,
          exitCode,
          signal,
          stdout: stdout.toString(),
          stderr: stderr.toString(),
          timedOut,
          durationMs: Date.now() - started,
          spawnError,
        };
        if (spawnError || timedOut) {
          this.logger.warn({
            event: 'command_failed',
            command,
            spawnError,
            timedOut,
            durationMs: result.durationMs,
          });
        }
        resolve(result);
      };
      child.on('error', (err: NodeJS.ErrnoException) =>
        finish(null, null, `${err.code ?? 'error'}: ${err.message}`),
      );
      child.on('close', (code, signal) => finish(code, signal));
      if (options.input !== undefined) child.stdin?.end(options.input);
      else child.stdin?.end();
    });
  }
}
