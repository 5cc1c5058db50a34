import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { ROOM_PATTERN } from './chat.protocol';

export class IssueTicketDto {
  @ApiProperty({ example: 'lobby', description: 'the room the ticket opens (and no other)' })
  @IsString({ message: 'room must be a room name' })
  @Matches(ROOM_PATTERN, { message: 'Room name must be 1 to 100 letters, digits, _ or -' })
  room!: string;
}

export class TicketDto {
  @ApiProperty({ description: 'single use: add it to the handshake as ?ticket=' })
  ticket!: string;

  @ApiProperty({ example: 'lobby' })
  room!: string;

  @ApiProperty({ format: 'date-time', description: 'the ticket opens no socket after this' })
  expiresAt!: string;

  @ApiProperty({ example: '/chat/lobby/?ticket=…', description: 'the path to open, ticket included' })
  path!: string;
}
