// XEP-0388 Extensible SASL Profile: client streams offer <authentication xmlns='urn:xmpp:sasl:2'/> next to the
// classic <mechanisms/>, with the same mechanisms and TLS policy. The negotiation itself is part of the stream
// (stream/sasl2-negotiation.ts); this module only switches it on, so `modules.disabled: [sasl2]` leaves clients the
// classic profile (and with it no Bind 2 and no FAST, which are SASL2 inline features).
import { defineModule } from '../../core/module-api';

export default defineModule({
  name: 'sasl2',
  specs: [
    {
      spec: 'XEP-0388',
      version: '1.0.4',
      status: 'partial',
      note: 'no `<continue/>` tasks (second factor, SCRAM hash upgrades); inline features from modules (Bind 2, FAST)',
    },
  ],
  setup(ctx) {
    ctx.c2s.offerSasl2();
  },
});
