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
  }
  export function client(options: {
    service: string;
    domain?: string;
    username?: string;
    password?: string;
    resource?: string;
    credentials?: unknown;
  }): XmppClient;
  export function xml(name: string, attrs?: Record<string, string> | null, ...children: unknown[]): XmppElement;
  export function jid(s: string): { toString(): string };
}
