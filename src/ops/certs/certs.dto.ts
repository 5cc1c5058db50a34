import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsEmail,
  IsInt,
  IsString,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { Optional, toInt } from '../../common/validation';

/** A DNS hostname with at least two labels; no wildcard (http-01 cannot validate one), no IP. */
export const HOSTNAME_PATTERN =
  /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.[a-z][a-z0-9-]{0,62}(?<!-)$/;

export class ObtainCertDto {
  @ApiProperty({ type: [String], example: ['example.org', 'www.example.org'], description: 'at most 100' })
  @IsArray({ message: 'domains must be an array of host names' })
  @ArrayMinSize(1, { message: 'domains needs at least one host name' })
  @ArrayMaxSize(100, { message: 'domains takes at most 100 host names (Let’s Encrypt’s limit)' })
  @ArrayUnique({ message: 'domains must not repeat a name' })
  @Transform(({ value }) =>
    Array.isArray(value) ? value.map((d: unknown) => (typeof d === 'string' ? d.toLowerCase() : d)) : value,
  )
  @IsString({ each: true, message: 'each domain must be a string' })
  @Matches(HOSTNAME_PATTERN, {
    each: true,
    message: 'each domain must be a host name like example.org (no wildcard, no IP address, no port)',
  })
  domains!: string[];

  @ApiPropertyOptional({ description: 'ACME account email (defaults to CERTBOT_EMAIL)' })
  @Optional()
  @IsEmail({}, { message: 'email must be an email address' })
  email?: string;

  @ApiPropertyOptional({
    description:
      'from Let’s Encrypt’s staging directory (untrusted certificates, generous rate limits); default CERTBOT_STAGING',
  })
  @Optional()
  @IsBoolean({ message: 'staging must be true or false' })
  staging?: boolean;
}

export class RenewCertsDto {
  @ApiPropertyOptional({ description: 'renew every certificate now, due or not (certbot --force-renewal)' })
  @Optional()
  @IsBoolean({ message: 'force must be true or false' })
  force?: boolean;
}

export class RunsQuery {
  @ApiPropertyOptional({ type: Number, minimum: 1, maximum: 200, default: 20 })
  @Optional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer from 1 to 200' })
  @Min(1, { message: 'limit must be an integer from 1 to 200' })
  @Max(200, { message: 'limit must be an integer from 1 to 200' })
  limit?: number;
}
