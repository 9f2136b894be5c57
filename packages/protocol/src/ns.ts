// Every XML namespace Parley speaks, in one place (STYLE.md: NS.<NAME> lives only here).
export const NS = {
  // RFC 6120
  STREAM: 'http://etherx.jabber.org/streams',
  CLIENT: 'jabber:client',
  SERVER: 'jabber:server',
  COMPONENT: 'jabber:component:accept',
  STREAMS: 'urn:ietf:params:xml:ns:xmpp-streams',
  STANZAS: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  TLS: 'urn:ietf:params:xml:ns:xmpp-tls',
  SASL: 'urn:ietf:params:xml:ns:xmpp-sasl',
  BIND: 'urn:ietf:params:xml:ns:xmpp-bind',
  SESSION: 'urn:ietf:params:xml:ns:xmpp-session',
  SASL_CB: 'urn:xmpp:sasl-cb:0',
  // XEP-0388 SASL2, XEP-0386 Bind 2, XEP-0484 FAST
  SASL2: 'urn:xmpp:sasl:2',
  BIND2: 'urn:xmpp:bind:0',
  FAST: 'urn:xmpp:fast:0',
  FRAMING: 'urn:ietf:params:xml:ns:xmpp-framing',
  // XEP-0124 BOSH and XEP-0206 XMPP over BOSH
  HTTPBIND: 'http://jabber.org/protocol/httpbind',
  XBOSH: 'urn:xmpp:xbosh',
  XML: 'http://www.w3.org/XML/1998/namespace',
  /** XML-NAMES §3: the namespace of namespace declarations themselves; never bound nor declared. */
  XMLNS: 'http://www.w3.org/2000/xmlns/',
  // RFC 6121
  ROSTER: 'jabber:iq:roster',
  ROSTER_VER: 'urn:xmpp:features:rosterver',
  PRE_APPROVAL: 'urn:xmpp:features:pre-approval',
  // Basic services
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  CAPS: 'http://jabber.org/protocol/caps',
  PING: 'urn:xmpp:ping',
  VERSION: 'jabber:iq:version',
  LAST: 'jabber:iq:last',
  REGISTER: 'jabber:iq:register',
  REGISTER_FEATURE: 'http://jabber.org/features/iq-register',
  VCARD: 'vcard-temp',
  VCARD_UPDATE: 'vcard-temp:x:update',
  VCARD4: 'urn:ietf:params:xml:ns:vcard-4.0',
  VCARD4_PUBSUB: 'urn:xmpp:vcard4',
  PRIVATE: 'jabber:iq:private',
  BLOCKING: 'urn:xmpp:blocking',
  BLOCKING_ERRORS: 'urn:xmpp:blocking:errors',
  DELAY: 'urn:xmpp:delay',
  OFFLINE: 'http://jabber.org/protocol/offline',
  MSGOFFLINE: 'msgoffline',
  TIME: 'urn:xmpp:time',
  DATA: 'jabber:x:data',
  COMMANDS: 'http://jabber.org/protocol/commands',
  ADMIN: 'http://jabber.org/protocol/admin',
  // Group chat
  MUC: 'http://jabber.org/protocol/muc',
  MUC_USER: 'http://jabber.org/protocol/muc#user',
  MUC_ADMIN: 'http://jabber.org/protocol/muc#admin',
  MUC_OWNER: 'http://jabber.org/protocol/muc#owner',
  MUC_ROOMCONFIG: 'http://jabber.org/protocol/muc#roomconfig',
  MUC_ROOMINFO: 'http://jabber.org/protocol/muc#roominfo',
  MUC_REGISTER: 'http://jabber.org/protocol/muc#register',
  MUC_REQUEST: 'http://jabber.org/protocol/muc#request',
  MUC_STABLE_ID: 'http://jabber.org/protocol/muc#stable_id',
  CONFERENCE: 'jabber:x:conference',
  OCCUPANT_ID: 'urn:xmpp:occupant-id:0',
  // XEP-0410 §3.3: the room answers self-pings itself
  MUC_SELF_PING: 'http://jabber.org/protocol/muc#self-ping-optimization',
  // XEP-0424 message retraction, XEP-0425 moderation (current :1; the :0 forms over XEP-0422 fastening still in use)
  RETRACT: 'urn:xmpp:message-retract:1',
  RETRACT_0: 'urn:xmpp:message-retract:0',
  MODERATE: 'urn:xmpp:message-moderate:1',
  MODERATE_0: 'urn:xmpp:message-moderate:0',
  FASTEN: 'urn:xmpp:fasten:0',
  // Publish-subscribe
  PUBSUB: 'http://jabber.org/protocol/pubsub',
  PUBSUB_EVENT: 'http://jabber.org/protocol/pubsub#event',
  PUBSUB_OWNER: 'http://jabber.org/protocol/pubsub#owner',
  PUBSUB_ERRORS: 'http://jabber.org/protocol/pubsub#errors',
  PUBSUB_NODE_CONFIG: 'http://jabber.org/protocol/pubsub#node_config',
  PUBSUB_PUBLISH_OPTIONS: 'http://jabber.org/protocol/pubsub#publish-options',
  PUBSUB_SUBSCRIBE_OPTIONS: 'http://jabber.org/protocol/pubsub#subscribe_options',
  PUBSUB_META_DATA: 'http://jabber.org/protocol/pubsub#meta-data',
  AVATAR_DATA: 'urn:xmpp:avatar:data',
  AVATAR_METADATA: 'urn:xmpp:avatar:metadata',
  NICK: 'http://jabber.org/protocol/nick',
  // XEP-0398: the server converts between PEP (XEP-0084) and vCard (XEP-0153) avatars
  AVATAR_CONVERSION: 'urn:xmpp:pep-vcard-conversion:0',
  // XEP-0215 external service discovery (STUN/TURN)
  EXTDISCO: 'urn:xmpp:extdisco:2',
  BOOKMARKS2: 'urn:xmpp:bookmarks:1',
  BOOKMARKS: 'storage:bookmarks',
  // Archive, mobile
  MAM: 'urn:xmpp:mam:2',
  RSM: 'http://jabber.org/protocol/rsm',
  FORWARD: 'urn:xmpp:forward:0',
  CARBONS: 'urn:xmpp:carbons:2',
  SM: 'urn:xmpp:sm:3',
  CSI: 'urn:xmpp:csi:0',
  // XEP-0357 push notifications, and the summary form of its §5
  PUSH: 'urn:xmpp:push:0',
  PUSH_SUMMARY: 'urn:xmpp:push:summary',
  // End-to-end encrypted payloads (XEP-0384 OMEMO, its first version as deployed; XEP-0373 OpenPGP)
  OMEMO: 'urn:xmpp:omemo:2',
  OMEMO_LEGACY: 'eu.siacs.conversations.axolotl',
  OPENPGP: 'urn:xmpp:openpgp:0',
  // File transfer
  BYTESTREAMS: 'http://jabber.org/protocol/bytestreams',
  IBB: 'http://jabber.org/protocol/ibb',
  HTTP_UPLOAD: 'urn:xmpp:http:upload:0',
  // Misc
  CHATSTATES: 'http://jabber.org/protocol/chatstates',
  RECEIPTS: 'urn:xmpp:receipts',
  HINTS: 'urn:xmpp:hints',
  STANZA_ID: 'urn:xmpp:sid:0',
  // XEP-0313 extended queries (before-id, after-id, ids, flip-page, metadata); XEP-0122 form validation
  MAM_EXTENDED: 'urn:xmpp:mam:2#extended',
  XDATA_VALIDATE: 'http://jabber.org/protocol/xdata-validate',
  // Parley's own: browser Web Push subscriptions (RFC 8030) registered by a logged-in client
  PARLEY_WEBPUSH: 'urn:parley:webpush:0',
  // XEP-0333 chat markers (an IM payload for XEP-0280 carbons eligibility)
  CHAT_MARKERS: 'urn:xmpp:chat-markers:0',
  // Message features the chat app speaks: XEP-0308 corrections, XEP-0461 replies, XEP-0444 reactions, XEP-0428
  // fallback indication, XEP-0066 out-of-band data (the URL of an uploaded file)
  CORRECT: 'urn:xmpp:message-correct:0',
  REPLY: 'urn:xmpp:reply:0',
  REACTIONS: 'urn:xmpp:reactions:0',
  FALLBACK: 'urn:xmpp:fallback:0',
  OOB: 'jabber:x:oob',
} as const;

export type Namespace = (typeof NS)[keyof typeof NS];
