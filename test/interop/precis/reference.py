# Reference output for precis.test.ts from precis_i18n (Debian's python3-precis-i18n), an independent PRECIS
# implementation: the derived property of every code point assigned in Python's Unicode version, then profile results
# for strings built around a sample of code points. One JSON value per line.
import json
import random
import unicodedata

from precis_i18n import get_profile
from precis_i18n.derived import derived_property
from precis_i18n.unicode import UnicodeData

ucd = UnicodeData()


def assigned(cp):
    return not (0xD800 <= cp <= 0xDFFF) and unicodedata.category(chr(cp)) != 'Cn'


print(json.dumps({'unicode': unicodedata.unidata_version}))
for cp in range(0x110000):
    if assigned(cp):
        print(json.dumps({'cp': cp, 'property': derived_property(cp, ucd)[0]}))

random.seed(8265)
profiles = {'UsernameCaseMapped': get_profile('UsernameCaseMapped'), 'OpaqueString': get_profile('OpaqueString')}
special = [0x200C, 0x200D, 0xB7, 0x375, 0x5F3, 0x30FB, 0x660, 0x6F0, 0x94D, 0x5D0, 0x627, 0x661, 0x31, 0x2D, 0x2CC]
sample = random.sample([cp for cp in range(0x110000) if assigned(cp)], 3000) + special
for cp in sample:
    c = chr(cp)
    for s in [c, 'a' + c, c + 'a', 'l' + c + 'l', '\u05d0' + c, '\u05d0' + c + '\u05d1', '\u0915\u094d' + c, '\u0627' + c + '1', c + '\u3042']:
        for name, profile in profiles.items():
            try:
                result = profile.enforce(s)
            except UnicodeEncodeError:
                result = None
            print(json.dumps({'profile': name, 'input': s, 'output': result}))
