#!/usr/bin/python3
"""Two slixmpp clients against a running server: subscribe to each other, see presence, chat, and get a
message sent while offline on return. Prints one line per step; exits non-zero on the first failure."""
import asyncio
import ssl
import sys

import slixmpp

HOST, PORT, DOMAIN = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TIMEOUT = 10


class Client(slixmpp.ClientXMPP):
    def __init__(self, user):
        super().__init__(f"{user}@{DOMAIN}/sli", "secret")
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.auto_authorize = True
        self.auto_subscribe = True
        self.messages = asyncio.Queue()
        self.online = asyncio.Event()
        self.available_contacts = {}
        self.register_plugin("xep_0203")
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", lambda m: self.messages.put_nowait(m))
        self.add_event_handler("got_online", self.on_got_online)

    async def on_start(self, _):
        await self.get_roster()
        self.send_presence()
        self.online.set()

    def on_got_online(self, presence):
        self.available_contacts[presence["from"].bare] = True

    async def start(self):
        self.connect(address=(HOST, PORT), force_starttls=True)
        await asyncio.wait_for(self.online.wait(), TIMEOUT)


async def wait_until(predicate, what):
    for _ in range(TIMEOUT * 10):
        if predicate():
            print(f"ok: {what}", flush=True)
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"FAIL: {what}")


async def main():
    alice, bob = Client("alice"), Client("bob")
    await alice.start()
    await bob.start()
    print("ok: both logged in over STARTTLS", flush=True)

    alice.send_presence_subscription(pto=f"bob@{DOMAIN}")
    await wait_until(lambda: alice.client_roster[f"bob@{DOMAIN}"]["subscription"] == "both"
                     and bob.client_roster[f"alice@{DOMAIN}"]["subscription"] == "both", "mutual subscription")
    await wait_until(lambda: f"bob@{DOMAIN}" in alice.available_contacts
                     and f"alice@{DOMAIN}" in bob.available_contacts, "each sees the other online")

    alice.send_message(mto=f"bob@{DOMAIN}", mbody="hello bob", mtype="chat")
    msg = await asyncio.wait_for(bob.messages.get(), TIMEOUT)
    assert msg["body"] == "hello bob" and msg["from"].bare == f"alice@{DOMAIN}", msg
    print("ok: chat message delivered", flush=True)

    bob.disconnect()
    await asyncio.wait_for(bob.disconnected, TIMEOUT)
    await wait_until(lambda: not alice.client_roster.presence(f"bob@{DOMAIN}"), "alice sees bob go offline")
    alice.send_message(mto=f"bob@{DOMAIN}", mbody="while you were out", mtype="chat")
    await asyncio.sleep(0.5)

    bob2 = Client("bob")
    await bob2.start()
    msg = await asyncio.wait_for(bob2.messages.get(), TIMEOUT)
    assert msg["body"] == "while you were out", msg
    assert msg["delay"]["stamp"] is not None, "offline message without XEP-0203 delay"
    print("ok: offline message delivered on return, with delay", flush=True)
    alice.disconnect()
    bob2.disconnect()
    await asyncio.sleep(0.3)


asyncio.run(main())
print("PASS", flush=True)
