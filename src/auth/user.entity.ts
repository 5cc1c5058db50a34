import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Django's auth_user, column for column (shared with Django on an adopted database). Django sets no
 * defaults in the database, so every insert names every column.
 */
@Entity('auth_user')
export class User {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 128 })
  password!: string;

  @Column({ name: 'last_login', type: Date, nullable: true })
  lastLogin!: Date | null;

  @Column({ name: 'is_superuser', type: 'boolean' })
  isSuperuser!: boolean;

  @Column({ type: 'varchar', length: 150, unique: true })
  username!: string;

  @Column({ name: 'first_name', type: 'varchar', length: 150 })
  firstName!: string;

  @Column({ name: 'last_name', type: 'varchar', length: 150 })
  lastName!: string;

  @Column({ type: 'varchar', length: 254 })
  email!: string;

  @Column({ name: 'is_staff', type: 'boolean' })
  isStaff!: boolean;

  @Column({ name: 'is_active', type: 'boolean' })
  isActive!: boolean;

  @Column({ name: 'date_joined', type: Date })
  dateJoined!: Date;
}

/** Django's get_full_name(), falling back to the username as the chat does. */
export function displayName(user: Pick<User, 'firstName' | 'lastName' | 'username'>): string {
  return `${user.firstName} ${user.lastName}`.trim() || user.username;
}

export interface PublicUser {
  id: number;
  username: string;
  firstName: string;
  lastName: string;
  fullName: string;
  email: string;
  isStaff: boolean;
  isSuperuser: boolean;
}

export interface AdminUserView extends PublicUser {
  isActive: boolean;
  lastLogin: string | null;
  dateJoined: string;
  hasUsablePassword: boolean;
}

export function toPublicUser(user: User): PublicUser {
  return {
    id: user.id,
    username: user.username,
    firstName: user.firstName,
    lastName: user.lastName,
    fullName: displayName(user),
    email: user.email,
    isStaff: user.isStaff,
    isSuperuser: user.isSuperuser,
  };
}
