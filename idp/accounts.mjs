// Demo accounts of the development identity provider.
// `sub` is a stable opaque id (deliberately not the username): the portal must map
// users by the `preferred_username` claim, like it will with the campus IdP.
// mallory is known to the IdP but has no Unix account on the dev cluster.
const ACCOUNTS = [
  { sub: 'c1a7e3f0-5b2d-4e61-9a0c-0000000a11ce', username: 'alice', given: 'Alice', family: 'Anderson', groups: ['chem'] },
  { sub: 'c1a7e3f0-5b2d-4e61-9a0c-000000000b0b', username: 'bob', given: 'Bob', family: 'Brown', groups: ['chem'] },
  { sub: 'c1a7e3f0-5b2d-4e61-9a0c-00000000ca01', username: 'carol', given: 'Carol', family: 'Chen', groups: ['physics'] },
  { sub: 'c1a7e3f0-5b2d-4e61-9a0c-000000000e41', username: 'erin', given: 'Erin', family: 'Evans', groups: ['onestop-admins'] },
  { sub: 'c1a7e3f0-5b2d-4e61-9a0c-0000000ba11d', username: 'mallory', given: 'Mallory', family: 'Moss', groups: [] },
];

const bySub = new Map(ACCOUNTS.map((a) => [a.sub, a]));
const byUsername = new Map(ACCOUNTS.map((a) => [a.username, a]));

export const demoUsernames = ACCOUNTS.map((a) => a.username);

function demoPassword() {
  return process.env.IDP_DEMO_PASSWORD || 'demo';
}

/** Returns the account's sub if username/password are right, else undefined. */
export function authenticate(username, password) {
  const account = byUsername.get(String(username || '').trim().toLowerCase());
  if (!account || password !== demoPassword()) return undefined;
  return account.sub;
}

export function usernameOf(sub) {
  return bySub.get(sub)?.username;
}

/** oidc-provider `findAccount`: all claims; the provider filters them by granted scope. */
export async function findAccount(ctx, sub) {
  const a = bySub.get(sub);
  if (!a) return undefined;
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        name: `${a.given} ${a.family}`,
        given_name: a.given,
        family_name: a.family,
        preferred_username: a.username,
        email: `${a.username}@campus.example`,
        email_verified: true,
        groups: [...a.groups],
      };
    },
  };
}
