// XEP-0077: in-band registration. Before authentication a client may create an account when
// registration.mode is 'open' (the c2s stream advertises the stream feature then, §8); afterwards it may change
// its password or remove its account, whatever the mode.
import { NS } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { IpRateLimiter } from '../../stream/rate-limiter';
import { preAuthHandler } from './pre-auth';
import { registerAccountIqs } from './account';

const HOUR_MS = 3_600_000;

export default defineModule({
  name: 'register',
  specs: [
    {
      spec: 'XEP-0077',
      version: '2.5',
      status: 'complete',
      note: 'registration with a data form, password change, cancellation; no redirection (x:oob)',
    },
  ],
  setup(ctx) {
    const { config } = ctx.server;
    // §3.1.1 lets a server refuse too many registrations; counted per address, loopback exempt by default.
    const limiter = new IpRateLimiter(config.registration.per_ip_per_hour, HOUR_MS, config.rate_limit.exempt_networks);
    ctx.c2s.registerPreAuthIq(NS.REGISTER, preAuthHandler(ctx, limiter));
    registerAccountIqs(ctx);
  },
});
