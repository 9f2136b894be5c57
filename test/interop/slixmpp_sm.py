#!/usr/bin/python3
"""XEP-0198 with slixmpp's xep_0198 plugin against a running server: alice enables stream management, loses her
connection without closing the stream, bob writes to her meanwhile, alice reconnects and resumes; the message
arrives and her session (full JID) is the same. Prints one line per step; exits non-zero on the first failure."""
import asyncio
import ssl
import sys

import slixmpp

HOST, PORT, DOMAIN = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TIMEOUT = 10


class Client(slixmpp.ClientXMPP):
    def __init__(self, user):
        super().__init__(f"{user}@{DOMAIN}/sm", "secret")
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.messages = asyncio.Queue()
        self.online = asyncio.Event()
        self.sm_enabled = asyncio.Event()
        self.resumed = asyncio.Event()
        self.disconnected_once = asyncio.Event()
        self.register_plugin("xep_0198")
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("sm_enabled", lambda _: self.sm_enabled.set())
        self.add_event_handler("session_resumed", lambda _: self.resumed.set())
        self.add_event_handler("disconnected", lambda _: self.disconnected_once.set())
        self.add_event_handler("message", lambda m: self.messages.put_nowait(m))

    async def on_start(self, _):
        self.send_presence()
        self.online.set()

    def open(self):
        self.connect(address=(HOST, PORT), force_starttls=True)


async def step(awaitable, what):
    try:
        result = await asyncio.wait_for(awaitable, TIMEOUT)
    except asyncio.TimeoutError:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok: {what}", flush=True)
    return result


async def main():
    alice, bob = Client("alice"), Client("bob")
    alice.open()
    await step(alice.sm_enabled.wait(), "alice enabled stream management")
    sm = alice.plugin["xep_0198"]
    if not sm.sm_id:
        raise SystemExit("FAIL: no SM-ID, the session is not resumable")
    bob.open()
    await step(bob.online.wait(), "bob online")
    jid = str(alice.boundjid)

    bob.send_message(mto=jid, mbody="before", mtype="chat")
    msg = await step(alice.messages.get(), "alice got a message")
    assert msg["body"] == "before", msg

    # The TCP connection goes away without </stream:stream>: the server keeps the session (XEP-0198 §5).
    alice.transport.abort()
    await step(alice.disconnected_once.wait(), "alice lost her connection")
    await asyncio.sleep(0.2)
    bob.send_message(mto=jid, mbody="while away", mtype="chat")
    await asyncio.sleep(0.2)

    alice.open()
    await step(alice.resumed.wait(), "alice resumed her session")
    if str(alice.boundjid) != jid:
        raise SystemExit(f"FAIL: resumed as {alice.boundjid}, not {jid}")
    msg = await step(alice.messages.get(), "the message sent while away arrived")
    if msg["body"] != "while away":
        raise SystemExit(f"FAIL: got {msg['body']!r}")

    alice.send_message(mto=str(bob.boundjid), mbody="back", mtype="chat")
    msg = await step(bob.messages.get(), "bob got alice's answer after the resumption")
    if msg["from"] != jid or msg["body"] != "back":
        raise SystemExit(f"FAIL: got {msg['body']!r} from {msg['from']}")

    alice.disconnect()
    bob.disconnect()
    print("PASS", flush=True)


asyncio.run(main())
