import { AuthError } from './auth.exception';
import type { User } from './user.entity';

/**
 * Who may do what to an account (issue 17). Staff manage ordinary users; superusers alone grant or
 * remove staff and superuser status and touch another staff member's account (its password, its
 * names and email, which a Django site beside live may send password resets to, its active flag,
 * its deletion). Nobody deactivates, demotes or deletes themselves. The machine's operator (`manage`,
 * who can read the database and SECRET_KEY anyway) is bound by none of these, only by the
 * last-superuser rule, which UsersService checks under a lock.
 */

/** The manage CLI, acting as the operator of the machine rather than as a user. */
export const OPERATOR = 'operator' as const;

/** Who asks: the logged-in staff member (API, console) or the operator (manage). */
export type Actor = Pick<User, 'id' | 'isSuperuser'> | typeof OPERATOR;

type Account = Pick<User, 'id' | 'isStaff' | 'isSuperuser' | 'isActive'> &
  Partial<Pick<User, 'username' | 'email' | 'firstName' | 'lastName'>>;

/** The fields a create or an update may set (the DTOs' shape). */
export interface AccountFields {
  username?: string;
  password?: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  isStaff?: boolean;
  isSuperuser?: boolean;
  isActive?: boolean;
}

const ONLY_SUPERUSERS_GRANT = 'Only superusers may grant or remove staff or superuser status';

/** Why `actor` may not create an account with these fields, or null. */
export function createRefusal(actor: Actor, fields: AccountFields): AuthError | null {
  if (actor === OPERATOR || actor.isSuperuser) return null;
  if (fields.isStaff || fields.isSuperuser) return new AuthError('forbidden', ONLY_SUPERUSERS_GRANT);
  return null;
}

/** The fields of an update that would change the account (a password always does). */
function changedFields(target: Account, fields: AccountFields): (keyof AccountFields)[] {
  return (Object.keys(fields) as (keyof AccountFields)[]).filter(
    (key) => fields[key] !== undefined && (key === 'password' || fields[key] !== target[key]),
  );
}

/** Why `actor` may not make this update to `target`, or null. Own-account rules (400) come first. */
export function updateRefusal(actor: Actor, target: Account, fields: AccountFields): AuthError | null {
  if (actor === OPERATOR) return null;
  const changed = changedFields(target, fields);
  if (actor.id === target.id) {
    if (changed.includes('isActive') && !fields.isActive)
      return new AuthError('invalid', 'You cannot deactivate your own account');
    if (changed.includes('isSuperuser') && !fields.isSuperuser)
      return new AuthError('invalid', 'You cannot remove your own superuser status');
    if (changed.includes('isStaff') && !fields.isStaff)
      return new AuthError('invalid', 'You cannot remove your own staff status');
  }
  if (actor.isSuperuser) return null;
  if (changed.includes('isStaff') || changed.includes('isSuperuser'))
    return new AuthError('forbidden', ONLY_SUPERUSERS_GRANT);
  if (actor.id !== target.id && (target.isStaff || target.isSuperuser) && changed.length > 0)
    return new AuthError(
      'forbidden',
      changed.includes('password')
        ? "Only superusers may set another staff member's password"
        : "Only superusers may change another staff member's account",
    );
  return null;
}

/** Why `actor` may not delete `target`, or null. */
export function removeRefusal(actor: Actor, target: Account): AuthError | null {
  if (actor === OPERATOR) return null;
  if (actor.id === target.id) return new AuthError('invalid', 'You cannot delete your own account');
  if (!actor.isSuperuser && (target.isStaff || target.isSuperuser))
    return new AuthError('forbidden', 'Only superusers may delete staff accounts');
  return null;
}

/** Whether the update (or, with `'delete'`, the deletion) takes an active superuser away. */
export function removesActiveSuperuser(target: Account, change: AccountFields | 'delete'): boolean {
  if (!target.isSuperuser || !target.isActive) return false;
  return change === 'delete' || change.isSuperuser === false || change.isActive === false;
}

/** The refusal when `target` is the only active superuser left. */
export function lastSuperuserRefusal(target: Account): AuthError {
  const name = target.username ? `"${target.username}"` : `User ${target.id}`;
  return new AuthError(
    'conflict',
    `${name} is the last active superuser; make another user an active superuser first`,
  );
}
