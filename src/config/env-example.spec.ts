import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlertsEnv } from '../alerts/alerts.config';
import { ChatEnv } from '../chat/chat.config';
import { ChatWebhookEnv } from '../chat/webhooks/chat-webhook.config';
import { MetricsEnv } from '../metrics/metrics.config';
import { CertsEnv } from '../ops/certs/certs.config';
import { VpnEnv } from '../ops/vpn/vpn.config';
import { AppEnv } from './app.config';
import { documentedVariables, ENV_EXAMPLE_PATH, renderEnvExample } from './env-example';

const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** Every variable the config code reads: the env classes' properties are the variables' names. */
const ENV_CLASSES = [AppEnv, ChatEnv, ChatWebhookEnv, AlertsEnv, MetricsEnv, CertsEnv, VpnEnv];
const inCode = new Set(ENV_CLASSES.flatMap((cls) => Object.keys(new cls())));

describe('deploy/live.env.example, the README and the config code', () => {
  const documented = documentedVariables(readme);

  it('the README documents every variable the code reads, and nothing the code does not read', () => {
    const names = new Set(documented.map((v) => v.name));
    expect([...inCode].filter((n) => !names.has(n)).sort()).toEqual([]);
    expect([...names].filter((n) => !inCode.has(n)).sort()).toEqual([]);
    expect(names.size).toBeGreaterThan(80);
  });

  it('the committed example is what `npm run env-example` makes of the README (run it after changing a variable)', () => {
    expect(readFileSync(join(ROOT, ENV_EXAMPLE_PATH), 'utf8')).toBe(renderEnvExample(readme));
  });

  it('lists each variable once, commented out, with its literal default and a comment line above', () => {
    const lines = renderEnvExample(readme).split('\n');
    const settings = lines.filter((l) => /^#[A-Z][A-Z0-9_]+=/.test(l));
    const names = settings.map((l) => l.slice(1, l.indexOf('=')));
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(documented.map((v) => v.name));
    expect(settings).toContain('#PORT=8000');
    expect(settings).toContain('#CHAT_RATE=20');
    expect(settings).toContain('#LOGIN_FAILURE_WINDOW=900');
    for (const setting of settings) expect(lines[lines.indexOf(setting) - 1]).toMatch(/^# \S/);
  });
});
