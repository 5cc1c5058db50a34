import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');

/** Node arguments that run `src/<name>`: compiled when global-setup built it (fast start), else ts-node. */
export function entryPoint(name: string): string[] {
  const build = process.env.LIVE_TEST_BUILD;
  return build
    ? [join(build, 'src', `${name}.js`)]
    : ['-r', 'ts-node/register/transpile-only', `src/${name}.ts`];
}
