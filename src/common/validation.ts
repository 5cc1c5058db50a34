import { BadRequestException, PipeTransform } from '@nestjs/common';
import { ValidateIf } from 'class-validator';

/**
 * Ranges of the database columns that numbers from requests end up in. Ids are `integer` (int4 on
 * PostgreSQL); chat message ids are `bigint` but made and compared as JavaScript numbers, so they
 * stay within the safe integers (2^53 - 1, well inside int8).
 */
export const INT4_MAX = 2_147_483_647;
export const MESSAGE_ID_MAX = Number.MAX_SAFE_INTEGER;

/**
 * Like @IsOptional(), but only an absent field (undefined) skips validation: an explicit `null` is
 * validated, and refused, instead of reaching a NOT NULL column or a TypeORM where clause.
 */
export function Optional(): PropertyDecorator {
  return ValidateIf((_object: unknown, value: unknown) => value !== undefined);
}

/**
 * For @Transform: a query string of plain decimal digits becomes a number; anything else (signs,
 * `1e3`, `1.5`, arrays from repeated parameters) is left as is for @IsInt/@Min/@Max to refuse.
 * Seventeen digits at most: every longer string is out of range anyway, and refused as such.
 */
export const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d{1,17}$/.test(value) ? Number(value) : value;

/**
 * `:id` route parameters: an integer from 1 to 2147483647 (an int4 primary key), else a 400. The
 * global ValidationPipe runs first and has already made a `number` parameter a number (`+value`).
 */
export class IdPipe implements PipeTransform<string | number, number> {
  constructor(private readonly name = 'id') {}

  transform(value: string | number): number {
    const id = typeof value === 'number' ? value : /^\d{1,10}$/.test(value) ? Number(value) : NaN;
    if (!(Number.isInteger(id) && id >= 1 && id <= INT4_MAX))
      throw new BadRequestException(`${this.name} must be an integer from 1 to ${INT4_MAX}`);
    return id;
  }
}
