import { defineEntity, p } from '@mikro-orm/core';
import { conflict } from '@sidecart/chassis';
import { v7 as uuidv7 } from 'uuid';

export const roles = ['customer', 'seller', 'admin'] as const;
export type Role = (typeof roles)[number];
export const accountTypes = ['customer', 'seller'] as const;
export type AccountType = (typeof accountTypes)[number];

export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    // Version 7 ids sort by creation time: cursor pagination needs no extra column.
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    email: p.string().length(254).unique(),
    name: p.string().length(100),
    passwordHash: p.text().hidden().lazy(),
    roles: p.array<Role>(),
    accountType: p.enum(accountTypes),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    version: p.integer().version(),
  },
});

export class User extends UserSchema.class {
  hasRole(role: Role): boolean {
    return this.roles.includes(role);
  }

  /** An admin changing their own roles could lock every admin out. */
  changeRoles(next: Role[], actorId: string): void {
    if (this.id === actorId) throw conflict('own-roles', 'You cannot change your own roles');
    this.roles = [...new Set(next)].sort();
  }
}
UserSchema.setClass(User);

/** What a user looks like over the API: never the password hash. */
export function toUserDto(user: User) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    roles: user.roles,
    accountType: user.accountType,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    version: user.version,
  };
}

export const rolesFor = (accountType: AccountType): Role[] =>
  accountType === 'seller' ? ['customer', 'seller'] : ['customer'];
