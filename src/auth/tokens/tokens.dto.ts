import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsString,
  Matches,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { INT4_MAX, Optional } from '../../common/validation';
import { TOKEN_SCOPES, TokenScope } from './scopes';

/** Printable, no control characters: a token's name shows in lists and logs. */
const NAME_PATTERN = /^[^\p{Cc}\p{Cf}]{1,100}$/u;

export class CreateTokenDto {
  @ApiProperty({ type: String, example: 'deploy script', description: '1 to 100 printable characters' })
  @IsString()
  @Matches(NAME_PATTERN, { message: 'name must be 1 to 100 printable characters' })
  name!: string;

  @ApiProperty({ enum: TOKEN_SCOPES, isArray: true, example: ['chat:publish'] })
  @IsArray({ message: `scopes must be a list of: ${TOKEN_SCOPES.join(', ')}` })
  @ArrayMinSize(1, { message: 'scopes must name at least one scope' })
  @ArrayMaxSize(TOKEN_SCOPES.length)
  @IsIn(TOKEN_SCOPES, { each: true, message: `each scope must be one of: ${TOKEN_SCOPES.join(', ')}` })
  scopes!: TokenScope[];

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    example: 90,
    description: 'Days until it expires, 1 to 3650; omitted or null: never (as Django REST framework tokens)',
  })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsInt({ message: 'expiresInDays must be an integer from 1 to 3650, or null' })
  @Min(1, { message: 'expiresInDays must be an integer from 1 to 3650, or null' })
  @Max(3650, { message: 'expiresInDays must be an integer from 1 to 3650, or null' })
  expiresInDays?: number | null;

  @ApiPropertyOptional({
    type: Number,
    description: 'Staff only: the user a service token is for (default: yourself)',
  })
  @Optional()
  @IsInt({ message: `user must be a user id from 1 to ${INT4_MAX}` })
  @Min(1, { message: `user must be a user id from 1 to ${INT4_MAX}` })
  @Max(INT4_MAX, { message: `user must be a user id from 1 to ${INT4_MAX}` })
  user?: number;
}

export class TokenUserDoc {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
}

export class TokenDoc {
  @ApiProperty() id!: number;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The key’s first characters, to tell tokens apart' }) prefix!: string;
  @ApiProperty({ enum: TOKEN_SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ type: TokenUserDoc }) user!: TokenUserDoc;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'Staff who made it for the user' })
  createdBy!: number | null;
  @ApiProperty({ type: String, nullable: true }) expiresAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'To the minute' }) lastUsedAt!: string | null;
  @ApiProperty() expired!: boolean;
}

export class NewTokenDoc extends TokenDoc {
  @ApiProperty({
    description: 'The key: shown this once. Send it as `Authorization: Token <key>` (or `Bearer <key>`)',
    example: 'live_3q2+7w…',
  })
  key!: string;
}
