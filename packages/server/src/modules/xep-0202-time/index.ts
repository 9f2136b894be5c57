// XEP-0202 Entity Time: the server's own clock. Queries to a user's full JID are routed to the client by
// rfc6121-routing; a bare JID has no clock of its own (service-unavailable from the router).
import { NS, xml } from '@parley/protocol';
import { defineModule } from '../../core/module-api';

export default defineModule({
  name: 'time',
  specs: [{ spec: 'XEP-0202', version: '2.0', status: 'complete' }],
  setup(ctx) {
    ctx.iq.get(NS.TIME, 'time', { to: ['host'] }, () => {
      const now = new Date();
      // §2: <tzo/> is the offset from UTC as [+-]hh:mm and <utc/> the time in UTC, both XEP-0082 profiles.
      return xml('time', { xmlns: NS.TIME }, xml('tzo', null, timezoneOffset(now)), xml('utc', null, utcDateTime(now)));
    });
  },
});

/** XEP-0082 TZD as a numeric offset, e.g. +02:00 or -05:30 (Date#getTimezoneOffset counts minutes west of UTC). */
export function timezoneOffset(date: Date): string {
  const east = -date.getTimezoneOffset();
  const abs = Math.abs(east);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${east < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** XEP-0082 DateTime in UTC, whole seconds as in the XEP-0202 examples (fractions are optional there). */
export function utcDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
