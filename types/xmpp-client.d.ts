// Minimal typings for xmpp.js (@xmpp/client ships none); only what the tests use.
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';
  export interface XmppElement {
    name: string;
    attrs: Record<string, string>;
    toString(): string;
  }
  export interface XmppClient extends EventEmitter {
    status: string;
    start(): Promise<{ toString(): string }>;
    stop(): Promise<void>;
    write(data: string): Promise<void>;
    send(el: unknown): Promise<void>;
    reconnect?: { stop(): void };
    /** XEP-0484 token storage (in memory by default; replace the functions to keep tokens elsewhere). */
    fast: {
      saveToken(token: FastToken): Promise<void>;
      fetchToken(): Promise<FastToken | undefined>;
    };
    iqCaller: { request(el: XmppElement, timeoutMs?: number): Promise<XmppElement> };
  }
  export interface FastToken {
    mechanism: string;
    token: string;
    expiry: string;
  }
  export function client(options: {
    service: string;
    domain?: string;
    username?: string;
    password?: string;
    resource?: string;
    credentials?: unknown;
    /** XEP-0388 <user-agent/>; a random id per client object by default. */
    userAgent?: XmppElement;
  }): XmppClient;
  export function xml(name: string, attrs?: Record<string, string> | null, ...children: unknown[]): XmppElement;
  export function jid(s: string): { toString(): string };
}
