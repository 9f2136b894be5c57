#!/usr/bin/env python3
# An external component (XEP-0114) with slixmpp's ComponentXMPP: connects to Parley's component port, answers
# disco#info with a gateway identity (slixmpp's XEP-0030 plugin) and echoes every chat message back from the JID it
# was sent to. Prints READY once the handshake succeeded; runs until the test stops it (or 60 s pass).
import asyncio
import sys

from slixmpp.componentxmpp import ComponentXMPP

host, port, domain, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


class Echo(ComponentXMPP):
    def __init__(self):
        super().__init__(domain, secret, host, port)
        self.register_plugin('xep_0030')
        self['xep_0030'].add_identity(category='gateway', itype='irc', name='Echo gateway', jid=domain)
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('message', self.on_message)

    def on_start(self, _event):
        print('READY', flush=True)

    def on_message(self, msg):
        if msg['type'] in ('chat', 'normal') and msg['body']:
            self.send_message(mto=msg['from'], mfrom=msg['to'], mbody='echo: ' + msg['body'], mtype='chat')


xmpp = Echo()
xmpp.connect()
loop = asyncio.get_event_loop()
loop.call_later(60, loop.stop)
loop.run_forever()
