// Load-generator worker process (forked by lib/pool.ts). Holds up to a few thousand XMPP sessions,
// executes one coordinator command at a time and answers with counts, latency histograms and the
// CPU it used, so the coordinator can tell when the generator itself is the bottleneck.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Histogram, nowUs } from './histogram';
import type {
  CollectIdsResult,
  CollectResult,
  ConnectCmd,
  FastSetupCmd,
  FastSetupResult,
  LoginBurstCmd,
  LoginResult,
  MucJoinCmd,
  MucJoinResult,
  RegisterResult,
  SendStepCmd,
  SendStepResult,
  SetupCmd,
  SubscribeCmd,
  SubscribeStatusResult,
  WorkerCmd,
  WorkerReply,
  WorkerRequest,
} from './ipc';
import {
  NotSupportedError,
  XmppConn,
  XmppError,
  bareJid,
  getAttr,
  getChildText,
  nextLocalAddress,
  type ConnectOptions,
  type SaslChoice,
} from './xmpp-conn';
import { IdSet } from './soak-stats';

const NS_MUC = 'http://jabber.org/protocol/muc';

interface Session {
  idx: number;
  bare: string;
  conn: XmppConn;
  presenceSentUs: number;
  /** S5: contacts whose tagged presence we got (unique deliveries) */
  seen?: Set<string>;
  /** MUC join in progress: called with presences from the room */
  mucWait?: (stanza: string) => void;
  nick?: string;
}

class PhaseStats {
  received = 0;
  errors = 0;
  hist = new Histogram();
  probeHist = new Histogram();
  broadcastHist = new Histogram();
  unique = 0;
  firstRecvUs = 0;
  lastRecvUs = 0;
  /** trackIds: received message ids by sending worker */
  ids?: Map<number, IdSet>;

  mark(now: number): void {
    this.received++;
    if (this.firstRecvUs === 0) this.firstRecvUs = now;
    this.lastRecvUs = now;
  }
}

let setup: SetupCmd | undefined;
let sessions: Session[] = [];
const phases = new Map<string, PhaseStats>();
let disconnects = 0;
/** XEP-0484 tokens of this worker's users (fast-setup → login-burst with fast), by user index. Never logged. */
const fastTokens = new Map<number, string>();
/** XEP-0388 user-agent id of a bench user: its token and its Bind 2 resource belong to it. */
const userAgentOf = (i: number): string => `parley-bench-${i}`;
const subs = { subscribedReceived: 0, subscribeReceived: 0, rosterPushes: 0, sent: 0 };

function cfg(): SetupCmd {
  if (!setup) throw new Error('worker not set up');
  return setup;
}

function userName(i: number): string {
  return `${cfg().userPrefix}${i}`;
}

function connOptions(starttls: boolean, sasl: SaslChoice = 'PLAIN'): ConnectOptions {
  const c = cfg();
  return {
    host: c.target.host,
    port: c.target.port,
    domain: c.target.domain,
    localAddress: nextLocalAddress(c.workerIndex),
    starttls,
    stepTimeoutMs: 30_000,
    sasl,
  };
}

function phase(tag: string): PhaseStats {
  let st = phases.get(tag);
  if (!st) {
    st = new PhaseStats();
    phases.set(tag, st);
  }
  return st;
}

/** "tag|µs" as written by senders into <body/> (messages) or <status/> (S5 presence). */
function parseStamp(text: string | undefined): { tag: string; us: number } | undefined {
  if (!text) return undefined;
  const bar = text.indexOf('|');
  if (bar < 0) return undefined;
  const us = Number(text.slice(bar + 1));
  return Number.isFinite(us) ? { tag: text.slice(0, bar), us } : undefined;
}

function onStanza(sess: Session, stanza: string, name: string): void {
  const now = nowUs();
  switch (name) {
    case 'message': {
      const stamp = parseStamp(getChildText(stanza, 'body'));
      if (!stamp) return;
      const st = phases.get(stamp.tag);
      if (!st) return;
      if (getAttr(stanza, 'type') === 'error') {
        st.errors++;
        return;
      }
      st.mark(now);
      st.hist.record(now - stamp.us);
      if (st.ids) recordId(st.ids, stamp.tag, getAttr(stanza, 'id'));
      return;
    }
    case 'presence':
      onPresence(sess, stanza, now);
      return;
    case 'iq': {
      const type = getAttr(stanza, 'type');
      if (type !== 'get' && type !== 'set') return;
      const id = getAttr(stanza, 'id') ?? '';
      const from = getAttr(stanza, 'from');
      const to = from ? ` to='${from}'` : '';
      if (stanza.includes('jabber:iq:roster')) subs.rosterPushes++;
      if (type === 'set' || stanza.includes('urn:xmpp:ping')) {
        sess.conn.send(`<iq type='result' id='${id}'${to}/>`);
      } else {
        sess.conn.send(
          `<iq type='error' id='${id}'${to}><error type='cancel'><service-unavailable ` +
            `xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
        );
      }
      return;
    }
    default:
      return;
  }
}

function onPresence(sess: Session, stanza: string, now: number): void {
  const type = getAttr(stanza, 'type');
  const from = getAttr(stanza, 'from') ?? '';
  if (sess.mucWait && (from.includes('@' + cfg().target.mucDomain) || stanza.includes(NS_MUC))) {
    sess.mucWait(stanza);
    return;
  }
  if (type === 'subscribe') {
    // Auto-accept (S5 roster set-up): RFC 6121 §3.1.5 approval.
    subs.subscribeReceived++;
    sess.conn.send(`<presence to='${bareJid(from)}' type='subscribed'/>`);
    return;
  }
  if (type === 'subscribed') {
    subs.subscribedReceived++;
    return;
  }
  if (type !== undefined) return;
  const stamp = parseStamp(getChildText(stanza, 'status'));
  if (!stamp) return;
  const st = phases.get(stamp.tag);
  if (!st) return;
  const fromBare = bareJid(from);
  if (fromBare === sess.bare) return; // our own presence reflected
  st.mark(now);
  if (sess.seen && !sess.seen.has(fromBare)) {
    sess.seen.add(fromBare);
    st.unique++;
  }
  if (stamp.us >= sess.presenceSentUs) {
    // Broadcast of a contact's presence sent after ours: latency from its send time.
    st.broadcastHist.record(now - stamp.us);
    st.hist.record(now - stamp.us);
  } else {
    // Reply to the probe our own initial presence triggered: latency from our send time.
    st.probeHist.record(now - sess.presenceSentUs);
    st.hist.record(now - sess.presenceSentUs);
  }
}

/** `<tag>.<worker>.<seq>` (sendStep with trackIds) → the sender's bitset. */
function recordId(ids: Map<number, IdSet>, tag: string, id: string | undefined): void {
  if (!id?.startsWith(`${tag}.`)) return;
  const [worker, seq] = id.slice(tag.length + 1).split('.').map(Number);
  if (!Number.isInteger(worker) || !Number.isInteger(seq)) return;
  let set = ids.get(worker!);
  if (!set) {
    set = new IdSet();
    ids.set(worker!, set);
  }
  set.add(seq!);
}

async function sleepUntilUs(t: number): Promise<void> {
  const d = (t - nowUs()) / 1000;
  if (d > 0) await new Promise((r) => setTimeout(r, d));
}

/** Runs `fn` over items with at most `concurrency` in flight; stops starting new ones after the deadline. */
async function pool<T>(items: T[], concurrency: number, deadline: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length && Date.now() < deadline) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function register(users: number[], concurrency: number): Promise<RegisterResult> {
  const res: RegisterResult = { created: 0, exists: 0, failed: 0 };
  await pool(users, concurrency, Date.now() + 600_000, async (i) => {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await XmppConn.register(connOptions(false), userName(i), cfg().password);
        if (r === 'created') res.created++;
        else res.exists++;
        return;
      } catch (err) {
        if (attempt === 2) {
          res.failed++;
          res.firstError ??= `${userName(i)}: ${errText(err)}`;
        } else {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  });
  return res;
}

async function loginBurst(cmd: LoginBurstCmd): Promise<LoginResult> {
  const hist = new Histogram();
  const res: LoginResult = {
    ok: 0,
    failed: 0,
    hist: hist.toJSON(),
    firstStartUs: 0,
    lastDoneUs: 0,
    open: 0,
    rosterBoth: 0,
    mechanisms: {},
  };
  await sleepUntilUs(cmd.startAtUs);
  res.firstStartUs = nowUs();
  const closing: Promise<void>[] = [];
  await pool(cmd.users, cmd.concurrency, Date.now() + cmd.deadlineMs, async (i) => {
    const t0 = nowUs();
    try {
      const conn = cmd.fast
        ? await fastReconnect(i)
        : await XmppConn.login(connOptions(cmd.starttls, cmd.sasl), userName(i), cfg().password, 'burst');
      res.mechanisms[conn.mechanism] = (res.mechanisms[conn.mechanism] ?? 0) + 1;
      const t1 = nowUs();
      hist.record(t1 - t0);
      res.lastDoneUs = t1;
      res.ok++;
      closing.push(conn.close(2000));
    } catch (err) {
      res.failed++;
      res.firstError ??= `${userName(i)}: ${errText(err)}`;
    }
  });
  await Promise.all(closing);
  res.hist = hist.toJSON();
  return res;
}

/**
 * One FAST reconnect (S1): SASL2 HT-SHA-256-NONE with the user's token + Bind 2 in one round trip, initial presence,
 * and an iq round trip to the server, after which the session is usable. A rotated token replaces the old one.
 */
async function fastReconnect(i: number): Promise<XmppConn> {
  const token = fastTokens.get(i);
  if (token === undefined) throw new XmppError('no FAST token from the set-up');
  const { conn, token: rotated } = await XmppConn.loginSasl2(connOptions(false), userName(i), { userAgentId: userAgentOf(i), tag: 'bench', token });
  if (rotated !== undefined) fastTokens.set(i, rotated);
  try {
    conn.send('<presence/>');
    const pong = await conn.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, cfg().target.domain);
    if (getAttr(pong, 'type') !== 'result') throw new XmppError(`ping after FAST login failed: ${pong.slice(0, 200)}`);
    return conn;
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

/** S1 FAST set-up (not timed): a password login over SASL2 + Bind 2 that asks for a token, kept per user. */
async function fastSetup(cmd: FastSetupCmd): Promise<FastSetupResult> {
  const res: FastSetupResult = { ok: 0, failed: 0 };
  const closing: Promise<void>[] = [];
  await pool(cmd.users, cmd.concurrency, Date.now() + cmd.deadlineMs, async (i) => {
    if (res.unsupported !== undefined) return;
    try {
      const { conn, token } = await XmppConn.loginSasl2(connOptions(false), userName(i), {
        userAgentId: userAgentOf(i),
        tag: 'bench',
        password: cfg().password,
        requestToken: true,
      });
      closing.push(conn.close(2000));
      if (token === undefined) throw new XmppError('SASL2 success without the requested FAST token');
      fastTokens.set(i, token);
      res.ok++;
    } catch (err) {
      if (err instanceof NotSupportedError) {
        res.unsupported ??= err.message;
        return;
      }
      res.failed++;
      res.firstError ??= `${userName(i)}: ${errText(err)}`;
    }
  });
  await Promise.all(closing);
  return res;
}

async function connect(cmd: ConnectCmd): Promise<LoginResult> {
  const hist = new Histogram();
  const res: LoginResult = {
    ok: 0,
    failed: 0,
    hist: hist.toJSON(),
    firstStartUs: nowUs(),
    lastDoneUs: 0,
    open: 0,
    rosterBoth: 0,
    mechanisms: {},
  };
  const c = cfg();
  const one = async (i: number, scheduledUs: number): Promise<void> => {
    try {
      const conn = await XmppConn.login(connOptions(cmd.starttls, cmd.sasl), userName(i), c.password, `r${i}`);
      res.mechanisms[conn.mechanism] = (res.mechanisms[conn.mechanism] ?? 0) + 1;
      const sess: Session = { idx: i, bare: `${userName(i)}@${c.target.domain}`, conn, presenceSentUs: 0 };
      if (cmd.presence === 'stamped') sess.seen = new Set();
      conn.onStanza = (s, n) => onStanza(sess, s, n);
      conn.onClose = () => {
        if (!conn.closing) disconnects++;
      };
      if (cmd.rosterGet) {
        const roster = await conn.iq('get', `<query xmlns='jabber:iq:roster'/>`);
        res.rosterBoth += roster.split(/subscription=['"]both['"]/).length - 1;
      }
      if (cmd.presence !== 'none') {
        sess.presenceSentUs = nowUs();
        conn.send(
          cmd.presence === 'stamped'
            ? `<presence><status>${cmd.tag ?? 'p'}|${sess.presenceSentUs}</status></presence>`
            : '<presence/>',
        );
      }
      const t1 = nowUs();
      hist.record(t1 - scheduledUs);
      res.lastDoneUs = Math.max(res.lastDoneUs, t1);
      res.ok++;
      sessions.push(sess);
    } catch (err) {
      res.failed++;
      res.firstError ??= `${userName(i)}: ${errText(err)}`;
    }
  };
  if (cmd.tag) phase(cmd.tag);
  if (cmd.schedule) {
    // Open loop: every login starts at its own time, whatever happened to the previous ones.
    const { startAtUs, offsetsUs } = cmd.schedule;
    res.firstStartUs = startAtUs;
    const all: Promise<void>[] = [];
    const deadline = Date.now() + cmd.deadlineMs;
    for (let k = 0; k < cmd.users.length && Date.now() < deadline; k++) {
      const at = startAtUs + offsetsUs[k]!;
      await sleepUntilUs(at);
      all.push(one(cmd.users[k]!, at));
    }
    await Promise.all(all);
  } else {
    await pool(cmd.users, cmd.concurrency, Date.now() + cmd.deadlineMs, (i) => one(i, nowUs()));
  }
  res.hist = hist.toJSON();
  res.open = sessions.filter((s) => !s.conn.closed).length;
  return res;
}

async function closeAll(graceMs: number): Promise<{ closed: number }> {
  const list = sessions;
  sessions = [];
  for (const s of list) s.conn.onClose = null;
  // In chunks, so that thousands of closes do not all hit the server in one instant.
  for (let i = 0; i < list.length; i += 500) {
    await Promise.all(list.slice(i, i + 500).map((s) => s.conn.close(graceMs)));
  }
  return { closed: list.length };
}

async function sendStep(cmd: SendStepCmd): Promise<SendStepResult> {
  const c = cfg();
  const st = phase(cmd.tag);
  // Every worker runs the step, so every receiver knows the tag tracks ids before any message arrives.
  if (cmd.trackIds) st.ids ??= new Map();
  const idPrefix = `${cmd.tag}.${c.workerIndex}.`;
  const live = sessions.filter((s) => !s.conn.closed);
  const res: SendStepResult = { sent: 0, maxLagMs: 0, maxWriteBacklogBytes: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0 };
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const total = Math.floor((cmd.rate * cmd.durationMs) / 1000);
  if (live.length === 0 || total === 0) return res;
  const perMsgUs = 1e6 / cmd.rate;
  const base = cmd.recipientBase ?? 0;
  const count = cmd.recipientCount ?? 0;
  const domain = c.target.domain;
  await sleepUntilUs(cmd.startAtUs);
  loop.enable();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = nowUs();
      const due = Math.min(total, Math.floor((now - cmd.startAtUs) / perMsgUs) + 1);
      if (due > res.sent) {
        res.maxLagMs = Math.max(res.maxLagMs, (now - (cmd.startAtUs + res.sent * perMsgUs)) / 1000);
      }
      const batches = new Map<Session, string>();
      for (; res.sent < due; res.sent++) {
        // Stamped with the moment it is written, not its scheduled time: the generator never waits
        // for the server (open loop), so lateness here is the generator's own stall (shared CPU),
        // reported apart as maxLagMs / loop delay instead of being blamed on the server.
        const sched = now;
        const s = live[(Math.random() * live.length) | 0]!;
        let stanza: string;
        if (cmd.mode === 'muc') {
          stanza = `<message to='${cmd.room}' type='groupchat'><body>${cmd.tag}|${sched}</body></message>`;
        } else {
          let r = base + ((Math.random() * count) | 0);
          if (r === s.idx) r = base + ((r - base + 1) % count);
          const id = cmd.trackIds ? ` id='${idPrefix}${res.sent}'` : '';
          stanza = `<message to='${c.userPrefix}${r}@${domain}' type='chat'${id}><body>${cmd.tag}|${sched}</body></message>`;
        }
        const prev = batches.get(s);
        batches.set(s, prev === undefined ? stanza : prev + stanza);
      }
      for (const [s, data] of batches) {
        s.conn.send(data);
        const backlog = s.conn.pendingWriteBytes;
        if (backlog > res.maxWriteBacklogBytes) res.maxWriteBacklogBytes = backlog;
      }
      if (res.sent >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 2);
    tick();
  });
  loop.disable();
  res.loopDelayP99Ms = Math.round(loop.percentile(99) / 1e4) / 100;
  res.loopDelayMaxMs = Math.round(loop.max / 1e4) / 100;
  return res;
}

function collect(tag: string): CollectResult {
  const st = phase(tag);
  return {
    received: st.received,
    errors: st.errors,
    hist: st.hist.toJSON(),
    probeHist: st.probeHist.toJSON(),
    broadcastHist: st.broadcastHist.toJSON(),
    uniquePairs: st.unique,
    firstRecvUs: st.firstRecvUs,
    lastRecvUs: st.lastRecvUs,
    disconnects,
  };
}

function collectIds(tag: string): CollectIdsResult {
  const out: CollectIdsResult = { bySender: {} };
  for (const [worker, set] of phase(tag).ids ?? []) out.bySender[worker] = { bits: set.toBase64(), duplicates: set.duplicates };
  return out;
}

async function mucJoin(cmd: MucJoinCmd): Promise<MucJoinResult> {
  const res: MucJoinResult = { joined: 0, failed: 0 };
  const join = (sess: Session): Promise<string> =>
    new Promise((resolve, reject) => {
      const nick = `n${sess.idx}`;
      const self = `${cmd.room}/${nick}`;
      const timer = setTimeout(() => {
        sess.mucWait = undefined;
        reject(new Error(`join ${self} timed out`));
      }, 30_000);
      sess.mucWait = (stanza) => {
        const from = getAttr(stanza, 'from');
        if (from !== self) return; // other occupants' presence
        clearTimeout(timer);
        sess.mucWait = undefined;
        if (getAttr(stanza, 'type') === 'error') reject(new Error(`join refused: ${stanza.slice(0, 300)}`));
        else {
          sess.nick = nick;
          resolve(stanza);
        }
      };
      sess.conn.send(
        `<presence to='${self}'><x xmlns='${NS_MUC}'><history maxstanzas='0'/></x></presence>`,
      );
    });
  let todo = sessions.filter((s) => !s.conn.closed);
  if (cmd.create && todo.length > 0) {
    const first = todo[0]!;
    todo = todo.slice(1);
    try {
      const self = await join(first);
      if (self.includes("code='201'") || self.includes('code="201"')) {
        // XEP-0045 §10.1.2: instant room, accept the default configuration.
        const reply = await first.conn.iq(
          'set',
          `<query xmlns='${NS_MUC}#owner'><x xmlns='jabber:x:data' type='submit'/></query>`,
          cmd.room,
        );
        if (getAttr(reply, 'type') !== 'result') throw new Error(`instant room refused: ${reply.slice(0, 300)}`);
      }
      res.joined++;
    } catch (err) {
      res.failed++;
      res.firstError ??= errText(err);
      return res;
    }
  }
  await pool(todo, cmd.concurrency, Date.now() + cmd.deadlineMs, async (s) => {
    try {
      await join(s);
      res.joined++;
    } catch (err) {
      res.failed++;
      res.firstError ??= errText(err);
    }
  });
  return res;
}

async function subscribe(cmd: SubscribeCmd): Promise<{ sent: number }> {
  const c = cfg();
  const byIdx = new Map(sessions.map((s) => [s.idx, s]));
  const work: Array<[Session, number]> = [];
  for (const [k, list] of Object.entries(cmd.contacts)) {
    const s = byIdx.get(Number(k));
    if (!s) continue;
    for (const contact of list) work.push([s, contact]);
  }
  const perTick = Math.max(1, Math.round(cmd.ratePerSec / 100));
  for (let i = 0; i < work.length; i += perTick) {
    for (const [s, contact] of work.slice(i, i + perTick)) {
      s.conn.send(`<presence to='${c.userPrefix}${contact}@${c.target.domain}' type='subscribe'/>`);
      subs.sent++;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { sent: work.length };
}

async function handle(cmd: WorkerCmd): Promise<unknown> {
  switch (cmd.op) {
    case 'setup':
      setup = cmd;
      return { pid: process.pid };
    case 'register':
      return register(cmd.users, cmd.concurrency);
    case 'login-burst':
      return loginBurst(cmd);
    case 'fast-setup':
      return fastSetup(cmd);
    case 'connect':
      return connect(cmd);
    case 'close-all':
      return closeAll(cmd.graceMs);
    case 'send-step':
      return sendStep(cmd);
    case 'collect':
      return collect(cmd.tag);
    case 'collect-ids':
      return collectIds(cmd.tag);
    case 'muc-join':
      return mucJoin(cmd);
    case 'subscribe':
      return subscribe(cmd);
    case 'subscribe-status': {
      const r: SubscribeStatusResult = { ...subs };
      return r;
    }
    case 'exit':
      setTimeout(() => process.exit(0), 10);
      return {};
  }
}

process.on('message', (msg: WorkerRequest) => {
  const cpu0 = process.cpuUsage();
  const t0 = nowUs();
  const reply = (r: Omit<WorkerReply, 'cpu' | 'id'>): void => {
    const cpu = process.cpuUsage(cpu0);
    const out: WorkerReply = { id: msg.id, ...r, cpu: { cpuUs: cpu.user + cpu.system, wallUs: nowUs() - t0 } };
    process.send?.(out);
  };
  handle(msg.cmd).then(
    (data) => reply({ ok: true, data }),
    (err: unknown) => reply({ ok: false, error: errText(err) }),
  );
});

// The coordinator went away: do not linger with open connections.
process.on('disconnect', () => process.exit(0));
