// The BOSH endpoint (XEP-0124, XEP-0206) at /http-bind: every POST carries one <body/>; a body without 'sid' creates
// a session (a client stream under the same limits, authentication, routing and stream management as TCP,
// client-streams.ts), the others go to their session (bosh-connection.ts). CORS (Fetch standard) lets pages of the
// allowed origins use it; the request size is bounded by the stanza size limit (RFC 6120 §13.12).
//
// With several worker processes (cluster/workers.ts), node:cluster hands out connections, not requests: two requests
// of one session may reach two workers. A sid starts with the number of the worker holding the session, and a worker
// passes a request for another's session to it over that worker's local socket (a Unix socket in the data
// directory), then relays the answer.
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { NS, parseXml, type XmlElement } from '@parley/protocol';
import type { Disposable } from '../core/hooks';
import type { HttpRequestInfo, HttpRoutes } from '../core/http-routes';
import type { Logger } from '../log';
import type { ClientStreams } from './client-streams';
import { BoshConnection, parseRid, terminateBody, type Respond } from './bosh-connection';
import { normalizeAddress } from './socket-connection';
import { isDirectLoopback, isOriginAllowed } from './websocket';

export const BOSH_PATH = '/http-bind';

/** The highest XEP-0124 version spoken (§7.1 'ver': the lower of the client's and ours is used). */
const BOSH_VERSION = '1.11';

export interface BoshEndpointOptions {
  domain: string;
  /** Largest request body: the stanza size limit (c2s.max_stanza_size). */
  maxBodySize: number;
  /** Origins allowed to use the endpoint from a browser ('*' for any); empty: the host the request named. */
  allowedOrigins: readonly string[];
  maxWaitS: number;
  maxHold: number;
  inactivityS: number;
  maxPauseS: number;
  pollingS: number;
  maxPendingStanzas: number;
  /** bosh.loopback_is_secure: a session created by a direct request from this machine counts as secure. */
  loopbackIsSecure?: boolean;
  /** With worker processes: this worker's number and where each worker takes the requests of its sessions. */
  workers?: BoshWorkerRouting;
}

export interface BoshWorkerRouting {
  /** This process's worker number (1…N): the prefix of the sids it gives out. */
  index: number;
  /** The local socket worker `index` listens on for requests of its sessions that reached another worker. */
  socketPath(index: number): string;
}

export interface BoshEndpoint extends Disposable {
  /** Live sessions in this process. */
  readonly sessionCount: number;
  /** With worker routing: listens on this worker's local socket. */
  listen(): Promise<void>;
  close(): Promise<void>;
}

export function registerBoshEndpoint(routes: HttpRoutes, streams: ClientStreams, opts: BoshEndpointOptions, log: Logger): BoshEndpoint {
  const sessions = new Map<string, BoshConnection>();
  const workers = opts.workers;
  let local: Server | undefined;

  // One request body, as text: the owner of its session answers it (here or, with workers, another process).
  const serve = (text: string, client: { ip: string; secure: boolean }, respond: Respond): void => {
    let body: XmlElement;
    try {
      body = parseXml(text, opts.maxBodySize);
    } catch {
      // §17.2 bad-request: the body is not well-formed XML (or not restricted XML, RFC 6120 §11).
      return respond(terminateBody('bad-request'));
    }
    if (body.name !== 'body' || body.attrs.xmlns !== NS.HTTPBIND) return respond(terminateBody('bad-request'));
    const sid = body.attrs.sid;
    if (sid === undefined) return createSession(body, client, respond);
    const owner = workers && ownerOf(sid);
    if (workers && owner !== undefined && owner !== workers.index) return forward(workers.socketPath(owner), text, respond);
    const session = sessions.get(sid);
    // §17.2 item-not-found: the sid is not (or no longer) valid.
    if (!session) return respond(terminateBody('item-not-found'));
    session.handle(body, respond);
  };

  // XEP-0124 §7.1–§7.2, XEP-0206 §4: a new session and, in it, a new client stream.
  const createSession = (body: XmlElement, client: { ip: string; secure: boolean }, respond: Respond): void => {
    const a = body.attrs;
    const rid = parseRid(a.rid);
    if (rid === undefined) return respond(terminateBody('bad-request'));
    if (a.to === undefined || a.to.toLowerCase() !== opts.domain.toLowerCase()) return respond(terminateBody('host-unknown'));
    const slot = streams.admit(client.ip, 'bosh');
    if (!slot) return respond(terminateBody('policy-violation'));
    const hold = clamp(a.hold, 1, 0, opts.maxHold);
    const sid = `${workers ? `${workers.index}.` : ''}${randomBytes(24).toString('base64url')}`;
    const conn = new BoshConnection({
      sid,
      creationRid: rid,
      hold,
      wait: clamp(a.wait, opts.maxWaitS, 1, opts.maxWaitS),
      inactivity: opts.inactivityS,
      // §12: a polling session asks no more often than this; clients that hold requests are not limited.
      polling: opts.pollingS,
      maxPause: opts.maxPauseS,
      ver: lowerVersion(a.ver, BOSH_VERSION),
      acks: a.ack === '1',
      xmppVersion: a['xmpp:version'],
      maxPending: opts.maxPendingStanzas,
      remoteAddress: client.ip,
      secure: client.secure,
    });
    sessions.set(sid, conn);
    const { release } = streams.open(conn, 'bosh', slot);
    conn.onGone = () => {
      sessions.delete(sid);
      release();
    };
    conn.start(body, respond);
  };

  const handler = async (req: IncomingMessage, res: ServerResponse, info: HttpRequestInfo): Promise<void> => {
    if (!isOriginAllowed(req, opts.allowedOrigins)) return plain(res, 403, 'this origin may not use BOSH');
    const cors = corsHeaders(req, opts.allowedOrigins);
    const respond: Respond = (text) => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(200, { ...cors, 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
      res.end(text);
    };
    const text = await readBody(req, opts.maxBodySize);
    if (text === 'aborted') return void res.destroy();
    // RFC 6120 §11.6: bytes that are not UTF-8 are not XML.
    if (text === 'bad-encoding') return respond(terminateBody('bad-request'));
    if (typeof text !== 'string') {
      // The rest of the body is not read: the connection cannot carry another request after it.
      res.setHeader('Connection', 'close');
      // RFC 6120 §13.12: past the size limit. The session, when the body's start names one here, ends too.
      const sid = /\ssid=(['"])([^'"]+)\1/.exec(text.head)?.[2];
      const session = sid === undefined ? undefined : sessions.get(sid);
      if (session) return session.kill('policy-violation', respond);
      return respond(terminateBody('policy-violation'));
    }
    const ip = normalizeAddress((req.socket as Socket).remoteAddress ?? '');
    // Whether the session is secure is settled by the request that creates it (RFC 6120 §13.8 asks it of the
    // stream): the bytes of a direct loopback request never cross a network, as for WebSocket (isDirectLoopback).
    const secure = info.secure || (opts.loopbackIsSecure === true && isDirectLoopback(req, ip));
    serve(text, { ip, secure }, respond);
  };

  const route = routes.route('POST', BOSH_PATH, handler);
  // The CORS preflight (Fetch standard): browsers ask before POSTing text/xml to another origin.
  const preflight = routes.route('OPTIONS', BOSH_PATH, (req, res) => {
    if (!isOriginAllowed(req, opts.allowedOrigins)) return plain(res, 403, 'this origin may not use BOSH');
    res.writeHead(204, {
      ...corsHeaders(req, opts.allowedOrigins),
      'Access-Control-Allow-Methods': 'POST, OPTIONS',
      'Access-Control-Allow-Headers': 'Content-Type',
      'Access-Control-Max-Age': '86400',
    });
    res.end();
  });
  const advertised = routes.advertise({ rel: 'urn:xmpp:alt-connections:xbosh', path: BOSH_PATH, scheme: 'http' });

  return {
    get sessionCount() {
      return sessions.size;
    },
    async listen() {
      if (!workers) return;
      const path = workers.socketPath(workers.index);
      // A socket file left by this worker's previous process (it was restarted).
      rmSync(path, { force: true });
      local = createServer((req, res) => {
        const respond: Respond = (text) => {
          if (res.writableEnded || res.destroyed) return;
          res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
          res.end(text);
        };
        if (req.method !== 'POST' || req.url !== BOSH_PATH) return plain(res, 404, 'Not Found');
        void readBody(req, opts.maxBodySize).then((text) => {
          // Forwarded bodies were read and bounded by the worker that received them; only sessions come here.
          if (text === 'aborted') return void res.destroy();
          if (typeof text !== 'string' || text === 'bad-encoding') return respond(terminateBody('bad-request'));
          serve(text, { ip: '', secure: false }, respond);
        });
      });
      await new Promise<void>((resolve, reject) => {
        local!.once('error', reject);
        local!.listen(path, () => resolve());
      });
      log.debug({ path }, 'BOSH worker socket listening');
    },
    dispose() {
      route.dispose();
      preflight.dispose();
      advertised.dispose();
    },
    async close() {
      for (const s of [...sessions.values()]) s.kill('system-shutdown');
      if (local) {
        const server = local;
        local = undefined;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (workers) rmSync(workers.socketPath(workers.index), { force: true });
      }
    },
  };
}

/** The worker a sid belongs to: its number before the first dot. */
function ownerOf(sid: string): number | undefined {
  const m = /^([1-9][0-9]{0,3})\./.exec(sid);
  return m ? Number(m[1]) : undefined;
}

/** Passes a request on to the worker holding its session, and relays the answer (held as long as the owner holds it). */
function forward(socketPath: string, text: string, respond: Respond): void {
  const req = httpRequest(
    { socketPath, method: 'POST', path: BOSH_PATH, headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(text) } },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => respond(Buffer.concat(chunks).toString('utf8')));
      res.on('error', () => respond(terminateBody('item-not-found')));
    },
  );
  // The owner is gone (a worker that exited takes its sessions with it): the session is no more.
  req.on('error', () => respond(terminateBody('item-not-found')));
  req.end(text);
}

/** The request body as strict UTF-8 text (RFC 6120 §11.6), or what was read when it passed the limit. Never rejects. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | 'bad-encoding' | 'aborted' | { head: string }> {
  const declared = Number(req.headers['content-length']);
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = Number.isFinite(declared) && declared > limit;
  if (!tooLarge) {
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        chunks.push(chunk);
        if (size > limit) {
          tooLarge = true;
          break;
        }
      }
    } catch {
      // The client went away in the middle of its request: there is no one to answer.
      return 'aborted';
    }
  }
  if (tooLarge) {
    return { head: Buffer.concat(chunks).subarray(0, 1024).toString('utf8') };
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    return 'bad-encoding';
  }
}

function corsHeaders(req: IncomingMessage, allowed: readonly string[]): Record<string, string> {
  const origin = req.headers.origin;
  if (origin === undefined) return {};
  if (allowed.includes('*')) return { 'Access-Control-Allow-Origin': '*' };
  return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** An integer attribute within [min, max], or `fallback` when absent or not a number. */
function clamp(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = value !== undefined && /^[0-9]{1,9}$/.test(value) ? Number(value) : fallback;
  return Math.min(max, Math.max(min, n));
}

/** §7.1: the lower of two "major.minor" versions; ours when the client's is absent or malformed. */
function lowerVersion(client: string | undefined, ours: string): string {
  const parse = (v: string): [number, number] | undefined => {
    const m = /^([0-9]+)\.([0-9]+)$/.exec(v);
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  };
  const c = client === undefined ? undefined : parse(client);
  const o = parse(ours)!;
  if (!c) return ours;
  return c[0] < o[0] || (c[0] === o[0] && c[1] < o[1]) ? client! : ours;
}
