// XEP-0092 Software Version: the server's name and version (from the root package.json), and the operating
// system only when the admin opts in, since it helps attackers pick exploits (§5 Security Considerations).
import { readFileSync } from 'node:fs';
import { release, type } from 'node:os';
import { z } from 'zod';
import { NS, xml } from '@parley/protocol';
import { defineModule } from '../../core/module-api';

const ROOT_PACKAGE = new URL('../../../../../package.json', import.meta.url);

const options = z.strictObject({
  show_os: z.boolean().default(false).describe('Include the operating system in software version answers (XEP-0092 <os/>)'),
});

export default defineModule({
  name: 'version',
  specs: [{ spec: 'XEP-0092', version: '1.1', status: 'complete' }],
  options,
  setup(ctx) {
    const { version } = JSON.parse(readFileSync(ROOT_PACKAGE, 'utf8')) as { version: string };
    const os = ctx.options.show_os ? `${type()} ${release()}` : undefined;
    // §2: only the server's own version; a version query to a user's full JID is routed to the client, and a
    // bare JID has no software of its own (service-unavailable from the router).
    ctx.iq.get(NS.VERSION, 'query', { to: ['host'] }, () =>
      xml('query', { xmlns: NS.VERSION }, xml('name', null, 'Parley'), xml('version', null, version), os !== undefined && xml('os', null, os)),
    );
  },
});
