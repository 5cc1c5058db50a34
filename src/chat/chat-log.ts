import type { Logger } from '@nestjs/common';

/** The logger calls the chat pieces make (always with an event object); tests pass a recorder. */
export type ChatLog = Pick<Logger, 'warn' | 'error'>;
