// Typings for the part of xmpp.js (@xmpp/client ships none) that the app uses.
declare module '@xmpp/client' {
  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<Element | string>;
    is(name: string, ns?: string): boolean;
    getNS(): string;
    getChild(name: string, ns?: string): Element | undefined;
    getChildren(name: string, ns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, ns?: string): string | null;
    text(): string;
    toString(): string;
  }
  export interface FastToken {
    mechanism: string;
    token: string;
    expiry: string;
  }
  type Listener = (...args: any[]) => void;
  export interface Client {
    status: string;
    jid?: { toString(): string; bare(): { toString(): string }; local: string; domain: string; resource: string };
    on(event: 'stanza', fn: (el: Element) => void): void;
    on(event: 'online', fn: (jid: { toString(): string }) => void): void;
    on(event: string, fn: Listener): void;
    off(event: string, fn: Listener): void;
    start(): Promise<unknown>;
    stop(): Promise<void>;
    send(el: Element): Promise<void>;
    reconnect: { stop(): void; start(): void; delay: number };
    fast: {
      mechanism: string | null;
      saveToken(token: FastToken): Promise<void>;
      fetchToken(): Promise<FastToken | null | undefined>;
      deleteToken(): Promise<void>;
    };
    iqCaller: { request(el: Element, timeoutMs?: number): Promise<Element>; get(el: Element, to?: string): Promise<Element>; set(el: Element, to?: string): Promise<Element> };
    iqCallee: { set(ns: string, name: string, fn: (ctx: { stanza: Element; element: Element }) => unknown): void; get(ns: string, name: string, fn: (ctx: { stanza: Element; element: Element }) => unknown): void };
    /** Connection classes, tried in order for a service URL (socketParameters). */
    transports: Array<new (...args: any[]) => { socketParameters(service: string): unknown }>;
    streamManagement: { enabled: boolean; id: string; on(event: string, fn: Listener): void };
  }
  export function client(options: {
    service: string;
    domain?: string;
    username?: string;
    password?: string;
    resource?: string;
    credentials?: (authenticate: (creds: Record<string, unknown>, mechanism: string, userAgent?: Element) => Promise<void>, mechanisms: string[], fast: unknown, entity: Client) => Promise<void>;
  }): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<Element | string | undefined | null | false>): Element;
}
