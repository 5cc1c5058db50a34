import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsString, Matches } from 'class-validator';
import { Optional } from '../common/validation';
import { ROOM_PATTERN } from './chat.protocol';
import { MAX_BOT_NAME_CHARS, MAX_BROADCAST_ROOMS } from './publish-rules';

const TEXT = 'text must be a string';
const NAME = `name must be 1 to ${MAX_BOT_NAME_CHARS} printable characters (a bot's display name)`;
const ROOMS = `rooms must be a list of 1 to ${MAX_BROADCAST_ROOMS} distinct room names`;
const ROOM_NAME = 'each of rooms must be a room name: 1 to 100 letters, digits, _ or -';

const TEXT_DOC =
  'The message, as a socket sends it: at most CHAT_MAX_MESSAGE_BYTES bytes of UTF-8, no NUL (empty is allowed)';
const NAME_DOC =
  `Post as a named bot instead of as yourself (staff and the room's moderators only): 1 to ` +
  `${MAX_BOT_NAME_CHARS} printable characters. Plain sockets see \`<name> text\`, live.v1 frames and ` +
  'history carry `bot: true`';

/** `POST /chat/rooms/:room/messages`. */
export class PublishMessageDto {
  @ApiProperty({ description: TEXT_DOC })
  @IsString({ message: TEXT })
  text!: string;

  @ApiPropertyOptional({ description: NAME_DOC, minLength: 1, maxLength: MAX_BOT_NAME_CHARS })
  @Optional()
  @IsString({ message: NAME })
  name?: string;
}

/** `POST /chat/broadcast`: one text into several rooms. */
export class BroadcastDto extends PublishMessageDto {
  @ApiProperty({
    type: [String],
    minItems: 1,
    maxItems: MAX_BROADCAST_ROOMS,
    uniqueItems: true,
    description: 'Room names (1 to 100 letters, digits, _ or -); every one must allow the post',
  })
  @IsArray({ message: ROOMS })
  @ArrayMinSize(1, { message: ROOMS })
  @ArrayMaxSize(MAX_BROADCAST_ROOMS, { message: ROOMS })
  @ArrayUnique({ message: ROOMS })
  @IsString({ each: true, message: ROOM_NAME })
  @Matches(ROOM_PATTERN, { each: true, message: ROOM_NAME })
  rooms!: string[];
}

/** A message as stored and delivered (the answer of both endpoints). */
export class PublishedMessageDoc {
  @ApiProperty({ description: 'time-ordered id, as sockets and history show it' }) id!: number;
  @ApiProperty() room!: string;
  @ApiProperty({ description: 'the id of the user who posted it (for a bot: who published it)' })
  user!: number;
  @ApiProperty({ description: 'the display name shown: the user’s, or the bot’s' }) name!: string;
  @ApiProperty() text!: string;
  @ApiProperty({ format: 'date-time' }) ts!: string;
  @ApiProperty({ description: 'posted under a bot name' }) bot!: boolean;
}

export class BroadcastResultDoc {
  @ApiProperty({ type: [PublishedMessageDoc], description: 'one per room, in the order given' })
  messages!: PublishedMessageDoc[];
}
