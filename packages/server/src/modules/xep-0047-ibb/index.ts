// XEP-0047 In-Band Bytestreams: entirely between the two clients. The server's part is RFC 6121 §8.5
// routing of iqs and messages between full JIDs, untouched (see index.test.ts); this module only declares it.
import { defineModule } from '../../core/module-api';

export default defineModule({
  name: 'ibb',
  specs: [{ spec: 'XEP-0047', version: '2.0.1', status: 'complete', note: 'client to client; the server routes it untouched' }],
  setup() {},
});
