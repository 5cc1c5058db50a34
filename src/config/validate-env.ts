import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';

/** Thrown at start-up when an environment variable is unusable; main.ts prints only its message. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const TRUE_WORDS = ['1', 'true', 'yes', 'on'];
const FALSE_WORDS = ['0', 'false', 'no', 'off'];

/** Variables whose value is a secret: a problem with them names the variable, never the value. */
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|_PASS$|_KEY$)/;

/** How a value may appear in an error line: secrets hidden, passwords in URLs masked. */
export function printableValue(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return '(hidden)';
  return JSON.stringify(value.replace(/\/\/([^/@\s]*):[^/@\s]*@/, '//$1:***@'));
}

/** One line per problem, each naming the variable and what it expects. */
function problems(errors: ValidationError[], raw: Record<string, string>): string[] {
  return errors.map((e) => {
    const constraint = Object.values(e.constraints ?? {})[0] ?? 'is invalid';
    const value = raw[e.property] ?? String(e.value);
    return `Invalid configuration: ${e.property}=${printableValue(e.property, value)}: ${constraint}`;
  });
}

/**
 * Validates the environment variables that one config class declares (class-validator decorators,
 * property names = variable names, defaults as property initialisers) and returns the typed instance.
 * Empty strings count as unset, as in a shell `VAR=` line. Annotate property types explicitly
 * (`PORT: number = 8000`) so the conversion sees them.
 */
export function validateEnv<T extends object>(
  cls: new () => T,
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
): T {
  const declared = Object.keys(new cls());
  const raw: Record<string, string> = {};
  for (const key of declared) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  // No setting has a use for a NUL byte, and Node's file and process APIs throw on one: refuse it
  // here, naming the variable, rather than as a stack trace from deep inside start-up.
  const nulProblems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!value.includes('\0')) continue;
    nulProblems.push(
      `Invalid configuration: ${key}=${printableValue(key, value)}: must not contain a NUL character`,
    );
    delete raw[key];
  }
  const instance = plainToInstance(cls, raw, { enableImplicitConversion: true, exposeDefaultValues: true });
  // Implicit conversion turns any non-empty string into `true`; read booleans strictly instead.
  for (const key of Object.keys(raw)) {
    if (Reflect.getMetadata('design:type', cls.prototype, key) !== Boolean) continue;
    const v = raw[key].toLowerCase();
    const parsed = TRUE_WORDS.includes(v) ? true : FALSE_WORDS.includes(v) ? false : raw[key];
    (instance as Record<string, unknown>)[key] = parsed;
  }
  const errors = validateSync(instance, { whitelist: false, forbidUnknownValues: false });
  const lines = [...nulProblems, ...problems(errors, raw)];
  if (lines.length > 0) throw new ConfigError(lines.join('\n'));
  return instance;
}
