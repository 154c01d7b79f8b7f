import { hash, verify } from '@node-rs/argon2';

// argon2id with the library's defaults (m=19 MiB, t=2, p=1: OWASP's minimum for argon2id).
export const hashPassword = (password: string) => hash(password);

/** Hashed once: checked against when the email is unknown, so both failures take as long. */
const unknownUserHash = hash('no user has this password');

export async function verifyPassword(passwordHash: string | undefined, password: string) {
  if (passwordHash === undefined) {
    await verify(await unknownUserHash, password);
    return false;
  }
  return verify(passwordHash, password);
}
