import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One documented variable: where the README documents it, its default and what it means. */
export interface DocumentedVariable {
  name: string;
  section: string;
  default: string;
  meaning: string;
}

const HEADER = /^\|\s*variable\s*\|\s*default\s*\|\s*meaning\s*\|\s*$/i;
const ROW = /^\|(.+?)\|(.+?)\|(.+)\|\s*$/;

/** Markdown to one plain line: code spans, links and emphasis unwrapped. */
function plain(text: string): string {
  return text
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\*\*?([^*]+)\*\*?/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The first sentence, at most `max` characters (cut before a parenthesis or at a word, with an ellipsis). */
function firstSentence(text: string, max = 160): string {
  const out = /^(.+?[.!?])(\s|$)/.exec(text)?.[1]?.replace(/\.$/, '') ?? text;
  if (out.length <= max) return out;
  const head = out.slice(0, max);
  const cut = head.lastIndexOf(' (') > max / 2 ? head.lastIndexOf(' (') : head.lastIndexOf(' ');
  return out.slice(0, cut).replace(/[,;:]$/, '') + ' …';
}

/**
 * The variables of the README's configuration tables (header `| variable | default | meaning |`),
 * in order, with the `##` section each is documented under. A row naming several variables
 * (`LOGIN_MAX_FAILURES` / `LOGIN_FAILURE_WINDOW`) gives each its part of a `a` / `b` default.
 */
export function documentedVariables(readme: string): DocumentedVariable[] {
  const out: DocumentedVariable[] = [];
  let section = '';
  let inTable = false;
  for (const line of readme.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    if (HEADER.test(line)) {
      inTable = true;
      continue;
    }
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    if (!inTable) continue;
    const m = ROW.exec(line);
    if (!m || /^\s*-+\s*$/.test(m[1])) continue;
    const names = [...m[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((x) => x[1]);
    const defaults = names.length > 1 ? m[2].split(' / ') : [m[2]];
    names.forEach((name, i) =>
      out.push({
        name,
        section,
        default: plain(defaults[i] ?? defaults[0]),
        meaning: firstSentence(plain(m[3])),
      }),
    );
  }
  return out;
}

/** A default that is a plain value goes after `=`; a description (`unset`, `cores − 1`…) in a comment. */
function literalDefault(value: string): string | null {
  if (/^unset\b/.test(value) || /\s/.test(value.replace(/^"|"$/g, '')) || value.includes('<')) return null;
  return value;
}

/**
 * deploy/live.env.example: every variable the README documents, grouped by its README section,
 * each commented out at its default with one line saying what it is. For EnvironmentFile= of the
 * systemd unit and `--env-file` of docker; live reads nothing else.
 */
export function renderEnvExample(readme: string): string {
  const lines = [
    '# live: every setting, at its default, as the README documents it (generated from README.md by',
    '# `npm run env-example`; test/deploy.e2e-spec.ts keeps it, the README and the config code in step).',
    '# Uncomment and change what you need. Secrets (SECRET_KEY, database and Redis passwords) belong',
    '# here only if this file is readable by live alone (chmod 600, owned by root or the live user).',
  ];
  let section = '';
  for (const v of documentedVariables(readme)) {
    if (v.section !== section) {
      section = v.section;
      lines.push('', `# ---- ${section}`);
    }
    const literal = literalDefault(v.default);
    lines.push(`# ${v.meaning}${literal === null ? ` (default: ${v.default})` : ''}`);
    lines.push(`#${v.name}=${literal ?? ''}`);
  }
  return lines.join('\n') + '\n';
}

export const ENV_EXAMPLE_PATH = join('deploy', 'live.env.example');

/** `npm run env-example`: writes deploy/live.env.example from README.md. */
if (require.main === module) {
  const root = join(__dirname, '..', '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  writeFileSync(join(root, ENV_EXAMPLE_PATH), renderEnvExample(readme));
  process.stdout.write(`wrote ${ENV_EXAMPLE_PATH}\n`);
}
