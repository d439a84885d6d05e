// Generates the IdP's secrets into $IDP_STATE_DIR, only if they are missing:
//   jwks.json    {"keys":[<private RSA JWK, kid, alg RS256, use sig>]}  (ID token signing key)
//   cookies.json {"keys":["<random>", ...]}                              (cookie signing secrets)
// Files are mode 600, the directory 700. Never commit them.
// Usage: node idp/genkeys.mjs   (or imported by server.mjs on start)
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const defaultStateDir = () => process.env.IDP_STATE_DIR || '/var/lib/onestop-dev/idp';

function writeSecret(path, obj) {
  // 'wx' = create only: never overwrite an existing key (and lose a race gracefully).
  try {
    writeFileSync(path, `${JSON.stringify(obj, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
}

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  // kid = RFC 7638 JWK thumbprint of the public key.
  const kid = createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n }))
    .digest('base64url');
  return { kid, alg: 'RS256', use: 'sig', ...jwk };
}

export function ensureKeys(stateDir = defaultStateDir()) {
  // Parents keep the default mode (others may share /var/lib/onestop-dev); the leaf is 700.
  mkdirSync(dirname(stateDir), { recursive: true });
  if (!existsSync(stateDir)) mkdirSync(stateDir, { mode: 0o700 });
  const jwksPath = join(stateDir, 'jwks.json');
  const cookiesPath = join(stateDir, 'cookies.json');
  const created = [];
  if (!existsSync(jwksPath)) {
    writeSecret(jwksPath, { keys: [newSigningKey()] });
    created.push(jwksPath);
  }
  if (!existsSync(cookiesPath)) {
    writeSecret(cookiesPath, { keys: [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')] });
    created.push(cookiesPath);
  }
  for (const p of [jwksPath, cookiesPath]) chmodSync(p, 0o600);
  return {
    created,
    jwks: JSON.parse(readFileSync(jwksPath, 'utf8')),
    cookieKeys: JSON.parse(readFileSync(cookiesPath, 'utf8')).keys,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = defaultStateDir();
  const { created } = ensureKeys(dir);
  console.log(created.length ? `idp keys created: ${created.join(', ')}` : `idp keys present in ${dir}`);
}
