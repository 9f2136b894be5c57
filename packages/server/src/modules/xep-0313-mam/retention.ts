// XEP-0313 §3.2: a server may keep messages only up to an age. With mam.max_age_days > 0, a periodic sweep
// removes older items from every user archive and every MUC room archive (ids of removed items are never reused:
// the stores assign fresh random ids).
import type { ModuleContext } from '../../core/module-api';
import type { ArchiveStore, MapStore } from '../../storage/types';

const DAY_MS = 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 60 * 1000;

export interface RetentionTargets {
  users: ArchiveStore;
  rooms: ArchiveStore;
  /** The MUC module's persistent rooms (owners of room archives). */
  roomList: MapStore<unknown>;
}

/** Deletes items older than `maxAgeDays`; resolves to how many went. */
export async function sweep<O>(ctx: ModuleContext<O>, t: RetentionTargets, maxAgeDays: number, now = Date.now()): Promise<number> {
  if (maxAgeDays <= 0) return 0;
  const before = now - maxAgeDays * DAY_MS;
  let removed = 0;
  for (const user of await ctx.server.accounts.list()) {
    removed += await t.users.delete(`${user}@${ctx.server.domain}`, { before });
  }
  for (const room of await t.roomList.owners()) removed += await t.rooms.delete(room, { before });
  return removed;
}

/** Sweeps now and then every hour; the timer never keeps the process alive. */
export function scheduleRetention<O>(ctx: ModuleContext<O>, t: RetentionTargets, maxAgeDays: number): void {
  if (maxAgeDays <= 0) return;
  let running = false;
  const run = () => {
    if (running) return;
    running = true;
    sweep(ctx, t, maxAgeDays)
      .then((n) => n > 0 && ctx.log.info({ removed: n }, 'archive retention sweep'))
      .catch((err) => ctx.log.warn({ err }, 'archive retention sweep failed'))
      .finally(() => (running = false));
  };
  const first = setTimeout(run, 1000);
  const timer = setInterval(run, SWEEP_EVERY_MS);
  first.unref();
  timer.unref();
  ctx.onStop(() => {
    clearTimeout(first);
    clearInterval(timer);
  });
}
