import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsString,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { INT4_MAX, MESSAGE_ID_MAX, Optional, toInt } from '../common/validation';
import { MAX_DURATION_SECONDS } from './moderation.protocol';
import { JOIN_RULES, JoinRule, MAX_REASON_CHARS, MAX_TOPIC_CHARS, POST_RULES, PostRule } from './room-rules';

const USER_ID = `user must be a user id (an integer from 1 to ${INT4_MAX})`;
const MESSAGE_ID = `id must be a message id (an integer from 0 to ${MESSAGE_ID_MAX})`;
const DURATION = `duration must be whole seconds from 1 to ${MAX_DURATION_SECONDS} (leave it out: until lifted)`;
const REASON = `reason must be a string of at most ${MAX_REASON_CHARS} characters`;
const LIMIT = 'limit must be an integer from 1 to 500';
const BEFORE = `before must be a log entry id (an integer from 1 to ${INT4_MAX})`;
/** Django's auth_group.name and auth_user.username: 1 to 150 characters (NUL is refused for every body). */
const NAME_MAX = 150;

export class RoomMembersDto {
  @ApiPropertyOptional({ type: [String], description: 'usernames' })
  @Optional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true, message: 'members.users must be usernames' })
  @Length(1, NAME_MAX, { each: true, message: 'members.users must be usernames (1 to 150 characters)' })
  users?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Django group names (auth_group)' })
  @Optional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true, message: 'members.groups must be group names' })
  @Length(1, NAME_MAX, { each: true, message: 'members.groups must be group names (1 to 150 characters)' })
  groups?: string[];
}

export class RoomRulesDto {
  @ApiProperty({ enum: JOIN_RULES, description: 'who may join' })
  @IsIn(JOIN_RULES, { message: `join must be one of ${JOIN_RULES.join(', ')}` })
  join!: JoinRule;

  @ApiProperty({ enum: POST_RULES, description: 'who may post' })
  @IsIn(POST_RULES, { message: `post must be one of ${POST_RULES.join(', ')}` })
  post!: PostRule;

  @ApiPropertyOptional({ maxLength: MAX_TOPIC_CHARS })
  @Optional()
  @IsString()
  @MaxLength(MAX_TOPIC_CHARS, { message: `topic must be at most ${MAX_TOPIC_CHARS} characters` })
  topic?: string;

  @ApiPropertyOptional({
    description: 'name of the Django group (auth_group) whose members moderate the room',
  })
  @Optional()
  @IsString()
  @Length(1, NAME_MAX, { message: 'moderatorGroup must be a group name (1 to 150 characters)' })
  moderatorGroup?: string;

  @ApiPropertyOptional({ type: RoomMembersDto, description: 'who `members` means' })
  @Optional()
  @ValidateNested()
  @Type(() => RoomMembersDto)
  members?: RoomMembersDto;
}

export class ReasonDto {
  @ApiPropertyOptional({ maxLength: MAX_REASON_CHARS })
  @Optional()
  @IsString({ message: REASON })
  @MaxLength(MAX_REASON_CHARS, { message: REASON })
  reason?: string;
}

export class DeleteMessageDto extends ReasonDto {
  @ApiProperty({ description: 'the message id (live.v1 `id`)' })
  @IsInt({ message: MESSAGE_ID })
  @Min(0, { message: MESSAGE_ID })
  @Max(MESSAGE_ID_MAX, { message: MESSAGE_ID })
  id!: number;
}

export class TargetDto extends ReasonDto {
  @ApiProperty({ description: 'the user id (live.v1 `user`)' })
  @IsInt({ message: USER_ID })
  @Min(1, { message: USER_ID })
  @Max(INT4_MAX, { message: USER_ID })
  user!: number;
}

export class SanctionDto extends TargetDto {
  @ApiPropertyOptional({ description: 'seconds; leave out for a sanction that lasts until lifted' })
  @Optional()
  @IsInt({ message: DURATION })
  @Min(1, { message: DURATION })
  @Max(MAX_DURATION_SECONDS, { message: DURATION })
  duration?: number;
}

export class LogQuery {
  @ApiPropertyOptional({ type: Number })
  @Optional()
  @Transform(toInt)
  @IsInt({ message: BEFORE })
  @Min(1, { message: BEFORE })
  @Max(INT4_MAX, { message: BEFORE })
  before?: number;

  @ApiPropertyOptional({ type: Number })
  @Optional()
  @Transform(toInt)
  @IsInt({ message: LIMIT })
  @Min(1, { message: LIMIT })
  @Max(500, { message: LIMIT })
  limit?: number;
}

export class AdminLogQuery extends LogQuery {
  @ApiPropertyOptional({ description: 'one room only' })
  @Optional()
  @IsString()
  @Length(1, 100)
  room?: string;
}
