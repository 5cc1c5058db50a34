import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './entry-point';

/** The fenced block that follows `<!-- readme:NAME -->` in README.md, unindented. */
export function readmeBlock(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- readme:${name} -->\\n( *)\`\`\`\\w*\\n([\\s\\S]*?)\\n\\1\`\`\``).exec(
    readme,
  );
  if (!match) throw new Error(`README.md has no block marked readme:${name}`);
  const indent = match[1].length;
  return match[2]
    .split('\n')
    .map((line) => line.slice(indent))
    .join('\n');
}
