import { BadRequestException, PipeTransform } from '@nestjs/common';
import { ROOM_PATTERN } from './chat.protocol';

/** `:room` route parameters: a room name as sockets use it (1 to 100 letters, digits, _ or -), else a 400. */
export class RoomNamePipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (typeof value !== 'string' || !ROOM_PATTERN.test(value))
      throw new BadRequestException('Room name must be 1 to 100 letters, digits, _ or -');
    return value;
  }
}
