import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { unknownKey, type KeyResolver } from '@sidecart/chassis';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public half as published in the JWKS. */
  jwk: JsonWebKey & { kid: string; alg: 'RS256'; use: 'sig' };
}

/** Loads the RS256 signing key; its `kid` is the RFC 7638 thumbprint, so it is stable per key. */
export function loadSigningKey(source: { pem?: string; file?: string }): SigningKey {
  const pem = source.pem ?? readFileSync(source.file!, 'utf8');
  const privateKey = createPrivateKey(pem);
  if (
    privateKey.asymmetricKeyType !== 'rsa' ||
    (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048
  ) {
    throw new Error('The auth signing key must be an RSA key of at least 2048 bits');
  }
  const publicKey = createPublicKey(privateKey);
  const { n, e } = publicKey.export({ format: 'jwk' });
  const kid = createHash('sha256')
    .update(JSON.stringify({ e, kty: 'RSA', n }))
    .digest('base64url');
  return { kid, privateKey, publicKey, jwk: { kty: 'RSA', n, e, kid, alg: 'RS256', use: 'sig' } };
}

/** Auth checks its own tokens against its own key, with no JWKS round trip. */
export function localKeyResolver(key: SigningKey): KeyResolver {
  return async (kid) => {
    if (kid !== key.kid) throw unknownKey(kid);
    return key.publicKey;
  };
}
