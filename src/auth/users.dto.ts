import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';
import { INT4_MAX, Optional, toInt } from '../common/validation';

/** Django's UnicodeUsernameValidator: letters, digits and @.+-_ ; at most 150. */
export const USERNAME_PATTERN = /^[\p{L}\p{N}\p{M}_.@+-]{1,150}$/u;
const USERNAME_MESSAGE = 'username must be 1 to 150 letters, digits and @.+-_';

export class LoginDto {
  @ApiProperty({ type: String })
  @IsString()
  @MaxLength(150)
  username!: string;

  @ApiProperty({ type: String })
  @IsString()
  @MaxLength(4096)
  password!: string;
}

export class CreateUserDto {
  @ApiProperty({ type: String })
  @IsString()
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE })
  username!: string;

  @ApiPropertyOptional({ type: String })
  /** Omitted → an unusable password (Django's set_unusable_password). */
  @Optional()
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
  password?: string;

  @ApiPropertyOptional({ type: String })
  @Optional()
  @ValidateIf((_o, v) => v !== '')
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ type: String })
  @Optional()
  @IsString()
  @MaxLength(150)
  firstName?: string;

  @ApiPropertyOptional({ type: String })
  @Optional()
  @IsString()
  @MaxLength(150)
  lastName?: string;

  @ApiPropertyOptional({ type: Boolean })
  @Optional()
  @IsBoolean()
  isStaff?: boolean;

  @ApiPropertyOptional({ type: Boolean })
  @Optional()
  @IsBoolean()
  isSuperuser?: boolean;

  @ApiPropertyOptional({ type: Boolean })
  @Optional()
  @IsBoolean()
  isActive?: boolean;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ type: String })
  @Optional()
  @IsString()
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE })
  username?: string;

  @ApiPropertyOptional({ type: String })
  @Optional()
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
  password?: string;

  @ApiPropertyOptional({ type: String })
  @Optional()
  @ValidateIf((_o, v) => v !== '')
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ type: String })
  @Optional()
  @IsString()
  @MaxLength(150)
  firstName?: string;

  @ApiPropertyOptional({ type: String })
  @Optional()
  @IsString()
  @MaxLength(150)
  lastName?: string;

  @ApiPropertyOptional({ type: Boolean })
  @Optional()
  @IsBoolean()
  isStaff?: boolean;

  @ApiPropertyOptional({ type: Boolean })
  @Optional()
  @IsBoolean()
  isSuperuser?: boolean;

  @ApiPropertyOptional({ type: Boolean })
  @Optional()
  @IsBoolean()
  isActive?: boolean;
}

export class ListUsersQuery {
  @ApiPropertyOptional({ type: String })
  @Optional()
  @IsString()
  @MaxLength(150)
  search?: string;

  @ApiPropertyOptional({ type: Number })
  @Optional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer from 1 to 500' })
  @Min(1, { message: 'limit must be an integer from 1 to 500' })
  @Max(500, { message: 'limit must be an integer from 1 to 500' })
  limit?: number;

  @ApiPropertyOptional({ type: Number })
  @Optional()
  @Transform(toInt)
  @IsInt({ message: `offset must be an integer from 0 to ${INT4_MAX}` })
  @Min(0, { message: `offset must be an integer from 0 to ${INT4_MAX}` })
  @Max(INT4_MAX, { message: `offset must be an integer from 0 to ${INT4_MAX}` })
  offset?: number;

  @ApiPropertyOptional({ type: String })
  @Optional()
  @IsIn(['username', 'id', 'dateJoined'])
  ordering?: string;
}
