// XEP-0484 Fast Authentication Streamlining Tokens: a client that authenticated (with a password) asks for a token
// inside SASL2 (<request-token/>), and later authenticates with it in one round trip through an HT mechanism
// (draft-schmaus-kitten-sasl-ht, stream/sasl/ht.ts) by adding <fast/> to <authenticate/>. Tokens belong to one
// account and one client (its XEP-0388 <user-agent id/>), expire, rotate, and die with the password or the account.
import { NS, SaslFailure, xml, type XmlElement } from '@parley/protocol';
import { z } from 'zod';
import { defineModule } from '../../core/module-api';
import type { AccountEvent } from '../../core/events';
import type { Sasl2Attempt, Sasl2Stream } from '../../core/sasl2-inline';
import { HT_MECHANISMS, htMechanism, isHtMechanism, type HtMechanismName } from '../../stream/sasl/ht';
import { FastTokens, type ClientTokens, type StoredToken } from './tokens';

const options = z.object({
  token_lifetime_days: z
    .number()
    .positive()
    .default(14)
    .describe('How long a FAST token stays valid; a token past half its lifetime is replaced when it is next used'),
});
type FastOptions = z.infer<typeof options>;

/** What prepare() learnt about an attempt, for negotiate() once it succeeded. */
interface FastAttempt {
  /** <fast/> was sent: the attempt authenticates with a token. */
  usesToken: boolean;
  invalidate: boolean;
  /** The mechanism of <request-token/>, if any. */
  requested: HtMechanismName | undefined;
  /** Set by the token check when it succeeds. */
  verified?: StoredToken;
}

const DAY_MS = 86_400_000;
const TRUE = new Set(['1', 'true']);
const FALSE = new Set(['0', 'false']);

export default defineModule<FastOptions>({
  name: 'fast',
  specs: [
    {
      spec: 'XEP-0484',
      version: '0.1.0',
      status: 'complete',
      note: 'HT-SHA-256-NONE, -ENDP, -EXPR (draft-schmaus-kitten-sasl-ht-08); no TLS 0-RTT',
    },
  ],
  options: options as unknown as z.ZodType<FastOptions>,
  setup(ctx) {
    const { domain, config } = ctx.server;
    const tokens = new FastTokens(ctx.map<ClientTokens>('fast_tokens'), ctx.options.token_lifetime_days * DAY_MS);
    const allowInsecure = config.c2s.allow_plaintext_auth;
    // Keyed by the <authenticate/> element: prepare() and negotiate() see the same attempt.
    const attempts = new WeakMap<XmlElement, FastAttempt>();

    /** The token mechanisms this stream can run (channel-bound ones only where TLS provides the binding). */
    function available(stream: Sasl2Stream): HtMechanismName[] {
      return HT_MECHANISMS.filter(({ binding }) =>
        binding === undefined ? stream.secure || allowInsecure : stream.channelBinding(binding) !== undefined,
      ).map((m) => m.name);
    }

    function parse(elements: XmlElement[], attempt: Sasl2Attempt): FastAttempt {
      const fast = elements.filter((e) => e.name === 'fast');
      const requests = elements.filter((e) => e.name === 'request-token');
      if (fast.length > 1 || requests.length > 1) throw new SaslFailure('malformed-request', 'one <fast/> and one <request-token/> at most');
      const invalidate = fast[0]?.attrs.invalidate;
      if (invalidate !== undefined && !TRUE.has(invalidate) && !FALSE.has(invalidate)) {
        throw new SaslFailure('malformed-request', "<fast invalidate/> must be 'true' or 'false'");
      }
      const requested = requests[0]?.attrs.mechanism;
      if (requests.length > 0 && (!isHtMechanism(requested) || !available(attempt.stream).includes(requested))) {
        // §3.2: the mechanism MUST be one the server advertised.
        throw new SaslFailure('malformed-request', `<request-token/> must name one of: ${available(attempt.stream).join(', ')}`);
      }
      // §4.1 (client responsibilities): tokens are per client, identified by the XEP-0388 user-agent id.
      if (attempt.userAgent?.id === undefined) throw new SaslFailure('malformed-request', 'FAST needs <user-agent id=…/>');
      return { usesToken: fast.length > 0, invalidate: invalidate !== undefined && TRUE.has(invalidate), requested: requested as HtMechanismName | undefined };
    }

    /** §3.3: the optional replay counter, a non-negative integer. */
    function countOf(el: XmlElement | undefined): number | undefined {
      const raw = el?.attrs.count;
      if (raw === undefined) return undefined;
      const n = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) throw new SaslFailure('malformed-request', '<fast count/> must be a non-negative integer');
      return n;
    }

    function tokenElement(token: StoredToken): XmlElement {
      // XEP-0082 DateTime; whole seconds are enough for an expiry.
      const expiry = new Date(token.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
      return xml('token', { xmlns: NS.FAST, expiry, token: token.token });
    }

    ctx.c2s.registerSasl2Inline({
      ns: NS.FAST,
      // §3.1: the token mechanisms, as a SASL2 inline feature. No 'tls-0rtt': early data is not accepted.
      advertise(stream) {
        const mechanisms = available(stream);
        if (mechanisms.length === 0) return undefined;
        return xml('fast', { xmlns: NS.FAST }, ...mechanisms.map((m) => xml('mechanism', null, m)));
      },
      prepare(elements, attempt) {
        if (elements.length === 0) {
          // A token mechanism without <fast/> is not one of the advertised <mechanism/>s: the negotiation fails it.
          return undefined;
        }
        const info = parse(elements, attempt);
        attempts.set(attempt.request, info);
        if (!info.usesToken) return undefined;
        const name = attempt.mechanism;
        // §3.3: <fast/> says the client authenticates with a token, which only the FAST mechanisms can carry.
        if (!isHtMechanism(name) || !available(attempt.stream).includes(name)) {
          throw new SaslFailure('invalid-mechanism', `<fast/> needs one of: ${available(attempt.stream).join(', ')}`);
        }
        const count = countOf(elements.find((e) => e.name === 'fast'));
        const userAgentId = attempt.userAgent!.id!;
        return htMechanism(
          name,
          async (username, hash, cbData) => {
            info.verified = await tokens.verify(`${username}@${domain}`, userAgentId, name, hash, cbData, count);
            return info.verified.token;
          },
          { allowInsecure },
        );
      },
      async negotiate(_elements, auth) {
        const info = attempts.get(auth.request);
        if (!info) return undefined;
        const owner = auth.account.toString();
        const userAgentId = auth.userAgent!.id!;
        // §3.5: invalidation wins over rotation; a new token only if the client asked for one as well.
        if (info.verified && info.invalidate) await tokens.invalidate(owner, userAgentId);
        let mechanism = info.requested;
        // §3.4: the server rotates a token that is getting old when it is used.
        if (mechanism === undefined && info.verified && !info.invalidate && tokens.isDueForRotation(info.verified)) {
          mechanism = info.verified.mechanism as HtMechanismName;
        }
        if (mechanism === undefined) return undefined;
        // §3.2: only now, with the client fully authenticated, is a token issued.
        const token = await tokens.issue(owner, userAgentId, mechanism);
        ctx.log.debug({ jid: owner, mechanism, rotated: info.requested === undefined }, 'FAST token issued');
        return tokenElement(token);
      },
    });

    // Tokens stand for the password: a new password or a deleted account takes them all away.
    const revoke = async ({ jid }: AccountEvent): Promise<void> => {
      await tokens.revokeAll(jid.toBareString());
    };
    ctx.on('account/password-changed', revoke);
    ctx.on('account/deleted', revoke);
  },
});
