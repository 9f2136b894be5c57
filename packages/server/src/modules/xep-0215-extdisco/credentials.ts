// The "TURN REST API" shared-secret credentials (draft-uberti-behave-turn-rest-00 §2.2), as coturn checks them
// with use-auth-secret: the username carries its own expiry, the password is an HMAC of it under the secret
// the TURN server and we share — so the TURN server needs no user database and no call back to us.
import { createHmac } from 'node:crypto';

export interface TurnCredentials {
  username: string;
  password: string;
  /** Expiry, seconds since the epoch. */
  expires: number;
}

/** username = "<expiry>:<user>" (coturn's default rest-api-separator), password = base64(HMAC-SHA1(secret, username)). */
export function turnCredentials(secret: string, user: string, ttlSeconds: number, now = Date.now()): TurnCredentials {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const username = `${expires}:${user}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, expires };
}
