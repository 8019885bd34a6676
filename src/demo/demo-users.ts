/**
 * The development provider's demo users: its accounts, whose records are their claims. The
 * login form accepts any password for them.
 */
export interface DemoUser {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  groups?: string[];
  [claim: string]: unknown;
}

export const DEMO_USERS: Readonly<Record<string, DemoUser>> = {
  alice: {
    email: 'alice@example.com',
    name: 'Alice Admin',
    preferred_username: 'alice',
    groups: ['admins', 'eng'],
  },
  bob: { email: 'bob@example.com', name: 'Bob Builder', preferred_username: 'bob', groups: ['eng'] },
};

/** The user named `id`: an own entry only, so `constructor` or `__proto__` is nobody. */
export function userNamed(users: Readonly<Record<string, DemoUser>>, id: string): DemoUser | undefined {
  return Object.hasOwn(users, id) ? users[id] : undefined;
}
