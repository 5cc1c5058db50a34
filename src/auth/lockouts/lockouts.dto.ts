import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { Optional } from '../../common/validation';

/** DELETE /admin/lockouts?username=&address=: one of them at least (the controller checks). */
export class UnlockQuery {
  @ApiPropertyOptional({
    type: String,
    description: 'Clears this username’s failures (from `address` only, if given)',
  })
  @Optional()
  @IsString()
  @MinLength(1)
  @MaxLength(150)
  username?: string;

  @ApiPropertyOptional({
    type: String,
    description: 'Clears this address’s failures (for `username` only, if given)',
  })
  @Optional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  address?: string;
}
