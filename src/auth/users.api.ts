import { ApiProperty } from '@nestjs/swagger';

/** OpenAPI shapes of the user answers (the interfaces in user.entity.ts, as classes for the docs). */
export class PublicUserDoc {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
  @ApiProperty() firstName!: string;
  @ApiProperty() lastName!: string;
  @ApiProperty({ description: '"first last", or the username when both are empty' }) fullName!: string;
  @ApiProperty() email!: string;
  @ApiProperty() isStaff!: boolean;
  @ApiProperty() isSuperuser!: boolean;
}

export class AdminUserDoc extends PublicUserDoc {
  @ApiProperty() isActive!: boolean;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) lastLogin!: string | null;
  @ApiProperty({ format: 'date-time' }) dateJoined!: string;
  @ApiProperty() hasUsablePassword!: boolean;
}

export class UserListDoc {
  @ApiProperty() count!: number;
  @ApiProperty({ type: [AdminUserDoc] }) results!: AdminUserDoc[];
}

export class CsrfDoc {
  @ApiProperty() csrfToken!: string;
  @ApiProperty({ description: 'The CSRF cookie’s name (CSRF_COOKIE_NAME)', example: 'csrftoken' })
  cookieName!: string;
}

export class SessionsEndedDoc {
  @ApiProperty({
    description: 'sessions ended (live’s and the Django site’s); sockets opened with them close with 4001',
  })
  sessionsEnded!: number;
}
