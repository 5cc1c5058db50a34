import {
  AccountFields,
  createRefusal,
  lastSuperuserRefusal,
  OPERATOR,
  removeRefusal,
  removesActiveSuperuser,
  updateRefusal,
} from './account-rules';

const account = (
  id: number,
  flags: { isStaff?: boolean; isSuperuser?: boolean; isActive?: boolean } = {},
) => ({
  id,
  username: `user${id}`,
  firstName: '',
  lastName: '',
  email: '',
  isStaff: false,
  isSuperuser: false,
  isActive: true,
  ...flags,
});
const superuser = account(1, { isStaff: true, isSuperuser: true });
const staff = account(2, { isStaff: true });
const otherStaff = account(3, { isStaff: true });
const otherSuperuser = account(4, { isStaff: true, isSuperuser: true });
const plain = account(5);

/** [kind, message] of a refusal, or null. */
const verdict = (refusal: { kind: string; message: string } | null) =>
  refusal ? [refusal.kind, refusal.message] : null;

describe('who may create what', () => {
  it.each([
    [superuser, { isStaff: true, isSuperuser: true }, null],
    [OPERATOR, { isStaff: true, isSuperuser: true }, null],
    [staff, { isActive: false, password: 'x' }, null],
    [staff, { isStaff: false }, null],
    [staff, { isStaff: true }, 'forbidden'],
    [staff, { isSuperuser: true }, 'forbidden'],
  ] as const)('%j creating %j', (actor, fields, kind) =>
    expect(createRefusal(actor, fields)?.kind ?? null).toBe(kind),
  );
});

describe('who may change what', () => {
  const cases: Array<
    [string, Parameters<typeof updateRefusal>[0], ReturnType<typeof account>, AccountFields, string[] | null]
  > = [
    // Own account: never deactivate or demote, whoever you are.
    [
      'superuser deactivates self',
      superuser,
      superuser,
      { isActive: false },
      ['invalid', 'You cannot deactivate your own account'],
    ],
    [
      'superuser drops own superuser',
      superuser,
      superuser,
      { isSuperuser: false },
      ['invalid', 'You cannot remove your own superuser status'],
    ],
    [
      'superuser drops own staff',
      superuser,
      superuser,
      { isStaff: false },
      ['invalid', 'You cannot remove your own staff status'],
    ],
    [
      'staff drops own staff',
      staff,
      staff,
      { isStaff: false },
      ['invalid', 'You cannot remove your own staff status'],
    ],
    [
      'staff deactivates self',
      staff,
      staff,
      { isActive: false, firstName: 'x' },
      ['invalid', 'You cannot deactivate your own account'],
    ],
    [
      'staff makes self superuser',
      staff,
      staff,
      { isSuperuser: true },
      ['forbidden', 'Only superusers may grant or remove staff or superuser status'],
    ],
    [
      'staff sets own password and names',
      staff,
      staff,
      { password: 'p', firstName: 'S', email: 's@x.org' },
      null,
    ],
    ['no-op flags on self', staff, staff, { isStaff: true, isActive: true, isSuperuser: false }, null],
    // Granting and removing status.
    ['superuser grants staff', superuser, plain, { isStaff: true }, null],
    ['superuser grants superuser', superuser, staff, { isSuperuser: true }, null],
    ['superuser removes staff', superuser, otherStaff, { isStaff: false }, null],
    ['superuser demotes another superuser', superuser, otherSuperuser, { isSuperuser: false }, null],
    [
      'staff grants staff',
      staff,
      plain,
      { isStaff: true },
      ['forbidden', 'Only superusers may grant or remove staff or superuser status'],
    ],
    [
      'staff removes staff',
      staff,
      otherStaff,
      { isStaff: false },
      ['forbidden', 'Only superusers may grant or remove staff or superuser status'],
    ],
    [
      'staff grants superuser',
      staff,
      plain,
      { isSuperuser: true },
      ['forbidden', 'Only superusers may grant or remove staff or superuser status'],
    ],
    ['staff: no-op flag on a user', staff, plain, { isStaff: false }, null],
    // Another staff member's account.
    ["superuser sets a staff member's password", superuser, staff, { password: 'p' }, null],
    ["superuser sets another superuser's password", superuser, otherSuperuser, { password: 'p' }, null],
    [
      "staff sets another staff member's password",
      staff,
      otherStaff,
      { password: 'p' },
      ['forbidden', "Only superusers may set another staff member's password"],
    ],
    [
      "staff sets a superuser's password",
      staff,
      superuser,
      { password: 'p' },
      ['forbidden', "Only superusers may set another staff member's password"],
    ],
    [
      'staff deactivates another staff member',
      staff,
      otherStaff,
      { isActive: false },
      ['forbidden', "Only superusers may change another staff member's account"],
    ],
    [
      "staff changes a superuser's email",
      staff,
      superuser,
      { email: 'me@evil.example' },
      ['forbidden', "Only superusers may change another staff member's account"],
    ],
    ['staff sends nothing new about a staff member', staff, otherStaff, { firstName: '' }, null],
    ['superuser deactivates staff', superuser, otherStaff, { isActive: false }, null],
    // Ordinary users: any staff member.
    ["staff sets a user's password", staff, plain, { password: 'p' }, null],
    ['staff deactivates a user', staff, plain, { isActive: false }, null],
    ['staff renames a user', staff, plain, { username: 'new', lastName: 'L' }, null],
    // The operator (manage) is bound by none of these.
    ['operator sets a superuser password', OPERATOR, superuser, { password: 'p' }, null],
    ['operator demotes a superuser', OPERATOR, superuser, { isSuperuser: false, isActive: false }, null],
  ];
  it.each(cases)('%s', (_name, actor, target, fields, expected) =>
    expect(verdict(updateRefusal(actor, target, fields))).toEqual(expected),
  );
});

describe('who may delete whom', () => {
  it.each([
    ['superuser deletes self', superuser, superuser, ['invalid', 'You cannot delete your own account']],
    ['staff deletes self', staff, staff, ['invalid', 'You cannot delete your own account']],
    ['staff deletes staff', staff, otherStaff, ['forbidden', 'Only superusers may delete staff accounts']],
    [
      'staff deletes a superuser',
      staff,
      superuser,
      ['forbidden', 'Only superusers may delete staff accounts'],
    ],
    ['staff deletes a user', staff, plain, null],
    ['superuser deletes staff', superuser, otherStaff, null],
    ['superuser deletes a superuser', superuser, otherSuperuser, null],
    ['operator deletes a superuser', OPERATOR, superuser, null],
  ] as const)('%s', (_name, actor, target, expected) =>
    expect(verdict(removeRefusal(actor, target))).toEqual(expected),
  );
});

describe('the last active superuser', () => {
  it('is at stake only when an active superuser is demoted, deactivated or deleted', () => {
    expect(removesActiveSuperuser(superuser, 'delete')).toBe(true);
    expect(removesActiveSuperuser(superuser, { isSuperuser: false })).toBe(true);
    expect(removesActiveSuperuser(superuser, { isActive: false })).toBe(true);
    expect(removesActiveSuperuser(superuser, { isStaff: false, firstName: 'x' })).toBe(false);
    expect(removesActiveSuperuser(superuser, { isSuperuser: true })).toBe(false);
    expect(removesActiveSuperuser(staff, 'delete')).toBe(false);
    expect(removesActiveSuperuser(account(9, { isSuperuser: true, isActive: false }), 'delete')).toBe(false);
  });

  it('is refused as a conflict naming the account', () =>
    expect(verdict(lastSuperuserRefusal(superuser))).toEqual([
      'conflict',
      '"user1" is the last active superuser; make another user an active superuser first',
    ]));
});
