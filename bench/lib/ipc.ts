// Messages between the coordinator (bench/run.ts) and its load-generator worker processes.

import type { HistogramJson } from './histogram';
import type { ConnTarget, SaslChoice } from './xmpp-conn';

export interface CpuSample {
  /** user + system CPU µs used by the worker process during the command */
  cpuUs: number;
  wallUs: number;
}

export interface SetupCmd {
  op: 'setup';
  target: ConnTarget & { mucDomain: string };
  workerIndex: number;
  password: string;
  /** user name for index i is `${userPrefix}${i}` */
  userPrefix: string;
}

export interface RegisterCmd {
  op: 'register';
  users: number[];
  concurrency: number;
}

export interface LoginBurstCmd {
  op: 'login-burst';
  sasl: SaslChoice;
  users: number[];
  concurrency: number;
  starttls: boolean;
  startAtUs: number;
  deadlineMs: number;
  /**
   * FAST reconnects instead of full logins: HT-SHA-256-NONE with the token from fast-setup + Bind 2 in one SASL2
   * round trip, then initial presence and one iq round trip (the session is usable), then close.
   */
  fast?: boolean;
}

/**
 * S1 FAST variant, untimed set-up: each user logs in once with SASL2 PLAIN + Bind 2 and asks for a XEP-0484 token,
 * which the worker keeps for the timed reconnects (login-burst with fast: true).
 */
export interface FastSetupCmd {
  op: 'fast-setup';
  users: number[];
  concurrency: number;
  deadlineMs: number;
}

export interface FastSetupResult {
  ok: number;
  failed: number;
  /** Why the server cannot run the variant (no SASL2, Bind 2 or FAST): 'not supported', not a failure. */
  unsupported?: string;
  firstError?: string;
}

export interface ConnectCmd {
  op: 'connect';
  sasl: SaslChoice;
  users: number[];
  concurrency: number;
  starttls: boolean;
  /** none: no presence; plain: <presence/>; stamped: <status> carries tag|send time (S5) */
  presence: 'none' | 'plain' | 'stamped';
  rosterGet: boolean;
  /** Open-loop schedule: session k (of this worker) starts at startAtUs + offsetsUs[k]. */
  schedule?: { startAtUs: number; offsetsUs: number[] };
  tag?: string;
  deadlineMs: number;
}

export interface CloseAllCmd {
  op: 'close-all';
  graceMs: number;
}

export interface SendStepCmd {
  op: 'send-step';
  tag: string;
  mode: 'chat' | 'muc';
  /** messages per second this worker sends */
  rate: number;
  durationMs: number;
  startAtUs: number;
  /** chat: each message goes to a random user in [recipientBase, recipientBase + recipientCount), not the sender */
  recipientBase?: number;
  recipientCount?: number;
  room?: string;
  /**
   * Soak: each message carries id `<tag>.<worker>.<seq>` (seq 0 … sent-1 per sending worker), and
   * receivers record the ids they got, so that loss and duplicates are counted message by message.
   */
  trackIds?: boolean;
}

export interface CollectCmd {
  op: 'collect';
  tag: string;
}

/** Soak: the message ids this worker's sessions received for a tag, per sending worker. */
export interface CollectIdsCmd {
  op: 'collect-ids';
  tag: string;
}

export interface CollectIdsResult {
  /** sending worker index → IdSet (bench/lib/soak-stats.ts) in base64, with the duplicates seen here */
  bySender: Record<number, { bits: string; duplicates: number }>;
}

export interface MucJoinCmd {
  op: 'muc-join';
  room: string;
  /** first occupant creates the room and submits an empty owner form (instant room) */
  create: boolean;
  concurrency: number;
  deadlineMs: number;
}

export interface SubscribeCmd {
  op: 'subscribe';
  /** contacts of each local user (global user indices) */
  contacts: Record<number, number[]>;
  ratePerSec: number;
}

export interface SubscribeStatusCmd {
  op: 'subscribe-status';
}

export interface ExitCmd {
  op: 'exit';
}

export type WorkerCmd =
  | SetupCmd
  | RegisterCmd
  | LoginBurstCmd
  | FastSetupCmd
  | ConnectCmd
  | CloseAllCmd
  | SendStepCmd
  | CollectCmd
  | CollectIdsCmd
  | MucJoinCmd
  | SubscribeCmd
  | SubscribeStatusCmd
  | ExitCmd;

export interface RegisterResult {
  created: number;
  exists: number;
  failed: number;
  firstError?: string;
}

export interface LoginResult {
  ok: number;
  failed: number;
  hist: HistogramJson;
  /** µs timestamps (CLOCK_MONOTONIC) of the first start and the last completion */
  firstStartUs: number;
  lastDoneUs: number;
  firstError?: string;
  open: number;
  /** roster items with subscription='both' seen in roster results (rosterGet) */
  rosterBoth: number;
  /** logins per SASL mechanism actually used */
  mechanisms: Record<string, number>;
}

export interface SendStepResult {
  sent: number;
  /** generator lateness: how far behind schedule the sender got (ms) */
  maxLagMs: number;
  maxWriteBacklogBytes: number;
  /** event-loop delay of the worker during the step (a stalled generator shows here) */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface CollectResult {
  received: number;
  errors: number;
  hist: HistogramJson;
  /** S5: presence answering our own initial presence (probe replies) vs. broadcasts */
  probeHist?: HistogramJson;
  broadcastHist?: HistogramJson;
  uniquePairs?: number;
  firstRecvUs: number;
  lastRecvUs: number;
  disconnects: number;
}

export interface MucJoinResult {
  joined: number;
  failed: number;
  firstError?: string;
}

export interface SubscribeStatusResult {
  subscribedReceived: number;
  subscribeReceived: number;
  rosterPushes: number;
  sent: number;
}

export interface WorkerReply {
  id: number;
  ok: boolean;
  data?: unknown;
  error?: string;
  cpu: CpuSample;
}

export interface WorkerRequest {
  id: number;
  cmd: WorkerCmd;
}
