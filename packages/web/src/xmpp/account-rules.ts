// The account features' decisions that need no connection (tested in Node): the block list as XEP-0191 pushes
// change it, and what a refused password change tells the user.

/** What the user reads when the server refuses a password change (XEP-0077 §3.3 error table). */
export function passwordChangeMessage(condition: string | undefined, text?: string): string {
  switch (condition) {
    case 'not-acceptable':
      return text ? `The server refused this password: ${text}` : 'The server refused this password; try a longer one.';
    case 'not-authorized':
    case 'forbidden':
    case 'not-allowed':
      return 'This server does not let you change your password here.';
    case 'policy-violation':
    case 'resource-constraint':
      return 'Too many attempts; try again later.';
    default:
      return 'The password could not be changed.';
  }
}

/** The blocklist with `jid` added or removed: kept sorted, without duplicates (XEP-0191 pushes may repeat). */
export function updateBlocklist(current: string[], jids: string[], action: 'block' | 'unblock' | 'unblock-all'): string[] {
  if (action === 'unblock-all') return [];
  const set = new Set(current);
  for (const j of jids) {
    if (action === 'block') set.add(j);
    else set.delete(j);
  }
  return [...set].sort();
}
