// The specifications the core implements (streams, transports, authentication, federation), listed beside the
// modules' own `specs` declarations in docs/SUPPORTED.md, so the document names every protocol Parley speaks and
// where its code lives. Keep an entry next to the code it describes when that code changes.
import type { SpecInfo } from './module-api';

export interface CoreSpecInfo extends SpecInfo {
  /** Where the code is, relative to packages/server/src (or packages/protocol/src for `protocol/`). */
  where: string;
}

export const CORE_SPECS: readonly CoreSpecInfo[] = [
  { spec: 'RFC 6120', version: 'RFC', status: 'complete', where: 'stream/stream-machine.ts, stream/c2s-session.ts', note: 'streams, STARTTLS, SASL, resource binding, stream and stanza errors, whitespace keepalives' },
  { spec: 'RFC 7622', version: 'RFC', status: 'complete', where: 'protocol/jid.ts, protocol/precis.ts', note: 'PRECIS profiles (RFC 8264/8265) and UTS #46 domains' },
  { spec: 'RFC 5802', version: 'RFC', status: 'complete', where: 'stream/sasl/scram.ts', note: 'SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 7677), -PLUS with tls-exporter (RFC 9266) and tls-server-end-point (RFC 5929); keys only at rest' },
  { spec: 'RFC 4616', version: 'RFC', status: 'complete', where: 'stream/sasl/plain.ts', note: 'PLAIN only over TLS unless allow_plaintext_auth' },
  { spec: 'RFC 7395', version: 'RFC', status: 'complete', where: 'net/websocket.ts, net/websocket-connection.ts', note: '/xmpp-websocket; Origin allow-list, see-other-uri' },
  { spec: 'XEP-0124', version: '1.11.2', status: 'complete', where: 'net/bosh.ts, net/bosh-connection.ts', note: '/http-bind: rid window and replay, hold/wait/inactivity/polling/pause' },
  { spec: 'XEP-0206', version: '1.4', status: 'complete', where: 'net/bosh-connection.ts', note: 'stream restart and XMPP over BOSH' },
  { spec: 'XEP-0368', version: '1.1.0', status: 'complete', where: 'net/c2s-listener.ts, net/s2s-listener.ts, net/s2s-resolve.ts', note: 'direct TLS for clients (ALPN xmpp-client) and servers (s2s.direct_tls_port, ALPN xmpp-server); _xmpps-server SRV for outgoing s2s' },
  { spec: 'XEP-0440', version: '0.4.2', status: 'complete', where: 'stream/sasl-negotiation.ts', note: 'channel binding types advertised' },
  { spec: 'XEP-0114', version: '1.6', status: 'complete', where: 'stream/component-policy.ts, net/component-listener.ts', note: 'external components, handshake with a shared secret' },
  { spec: 'XEP-0220', version: '1.1.1', status: 'complete', where: 'stream/dialback.ts', note: 'server dialback with errors and piggybacking' },
  { spec: 'XEP-0178', version: '1.2', status: 'complete', where: 'stream/xmpp-identity.ts, net/s2s-listener.ts, stream/s2s-in-policy.ts', note: 'SASL EXTERNAL between servers whose certificates validate; names per RFC 6125: id-on-xmppAddr, SRV-ID, DNS-ID (one-label wildcards), CN only without SANs' },
];
