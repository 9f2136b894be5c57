// A tiny authoritative DNS server on loopback (dns-packet over UDP) for tests of what Parley looks up: SRV records
// by name, A/AAAA by `name/TYPE`; anything else gets NXDOMAIN.
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';

export type DnsAnswer = dnsPacket.Answer;
/** SRV answers keyed by the query name; address answers keyed by `host/A` or `host/AAAA`. */
export type DnsZone = Record<string, DnsAnswer[]>;

export interface TestDnsServer {
  socket: Socket;
  /** host:port, as s2s.dns_servers and the doctor take it. */
  address: string;
}

export const srvRecord = (name: string, priority: number, port: number, target: string): DnsAnswer => ({ type: 'SRV', name, data: { priority, weight: 0, port, target } });

export function startDnsServer(zone: DnsZone): Promise<TestDnsServer> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const query = dnsPacket.decode(msg);
    const q = query.questions![0]!;
    const answers = (zone[q.type === 'SRV' ? q.name : `${q.name}/${q.type}`] ?? []).map((a) => ({ ...a, ttl: 60, class: 'IN' as const }));
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (answers.length === 0 ? 3 : 0), // rcode 3: NXDOMAIN
      questions: query.questions,
      answers: answers as DnsAnswer[],
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve({ socket, address: `127.0.0.1:${socket.address().port}` })));
}
