"""swarm_lite.py under MicroPython (run by test/python/micropython.test.ts in MicroPython's WebAssembly
port, which has no sockets): fake `socket` and `select` modules carry datagrams in memory, so the
same file's MessagePack, AES-256-GCM (the built-in AES: this port has no cryptolib) and membership
code run on MicroPython's integers, bytes and str. VECTORS (hex strings) is set by the runner from
docs/protocol.md. Prints "mpy_check ok" or raises."""
import sys

import fake_select
import fake_socket

sys.modules["socket"] = fake_socket
sys.modules["select"] = fake_select

import swarm_lite as sl  # noqa: E402


def unhex(h):
    return bytes(int(h[i : i + 2], 16) for i in range(0, len(h), 2))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


# NIST SP 800-38D / GCM spec test cases 13-16 (AES-256).
K15 = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
IV15 = unhex("cafebabefacedbaddecaf888")
P15 = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
C15 = unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad")
A16 = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
CASES = [
    (bytes(32), bytes(12), b"", b"", b"", "530f8afbc74536b9a963b4f1c4cb738b"),
    (bytes(32), bytes(12), bytes(16), b"", unhex("cea7403d4d606b6e074ec5d3baf39d18"), "d0d1c8a799996bf0265b98b5d48ab919"),
    (K15, IV15, P15, b"", C15, "b094dac5d93471bdec1a502270e3cc6c"),
    (K15, IV15, P15[:60], A16, C15[:60], "76fc6ece0f4e1768cddf8853bb2d551b"),
]
check(sl.hexstr(sl.AES256(bytes(range(32))).encrypt(unhex("00112233445566778899aabbccddeeff")))
      == "8ea2b7ca516745bfeafc49904b496089", "FIPS-197 AES-256")
for k, iv, p, a, c, t in CASES:
    g = sl.GCM(k)
    sealed = g.seal(iv, p, a)
    check(sealed == c + unhex(t), "GCM seal " + t)
    check(g.open(iv, sealed, a) == p, "GCM open " + t)
    check(g.open(iv, sealed[:-1] + bytes([sealed[-1] ^ 1]), a) is None, "GCM tamper " + t)
check(sl.parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=") == bytes(range(32)), "base64 key")

# Every plaintext gossip vector of docs/protocol.md decodes and re-encodes byte for byte.
n = 0
for h in VECTORS:  # noqa: F821 (set by the runner)
    raw = unhex(h)
    body, end = sl.unpack(raw, 2)
    check(end == len(raw), "vector length " + h)
    check(bytes(sl.pack(body, bytearray(raw[:2]))) == raw, "vector round trip " + h)
    n += 1
check(n >= 16, "vectors")

# Two observers over the in-memory network, with a swarm key: join, metadata, an event, leave.
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
a = sl.Swarm("127.0.0.1:9", "mpy-a", key=KEY, host="127.0.0.1", port=41001)
b = sl.Swarm("127.0.0.1:41001", "mpy-b", key=KEY, host="127.0.0.1", port=41002)
got = []
a.on_event("*", lambda name, payload, origin: got.append((name, payload, origin)))
for _ in range(10):
    a.poll(0)
    b.poll(0)
check(a.joined and b.joined, "joined")
check([m["name"] for m in b.members()] == ["mpy-b", "mpy-a"], "members")
a.publish(battery=42, power_w=0.25, labels=["sensor", "zone=lab"])
for _ in range(5):
    a.poll(0)
    b.poll(0)
ma = [m for m in b.members() if m["name"] == "mpy-a"][0]
check(ma["battery"] == 42 and ma["power_state"] == "idle" and ma["tags"] == {"labels": "sensor,zone=lab"}, "meta")
b.emit("button", "1")
for _ in range(5):
    a.poll(0)
    b.poll(0)
check(got == [("button", b"1", b.id)], "event")
b.leave()
for _ in range(5):
    a.poll(0)
check([m["status"] for m in a.members() if m["name"] == "mpy-b"] == ["left"], "left")
check(a.stats["dropped"] == 0, "no drops")
print("mpy_check ok", sys.implementation.name, n, "vectors")
