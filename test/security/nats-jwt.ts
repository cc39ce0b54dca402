import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';

/**
 * Just enough of NATS's decentralized auth for a test, written by hand because @nats-io/jwt is
 * not installed: an operator, an account with JetStream, and a user as a creds file. The
 * JWTs are ed25519-nkey signed claims (https://docs.nats.io/running-a-nats-service/configuration/securing_nats/jwt).
 */

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function sign(issuer: nkeys.KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = { jti: '', iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  claims.jti = base32(createHash('sha256').update(JSON.stringify(claims)).digest());
  const head = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64url(JSON.stringify(claims))}`;
  return `${head}.${b64url(issuer.sign(new TextEncoder().encode(head)))}`;
}

const unlimited = { subs: -1, data: -1, payload: -1 };

/** Permissions of a user, as nats-server reads them from its JWT. */
export interface UserPermissions {
  pub?: { allow?: string[] };
  sub?: { allow?: string[] };
  resp?: { max: number; ttl: number };
}

/** An operator with one JetStream account; `server` is the nats-server configuration that trusts it. */
export function operatorSetup(): { server: string; userCreds(name: string, permissions?: UserPermissions): string } {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  // JetStream in operator mode needs a system account for its internal subscriptions.
  const system = nkeys.createAccount();
  const operatorJwt = sign(operator, operator.getPublicKey(), 'test-operator', { type: 'operator', system_account: system.getPublicKey() });
  const systemJwt = sign(operator, system.getPublicKey(), 'SYS', { type: 'account', limits: { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 } });
  const accountJwt = sign(operator, account.getPublicKey(), 'test-account', {
    type: 'account',
    limits: { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  });
  const server = `operator: ${operatorJwt}\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\n` +
    `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }\n`;
  return {
    server,
    userCreds(name, permissions = {}) {
      const user = nkeys.createUser();
      const jwt = sign(account, user.getPublicKey(), name, { type: 'user', ...unlimited, ...permissions });
      const seed = new TextDecoder().decode(user.getSeed());
      return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
    },
  };
}
