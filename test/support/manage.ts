import { execFile } from 'node:child_process';
import { entryPoint, ROOT } from './entry-point';

export interface ManageResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `manage <args>` as a real child process (src/manage/main.ts through ts-node), no terminal. */
export function manage(args: string[], env: Record<string, string>): Promise<ManageResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [...entryPoint('manage/main'), ...args],
      {
        cwd: ROOT,
        timeout: 60_000,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', LOG_LEVEL: 'error', ...env },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}
