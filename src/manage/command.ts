import type { INestApplicationContext } from '@nestjs/common';
import type { Command } from 'commander';
import type { AppConfig } from '../config/app.config';

/** A mistake in how the command was called, found after parsing: usage hint, exit code 2. */
export class UsageError extends Error {}
/** The command could not do its job (Django's CommandError): one line on stderr, exit code 1. */
export class CommandError extends Error {}

export interface CommandContext {
  config: AppConfig;
  /** The booted app (services, database), for commands that need it. */
  app(): Promise<INestApplicationContext>;
  /** The parsed options (commander's `opts()`), by their camelCase names. */
  options: Record<string, unknown>;
  /** The declared arguments, in order. */
  args: string[];
  env: Record<string, string | undefined>;
  out(line: string): void;
  /** Asks for a secret on the terminal without echoing it; null when there is no terminal. */
  askSecret(prompt: string): Promise<string | null>;
}

/** One `npm run manage -- <name>` command, in the manner of Django's management commands. */
export interface ManageCommand {
  name: string;
  summary: string;
  /** Declares the command's arguments and options on its commander Command (`--help` shows them). */
  declare?(command: Command): void;
  run(ctx: CommandContext): Promise<void>;
}

/** The password for createsuperuser/changepassword: LIVE_PASSWORD, else asked twice on a terminal. */
export async function newPassword(ctx: CommandContext, username: string): Promise<string> {
  const fromEnv = ctx.env.LIVE_PASSWORD;
  if (fromEnv !== undefined) {
    if (!fromEnv) throw new CommandError('LIVE_PASSWORD is empty');
    return fromEnv;
  }
  const first = await ctx.askSecret(`Password for ${username}: `);
  if (first === null)
    throw new CommandError('no terminal to ask for the password: set LIVE_PASSWORD in the environment');
  const again = await ctx.askSecret('Password (again): ');
  if (first !== again) throw new CommandError("passwords didn't match");
  if (!first) throw new CommandError('the password is empty');
  return first;
}
