// Audit events at level info: who connected, who logged in or failed to, accounts created or changed, admin actions.
// The message text of each is a fixed format (docs/LOGGING.md) so that fail2ban and similar tools can match the same
// line in JSON and in pretty output; the same values are also structured fields (event, ip, jid, mechanism).
// Never a password, token or key: only names, addresses and outcomes.
import type { Logger } from '../log';

/** Values a client chose (a claimed username) must not be able to forge the rest of the line: no spaces or controls. */
export function logSafe(value: string | undefined, max = 256): string {
  if (value === undefined || value === '') return '-';
  const clean = value.replace(/[\s\p{C}"\\]/gu, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export const audit = {
  connectionAccepted(log: Logger, ip: string, transport: string, id: string): void {
    log.info({ event: 'connection-accepted', ip, transport, c2s: id }, `connection accepted from ${ip} (${transport})`);
  },
  connectionRefused(log: Logger, ip: string, transport: string, reason: string): void {
    log.info({ event: 'connection-refused', ip, transport, reason }, `connection refused from ${ip} (${transport}): ${reason}`);
  },
  connectionClosed(log: Logger, ip: string, transport: string, id: string, seconds: number): void {
    log.info({ event: 'connection-closed', ip, transport, c2s: id, seconds }, `connection closed from ${ip} (${transport}) after ${seconds} s`);
  },
  /** RFC 6120 §6.4.6 success. */
  authSucceeded(log: Logger, jid: string, mechanism: string, ip: string): void {
    log.info({ event: 'auth-succeeded', jid, mechanism, ip }, `authentication succeeded for ${logSafe(jid)} from ${ip} mechanism ${logSafe(mechanism, 64)}`);
  },
  /** RFC 6120 §6.5 failure; `claimed` is the identity the client gave (it may not exist), '-' when none. */
  authFailed(log: Logger, claimed: string | undefined, mechanism: string | undefined, ip: string, condition: string): void {
    const who = logSafe(claimed);
    const mech = logSafe(mechanism, 64);
    log.info({ event: 'auth-failed', jid: who, mechanism: mech, ip, condition }, `authentication failed for ${who} from ${ip} mechanism ${mech}: ${condition}`);
  },
  accountCreated(log: Logger, jid: string): void {
    log.info({ event: 'account-created', jid }, `account created: ${jid}`);
  },
  accountDeleted(log: Logger, jid: string): void {
    log.info({ event: 'account-deleted', jid }, `account deleted: ${jid}`);
  },
  passwordChanged(log: Logger, jid: string): void {
    log.info({ event: 'password-changed', jid }, `password changed for ${jid}`);
  },
  /** `actor`: an admin's bare JID (XEP-0050), or 'control-socket' for the local `parley` command. */
  adminCommand(log: Logger, command: string, actor: string): void {
    log.info({ event: 'admin-command', command, actor }, `admin command ${command} by ${actor}`);
  },
};
