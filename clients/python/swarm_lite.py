"""swarm_lite: a minimal-class observer of a Swarm Orchestrator swarm (clients/python/README.md).

Runs unchanged on CPython 3.9+ and MicroPython (ESP32). Speaks the gossip wire protocol of
docs/protocol.md as an observer: joins through a seed, answers probes (ping, ping-req) so the swarm
sees it alive, publishes its metadata, receives member updates and swarm events, leaves gracefully.
It never probes and never relays: a battery device's radio is its budget, so it only answers.
Modules: socket, struct, time, json, hashlib, select, and ucryptolib/cryptolib on MicroPython (its
AES block function; CPython has none, so AES-256 is built in below). GCM is built on either.
"""

import hashlib
import json
import select
import socket
import struct
import time

try:
    from ucryptolib import aes as _hw_aes
except ImportError:
    try:
        from cryptolib import aes as _hw_aes
    except ImportError:
        _hw_aes = None

VERSION = 1
ENCRYPTED = 0x81
MAX_PACKET = 1400
BUDGET = 1336  # MESSAGE_BUDGET_BYTES: encryption must never push a packet past MAX_PACKET
MARKS_RANGE = "\uffff"
ALIVE, SUSPECT, DEAD, LEFT = 0, 1, 2, 3
STATUS_NAMES = ("alive", "suspect", "dead", "left")
# Message type codes (docs/protocol.md section 6).
PING, PING_REQ, ACK, NACK, GOSSIP, PP_DIGEST, PP_REQUEST, PP_RESPONSE = 1, 2, 3, 4, 5, 6, 7, 8
EV_PUSH, IHAVE, PRUNE, GRAFT, ANNOUNCE, ANNOUNCE_REPLY, LEAVE, USER_EVENT = 9, 10, 11, 12, 13, 14, 15, 16
# The end of an ack answering a ping with target "": target "" (= from), no updates.
_COMPACT_ACK_TAIL = b"\xa0\x90"

# ---------------------------------------------------------------- clocks

if hasattr(time, "ticks_ms"):
    _clock = [time.ticks_ms(), 0]

    def now_ms():
        """Monotonic milliseconds (MicroPython's ticks wrap; this count does not)."""
        t = time.ticks_ms()
        _clock[1] += time.ticks_diff(t, _clock[0])
        _clock[0] = t
        return _clock[1]

else:

    def now_ms():
        return int(time.monotonic() * 1000)

def unix_time():
    """Seconds since 1970 (MicroPython ports whose epoch is 2000 are shifted)."""
    t = int(time.time())
    try:
        if time.gmtime(0)[0] == 2000:
            t += 946684800
    except (AttributeError, OverflowError):
        pass
    return t

def hexstr(b):
    return "".join("%02x" % x for x in b)

# ---------------------------------------------------------------- MessagePack subset

def _head(out, n, fix, fixmax, codes):
    """A length header: the fix form below fixmax, else the 8/16/32-bit form that holds n."""
    if n < fixmax and fix is not None:
        out.append(fix | n)
    elif n < 256 and codes[0]:
        out.append(codes[0])
        out.append(n)
    elif n < 65536:
        out.append(codes[1])
        out.extend(struct.pack(">H", n))
    else:
        out.append(codes[2])
        out.extend(struct.pack(">I", n))

def pack(v, out=None):
    """Encode into bytearray `out` with the smallest encodings (docs/protocol.md "Encoders write")."""
    if out is None:
        out = bytearray()
    if v is None:
        out.append(0xC0)
    elif v is True or v is False:
        out.append(0xC3 if v else 0xC2)
    elif isinstance(v, int):
        _pack_int(v, out)
    elif isinstance(v, float):
        if v - v == 0 and v == int(v) and abs(v) < 2**53:  # finite and integral
            _pack_int(int(v), out)
        else:
            out.append(0xCB)
            out.extend(struct.pack(">d", v))
    elif isinstance(v, str):
        b = v.encode("utf-8")
        _head(out, len(b), 0xA0, 32, (0xD9, 0xDA, 0xDB))
        out.extend(b)
    elif isinstance(v, (bytes, bytearray, memoryview)):
        _head(out, len(v), None, 0, (0xC4, 0xC5, 0xC6))
        out.extend(v)
    elif isinstance(v, (list, tuple)):
        _head(out, len(v), 0x90, 16, (0, 0xDC, 0xDD))
        for x in v:
            pack(x, out)
    elif isinstance(v, dict):
        _head(out, len(v), 0x80, 16, (0, 0xDE, 0xDF))
        for k in sorted(v):
            pack(k, out)
            pack(v[k], out)
    else:
        raise TypeError("cannot pack %r" % (v,))
    return out

_INTS = ((0, 128, None, ""), (0, 256, 0xCC, ">B"), (0, 65536, 0xCD, ">H"), (0, 1 << 32, 0xCE, ">I"),
         (0, 1 << 64, 0xCF, ">Q"), (-32, 0, None, ""), (-128, 0, 0xD0, ">b"), (-32768, 0, 0xD1, ">h"),
         (-(1 << 31), 0, 0xD2, ">i"), (-(1 << 63), 0, 0xD3, ">q"))

def _pack_int(v, out):
    for lo, hi, code, fmt in _INTS:
        if lo <= v < hi:
            if code is None:
                out.append(v & 0xFF)  # positive or negative fixint
            else:
                out.append(code)
                out.extend(struct.pack(fmt, v))
            return
    raise ValueError("int out of range")

class DecodeError(ValueError):
    pass

# type byte -> (kind, struct format of the value or of the length that follows)
_CODES = {0xCC: ("i", ">B"), 0xCD: ("i", ">H"), 0xCE: ("i", ">I"), 0xCF: ("i", ">Q"), 0xD0: ("i", ">b"),
          0xD1: ("i", ">h"), 0xD2: ("i", ">i"), 0xD3: ("i", ">q"), 0xCA: ("i", ">f"), 0xCB: ("i", ">d"),
          0xD9: ("s", ">B"), 0xDA: ("s", ">H"), 0xDB: ("s", ">I"), 0xC4: ("b", ">B"), 0xC5: ("b", ">H"),
          0xC6: ("b", ">I"), 0xDC: ("a", ">H"), 0xDD: ("a", ">I"), 0xDE: ("m", ">H"), 0xDF: ("m", ">I")}

def unpack(buf, i=0, depth=0):
    """Decode one value at buf[i]; returns (value, next index). Raises DecodeError on anything outside the subset."""
    if i >= len(buf):
        raise DecodeError("truncated")
    b = buf[i]
    i += 1
    if b < 0x80:
        return b, i
    if b >= 0xE0:
        return b - 256, i
    if depth > 16:
        raise DecodeError("too deep")
    if b <= 0x8F:
        kind, n = "m", b & 0x0F
    elif b <= 0x9F:
        kind, n = "a", b & 0x0F
    elif b <= 0xBF:
        kind, n = "s", b & 0x1F
    elif b <= 0xC3 and b != 0xC1:
        return (None, None, False, True)[b - 0xC0], i
    else:
        c = _CODES.get(b)
        if c is None:
            raise DecodeError("unsupported type byte 0x%02x" % b)
        w = struct.calcsize(c[1])
        _need(buf, i, w)
        n = struct.unpack(c[1], bytes(buf[i : i + w]))[0]
        i += w
        kind = c[0]
        if kind == "i":
            return n, i
    if kind == "s" or kind == "b":
        _need(buf, i, n)
        if kind == "b":
            return bytes(buf[i : i + n]), i + n
        try:
            return bytes(buf[i : i + n]).decode("utf-8"), i + n
        except UnicodeError:
            raise DecodeError("invalid utf-8")
    _need(buf, i, n)  # every element takes at least one byte
    out = [] if kind == "a" else {}
    for _ in range(n):
        v, i = unpack(buf, i, depth + 1)
        if kind == "a":
            out.append(v)
            continue
        if not isinstance(v, str):
            raise DecodeError("non-str map key")
        out[v], i = unpack(buf, i, depth + 1)
    return out, i

def _need(buf, i, n):
    if i + n > len(buf):
        raise DecodeError("truncated")

# ---------------------------------------------------------------- AES-256 (CPython) and GCM

def _xtime(a):
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a

def _make_sbox():
    s = bytearray(256)
    p = q = 1
    while True:
        p = p ^ _xtime(p)  # p * 3
        q ^= q << 1  # q / 3
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        x = q
        for r in (1, 2, 3, 4):
            x ^= ((q << r) | (q >> (8 - r))) & 0xFF
        s[p] = x ^ 0x63
        if p == 1:
            break
    s[0] = 0x63
    return s

_AES_TABLES = []

class AES256:
    """The AES-256 encryption block function (FIPS-197), for platforms without one."""

    def __init__(self, key):
        if len(key) != 32:
            raise ValueError("AES-256 needs a 32-byte key")
        if not _AES_TABLES:
            sb = _make_sbox()
            t0 = []
            for x in range(256):
                s = sb[x]
                s2 = _xtime(s)
                t0.append((s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s))
            rot = lambda t, n: [((w >> n) | (w << (32 - n))) & 0xFFFFFFFF for w in t]
            _AES_TABLES.extend((sb, t0, rot(t0, 8), rot(t0, 16), rot(t0, 24)))
        sb = _AES_TABLES[0]
        w = list(struct.unpack(">8I", bytes(key)))
        rcon = 1
        for i in range(8, 60):
            t = w[i - 1]
            if i % 8 == 0:
                t = ((t << 8) & 0xFFFFFFFF) | (t >> 24)
                t = (sb[t >> 24] << 24) | (sb[(t >> 16) & 255] << 16) | (sb[(t >> 8) & 255] << 8) | sb[t & 255]
                t ^= rcon << 24
                rcon = _xtime(rcon)
            elif i % 8 == 4:
                t = (sb[t >> 24] << 24) | (sb[(t >> 16) & 255] << 16) | (sb[(t >> 8) & 255] << 8) | sb[t & 255]
            w.append(w[i - 8] ^ t)
        self._rk = w

    def encrypt(self, block):
        sb, t0, t1, t2, t3 = _AES_TABLES
        rk = self._rk
        s0, s1, s2, s3 = struct.unpack(">4I", bytes(block))
        s0 ^= rk[0]
        s1 ^= rk[1]
        s2 ^= rk[2]
        s3 ^= rk[3]
        k = 4
        for _ in range(13):
            s0, s1, s2, s3 = (
                t0[s0 >> 24] ^ t1[(s1 >> 16) & 255] ^ t2[(s2 >> 8) & 255] ^ t3[s3 & 255] ^ rk[k],
                t0[s1 >> 24] ^ t1[(s2 >> 16) & 255] ^ t2[(s3 >> 8) & 255] ^ t3[s0 & 255] ^ rk[k + 1],
                t0[s2 >> 24] ^ t1[(s3 >> 16) & 255] ^ t2[(s0 >> 8) & 255] ^ t3[s1 & 255] ^ rk[k + 2],
                t0[s3 >> 24] ^ t1[(s0 >> 16) & 255] ^ t2[(s1 >> 8) & 255] ^ t3[s2 & 255] ^ rk[k + 3],
            )
            k += 4
        return struct.pack(
            ">4I",
            ((sb[s0 >> 24] << 24) | (sb[(s1 >> 16) & 255] << 16) | (sb[(s2 >> 8) & 255] << 8) | sb[s3 & 255]) ^ rk[56],
            ((sb[s1 >> 24] << 24) | (sb[(s2 >> 16) & 255] << 16) | (sb[(s3 >> 8) & 255] << 8) | sb[s0 & 255]) ^ rk[57],
            ((sb[s2 >> 24] << 24) | (sb[(s3 >> 16) & 255] << 16) | (sb[(s0 >> 8) & 255] << 8) | sb[s1 & 255]) ^ rk[58],
            ((sb[s3 >> 24] << 24) | (sb[(s0 >> 16) & 255] << 16) | (sb[(s1 >> 8) & 255] << 8) | sb[s2 & 255]) ^ rk[59],
        )

def block_cipher(key):
    """The platform's AES-256 ECB encryptor if it has one (ucryptolib mode 1), else the one above."""
    if _hw_aes is not None:
        return _hw_aes(bytes(key), 1)
    return AES256(key)

_R = 0xE1 << 120
# Reduction of the 4 bits shifted out when a GHASH value is multiplied by x^4.
_RED = [0] * 16
for _b in range(16):
    for _j in range(4):
        if _b >> _j & 1:
            _RED[_b] ^= _R >> (3 - _j)

class GCM:
    """AES-256-GCM (NIST SP 800-38D) with 96-bit nonces, GHASH by Shoup's 4-bit tables."""

    def __init__(self, key):
        self._e = block_cipher(key)
        h = int.from_bytes(self._e.encrypt(bytes(16)), "big")
        hx = [h]
        for _ in range(3):
            v = hx[-1]
            hx.append((v >> 1) ^ _R if v & 1 else v >> 1)
        # Nibble bit 3 is the coefficient of x^0 (GCM's bit order), bit 0 that of x^3.
        self._t = [(hx[0] if n & 8 else 0) ^ (hx[1] if n & 4 else 0) ^ (hx[2] if n & 2 else 0) ^ (hx[3] if n & 1 else 0) for n in range(16)]

    def _mul(self, x):
        t = self._t
        z = 0
        for k in range(32):
            z = (z >> 4) ^ _RED[z & 15] ^ t[(x >> (4 * k)) & 15]
        return z

    def _ghash(self, aad, ct):
        y = 0
        for data in (aad, ct):
            for i in range(0, len(data), 16):
                blk = data[i : i + 16]
                y = self._mul(y ^ (int.from_bytes(bytes(blk), "big") << (8 * (16 - len(blk)))))
        return self._mul(y ^ ((len(aad) * 8) << 64) ^ (len(ct) * 8))

    def _ctr(self, nonce, data):
        n = len(data)
        if n == 0:
            return b""
        ks = bytearray()
        enc = self._e.encrypt
        c = 2
        while len(ks) < n:
            ks.extend(enc(nonce + struct.pack(">I", c)))
            c += 1
        return (int.from_bytes(bytes(data), "big") ^ int.from_bytes(bytes(ks[:n]), "big")).to_bytes(n, "big")

    def _tag(self, nonce, aad, ct):
        s = self._ghash(aad, ct) ^ int.from_bytes(self._e.encrypt(nonce + b"\x00\x00\x00\x01"), "big")
        return s.to_bytes(16, "big")

    def seal(self, nonce, plaintext, aad=b""):
        """ciphertext || 16-byte tag."""
        ct = self._ctr(nonce, plaintext)
        return ct + self._tag(nonce, aad, ct)

    def open(self, nonce, sealed, aad=b""):
        """The plaintext, or None when the tag does not authenticate."""
        if len(sealed) < 16:
            return None
        ct = bytes(sealed[:-16])
        tag = self._tag(nonce, aad, ct)
        diff = 0
        for a, b in zip(tag, bytes(sealed[-16:])):
            diff |= a ^ b
        if diff:
            return None
        return self._ctr(nonce, ct)

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

def b64decode(s):
    s, n = s.strip().rstrip("="), 0
    for ch in s:
        if _B64.find(ch) < 0:
            raise ValueError("swarm key is not base64")
        n = n << 6 | _B64.find(ch)
    size = len(s) * 6 // 8
    return (n >> (len(s) * 6 - size * 8)).to_bytes(size, "big")

def parse_key(key):
    """A swarm key (base64 of 32 bytes, like [security] swarm_key) or the 32 raw bytes."""
    k = b64decode(key) if isinstance(key, str) else bytes(key)
    if len(k) != 32:
        raise ValueError("swarm key must be 32 bytes (base64), got %d" % len(k))
    return k

# ---------------------------------------------------------------- the observer

def _addr(hp, default_port=5555):
    """"host:port" (IPv4 or a name; the observer speaks IPv4) -> (host, port)."""
    host, _, port = hp.strip().partition(":")
    return host, int(port) if port else default_port

def _resolve(host, port):
    if host.replace(".", "").isdigit() and host.count(".") == 3:
        return (host, port)  # an IPv4 literal: no resolver call (CPython's costs an idna codec)
    return socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]

def _utf8_len(s):
    return len(s.encode("utf-8"))

class Swarm:
    """An observer member. Call poll() often (at least every ~500 ms: a probe unanswered past
    the probe timeout makes the swarm ask others, then suspect this member)."""

    def __init__(self, seed, name, key=None, labels=None, id=None, host=None, port=0, api=None,
                 token="", multicast=False, cluster="swarm", group="239.255.255.250:5556", bind="0.0.0.0",
                 seq_file=None):
        if not name or _utf8_len(name) > 64:
            raise ValueError("name must be 1..64 bytes")
        self.name = name
        self.id = id or hexstr(hashlib.sha256(b"swarm-lite\x00" + name.encode("utf-8")).digest()[:8])
        if _utf8_len(self.id) > 64:
            raise ValueError("id must be at most 64 bytes")
        seeds = seed if isinstance(seed, (list, tuple)) else [seed] if seed else []
        self._seeds = [_addr(s) for s in seeds]
        self._gcm = GCM(parse_key(key)) if key else None
        self._api, self._token, self._cluster, self._seq_file, self._ev_seq = api, token, cluster, seq_file, 0
        try:
            with open(seq_file) as f:
                self._ev_seq = int(f.read())
        except (OSError, TypeError, ValueError):
            pass
        self._group = _addr(group) if multicast else None
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if port == 0 and not hasattr(s, "getsockname"):
            port = 5555  # MicroPython cannot say which port the OS chose: take the gossip default
        s.bind(_resolve(bind, port))
        s.setblocking(False)
        self._sock = s
        if port == 0:
            port = s.getsockname()[1]
        self.port = port
        self.host = host or self._local_host()
        self._poller = select.poll()
        self._poller.register(s, select.POLLIN)
        self.inc, self.status, self._meta = unix_time(), ALIVE, [None] * 7
        if labels:
            self._meta[6] = self._tags(labels)
        self._members = {}  # id -> [name, host, port, class, inc, status, meta, changed_ms, addr]
        self._live, self._handlers, self._member_fns = 0, {}, []
        self._relays = {}  # our seq -> [origin addr, origin seq, target, want nack, nack at]
        self._missing = {}  # (origin, seq) -> [announcer id, graft at, attempts]
        self._marks = {}  # origin -> [highest contiguous seq, set of seqs above it]
        # _announce_left: acks that still carry our alive record
        self._seq = self._exchange = self._announce_left = self._heard_at = self._join_at = self._nonce_n = 0
        self._expire_at = 0
        self._leaving, self._join_backoff = False, 1000
        self._nonce_seed = hashlib.sha256(
            (self.id + ":%d:%d:%d" % (self.inc, now_ms(), port)).encode("utf-8")).digest()
        self.stats = {"packets_in": 0, "packets_out": 0, "bytes_in": 0, "bytes_out": 0, "dropped": 0,
                      "events": 0, "joined_ms": None}
        self._started = now_ms()
        self._rebuild_self()
        self._join(now_ms())

    # ------------------------------------------------------------ public API

    def poll(self, timeout_ms=0):
        """Handle what arrived (waiting up to timeout_ms for the first packet) and run due timers.
        Returns the number of packets handled."""
        now = now_ms()
        wait = min(timeout_ms, max(0, self._next_deadline() - now))
        n = 0
        if self._sock is None:
            return n
        if self._poller.poll(int(wait)):
            while n < 64:
                try:
                    data, src = self._sock.recvfrom(1500)
                except OSError:
                    break
                n += 1
                self._on_packet(data, src)
        self._tick(now_ms())
        return n

    def members(self):
        """Every member this observer holds, itself first, as dicts."""
        out = [self._view(self.id, [self.name, self.host, self.port, "minimal", self.inc, self.status, self._meta])]
        for mid, m in self._members.items():
            out.append(self._view(mid, m))
        return out

    def on_event(self, name, fn):
        """fn(name, payload_bytes, origin) for each swarm event named `name` ("*" = all), once per event."""
        self._handlers.setdefault(name, []).append(fn)

    def on_member(self, fn):
        """fn(member_dict) whenever a member joins, changes, is suspected, dies or leaves."""
        self._member_fns.append(fn)

    def publish(self, battery=None, power_w=None, labels=None, power_state=None):
        """New metadata under a new incarnation, sent to a few members at once and then spread by them."""
        m = list(self._meta)
        if power_w is not None:
            m[2] = float(power_w)
        if battery is not None:
            m[3] = float(battery)
            if power_state is None:
                # The nodes' vocabulary and default thresholds ([energy] low/critical_threshold_percent).
                power_state = "critical" if battery < 10 else "low_power" if battery < 30 else "idle"
        if power_state is not None:
            m[4] = power_state
        if labels is not None:
            m[6] = self._tags(labels)
        if len(pack(m)) > 256:
            raise ValueError("metadata exceeds 256 bytes")
        self._meta = m
        self.inc += 1
        self._rebuild_self()
        self._spread_self()

    def emit(self, name, payload=b""):
        """Originate a swarm event through one full member (docs/protocol.md section 7; best effort).
        Its seq must stay above every earlier one, across restarts too: pass seq_file= to keep it."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        live = self._live_members(1)
        if not live:
            raise OSError("not joined")
        self._ev_seq += 1
        if self._seq_file:
            with open(self._seq_file, "w") as f:
                f.write(str(self._ev_seq))
        self._send(live[0][8], USER_EVENT, [self.id, [self.id, self._ev_seq, name, bytes(payload)]])
        return self._ev_seq

    def leave(self):
        """Graceful leave: members mark this one `left` at once instead of suspecting it."""
        if self._leaving or self._sock is None:
            return
        self._leaving = True
        self.inc += 1
        self.status = LEFT
        body = [self.id, [[LEFT, self.id, self.inc]], []]
        # Sent once, so to full members first: they pass the leave on, observers do not.
        live = [m for m in self._members.values() if m[5] <= SUSPECT]
        live.sort(key=lambda m: m[3] == "minimal")
        for m in live[:4]:
            self._send(m[8], LEAVE, [self.id, self.inc])
            self._send(m[8], GOSSIP, body)
        self.close()

    def close(self):
        if self._sock is not None:
            self._poller.unregister(self._sock)
            self._sock.close()
            self._sock = None

    @property
    def joined(self):
        """True while this observer holds at least one live member."""
        return self._live > 0

    def kv_get(self, key, stale=False):
        """A key's value from a full node's REST API (None when absent)."""
        st, body = self._http("GET", "/v1/kv/" + _quote(key) + ("?consistency=stale" if stale else ""))
        return None if st == 404 else body["value"]

    def kv_put(self, key, value, prev_revision=None):
        """Write through a full node's REST API; returns the key's new revision."""
        req = {"value": value} if prev_revision is None else {"value": value, "prev_revision": prev_revision}
        return self._http("PUT", "/v1/kv/" + _quote(key), req)[1]["revision"]

    # ------------------------------------------------------------ membership

    def _view(self, mid, m):
        meta = m[6]
        return {"id": mid, "name": m[0], "host": m[1], "port": m[2], "device_class": m[3],
                "incarnation": m[4], "status": STATUS_NAMES[m[5]], "api": meta[0], "raft": meta[1],
                "power_w": meta[2], "battery": meta[3], "power_state": meta[4], "rating": meta[5],
                "tags": meta[6] or {}}

    def _tags(self, labels):
        # Raw gossip tags (a dict), or ["camera", "zone=kitchen"] as [node] labels: one comma-joined tag.
        tags = dict(labels) if isinstance(labels, dict) else {"labels": ",".join(labels)}
        if len(tags) > 16:
            raise ValueError("at most 16 labels")
        for k, v in tags.items():
            if not isinstance(v, str) or _utf8_len(k) > 32 or _utf8_len(v) > 64:
                raise ValueError("label keys <= 32 bytes, values str <= 64 bytes")
        return tags

    def _record(self):
        return [self.id, self.name, self.host, self.port, "minimal", self.inc, ALIVE, self._meta]

    def _rebuild_self(self):
        # The ack is the one message sent per probe: pre-encoded around its seq (docs/protocol.md 0x03).
        idb = pack(self.id)
        self._ack_head = bytes(bytearray((VERSION, ACK, 0x94)) + idb)
        self._ack_tail = bytes(idb + bytearray((0x90,)))
        self._alive_upd = [ALIVE, self._record()]

    def _spread_self(self):
        self._announce_left = 3
        upd = [self.id, [self._alive_upd], []]
        for m in self._live_members(3):
            self._send(m[8], GOSSIP, upd)

    def _live_members(self, n):
        return [m for m in self._members.values() if m[5] <= SUSPECT][:n]

    def _refute(self, inc):
        if self._leaving:
            return
        self.inc = max(inc, self.inc) + 1
        self._rebuild_self()
        self._spread_self()

    def _set(self, mid, m, rec_or_none, status, inc, now):
        if rec_or_none is not None:
            r = rec_or_none
            if m is None:
                m = self._members[mid] = [None] * 9
            m[0], m[1], m[2], m[3], m[6] = r[1], r[2], r[3], r[4], r[7]
            try:
                m[8] = _resolve(r[2], r[3])
            except (OSError, IndexError):
                m[8] = None
        self._live += (status <= SUSPECT) - (m[5] is not None and m[5] <= SUSPECT)
        m[4], m[5], m[7] = inc, status, now
        for fn in self._member_fns:
            fn(self._view(mid, m))

    def _apply(self, u, now):
        kind, mid = u[0], (u[1][0] if u[0] == ALIVE else u[1])
        if mid == self.id:
            inc = u[1][5] if kind == ALIVE else u[2]
            if kind == ALIVE and inc > self.inc or kind != ALIVE and (inc >= self.inc or kind == DEAD):
                self._refute(inc)
            return
        m = self._members.get(mid)
        if kind == ALIVE:
            r = u[1]
            if m is None or r[5] > m[4]:
                if r[4] is None or len(r) != 8 or len(r[7]) != 7:
                    return
                self._set(mid, m, r, ALIVE, r[5], now)
            return
        inc = u[2]
        if m is None or inc < m[4]:
            return
        if kind == LEFT and m[5] != LEFT or kind != LEFT and m[5] <= SUSPECT and (kind == DEAD or m[5] != SUSPECT or inc > m[4]):
            self._set(mid, m, None, kind, inc, now)

    def _merge_record(self, r, now):
        st = r[6]
        if st == ALIVE:
            self._apply([ALIVE, r], now)
        elif st == LEFT:
            self._apply([LEFT, r[0], r[5]], now)
        elif r[0] == self.id or r[0] in self._members:
            # A partner's dead is only a suspicion to us (docs/gossip.md, mergeRemoteState).
            self._apply([SUSPECT, r[0], r[5], ""], now)

    # ------------------------------------------------------------ events

    def _seen(self, origin, seq, record):
        mk = self._marks.get(origin)
        if mk is None:
            if not record:
                return False
            # First event heard from this origin: the history before it is not ours to replay.
            mk = self._marks[origin] = [seq - 1, set()]
        if seq <= mk[0] or seq in mk[1]:
            return True
        if record:
            mk[1].add(seq)
            while mk[0] + 1 in mk[1]:
                mk[0] += 1
                mk[1].discard(mk[0])
            if len(mk[1]) > 64:
                mk[0] = min(mk[1])
                mk[1] = set(x for x in mk[1] if x > mk[0])
        return False

    def _deliver(self, ev):
        origin, seq, name, payload = ev
        if origin == self.id or self._seen(origin, seq, True):
            return
        self._missing.pop((origin, seq), None)
        self.stats["events"] += 1
        for key in (name, "*"):
            for fn in self._handlers.get(key, ()):
                fn(name, payload, origin)

    # ------------------------------------------------------------ packets

    def _next_nonce(self):
        self._nonce_n += 1
        return hashlib.sha256(self._nonce_seed + struct.pack(">I", self._nonce_n)).digest()[:12]

    def _send(self, addr, mtype, body):
        if addr is not None and self._sock is not None:
            self._send_raw(addr, pack(body, bytearray((VERSION, mtype))))

    def _send_raw(self, addr, pkt):
        if self._gcm is not None:
            nonce = self._next_nonce()
            pkt = bytes((ENCRYPTED,)) + nonce + self._gcm.seal(nonce, pkt, b"\x81")
        try:
            if len(pkt) > MAX_PACKET:  # refused rather than left to IP fragmentation
                raise OSError("oversize")
            self._sock.sendto(pkt, addr)
        except OSError:
            self.stats["dropped"] += 1
            return
        self.stats["packets_out"] += 1
        self.stats["bytes_out"] += len(pkt)

    def _on_packet(self, data, src):
        st = self.stats
        st["packets_in"] += 1
        st["bytes_in"] += len(data)
        pt = data if self._gcm is None else None
        if self._gcm is not None and data[:1] == b"\x81" and 32 <= len(data) <= MAX_PACKET:
            nonce = bytes(data[1:13])
            pt = self._gcm.open(nonce, data[13:], b"\x81")
            if pt is not None and self._nonce_n < 64:
                # Peers' nonces are random: fold a few into ours, for boards whose clock restarts at 0.
                self._nonce_seed = hashlib.sha256(self._nonce_seed + nonce).digest()
        # Unauthenticated (or plaintext at a keyed observer), oversize, or not version 1: dropped.
        if pt is None or len(pt) < 3 or len(pt) > MAX_PACKET or pt[0] != VERSION:
            st["dropped"] += 1
            return
        try:
            body, end = unpack(pt, 2)
            if end != len(pt) or not isinstance(body, list) or not isinstance(body[0], str):
                raise DecodeError("not a message")
            self._handle(pt[1], body, src, now_ms())
        except (DecodeError, IndexError, TypeError, KeyError, ValueError, AttributeError, OSError):
            st["dropped"] += 1

    def _handle(self, t, b, src, now):
        if b[0] == self.id:
            return
        self._heard_at = now
        if t == PING or t == PING_REQ or t == GOSSIP:
            if not self.joined and not self._leaving and now >= self._join_at:
                # Contacted while alone (docs/protocol.md "Joining"): join through the sender, once a period.
                self._join_at = now + 1000
                self._send_join(src)
        if t == PING:
            for u in b[3]:
                self._apply(u, now)
            if (b[2] == "" or b[2] == self.id) and not self._leaving:
                self._ack(src, b[1], b[2] == "")
        elif t == ACK:
            for u in b[3]:
                self._apply(u, now)
            r = self._relays.pop(b[1], None)
            if r is not None:
                self._send(r[0], ACK, [self.id, r[1], r[2], []])
        elif t == PING_REQ:
            for u in b[6]:
                self._apply(u, now)
            if not self._leaving and len(self._relays) < 16:
                self._seq = (self._seq + 1) & 0xFFFFFFFF
                self._relays[self._seq] = [src, b[1], b[2], b[5], now + 500]
                self._send(_resolve(b[3], b[4]), PING, [self.id, self._seq, b[2], []])
        elif t == GOSSIP:
            for u in b[1]:
                self._apply(u, now)
            for ev in b[2]:
                self._deliver(ev)
        elif t == PP_DIGEST:
            self._on_digest(b, src)
        elif t == PP_REQUEST:
            if self.id in b[2]:
                self._send(src, PP_RESPONSE, [self.id, b[1], [self._record()], []])
        elif t == PP_RESPONSE:
            alone = not self.joined
            for r in b[2]:
                self._merge_record(r, now)
            for ev in b[3]:
                self._deliver(ev)
            if alone and self.joined:
                # Just joined: spread our newest record (published while alone, or refuted) at once.
                self._spread_self()
                if self.stats["joined_ms"] is None:
                    self.stats["joined_ms"] = now - self._started
        elif t == EV_PUSH:
            for ev in b[1]:
                self._deliver(ev)
        elif t == IHAVE:
            for mark in b[1]:
                key = (mark[0], mark[1])
                if mark[0] != self.id and key not in self._missing and not self._seen(mark[0], mark[1], False):
                    if len(self._missing) < 64:  # grafted at once: the hub's push came 400 ms before
                        self._missing[key] = [b[0], now, 0]
        elif t == ANNOUNCE_REPLY:
            if b[2] == self._cluster and not self.joined:
                self._apply([ALIVE, b[1]], now)
                self._send_join(src)
        elif t == LEAVE:
            self._apply([LEFT, b[0], b[1]], now)
        elif t == USER_EVENT:
            self._deliver(b[1])
        # nack, prune, graft, announce: nothing for an observer to do (it relays no events).

    def _ack(self, src, seq, compact):
        # A ping with target "" takes an ack with target "" (= from), 2 + len(id) bytes shorter
        # (docs/protocol.md "Answer probes"); a ping naming us gets the full form.
        if self._announce_left > 0:
            self._announce_left -= 1
            self._send(src, ACK, [self.id, seq, "" if compact else self.id, [self._alive_upd]])
            return
        self._send_raw(src, self._ack_head + pack(seq) + (_COMPACT_ACK_TAIL if compact else self._ack_tail))

    def _on_digest(self, b, src):
        if b[6] == MARKS_RANGE:
            # Event marks: we keep no events to compare; ours tell where our own seq stands.
            for mk in b[9]:
                if mk[0] == self.id and mk[1] > self._ev_seq:
                    self._ev_seq = mk[1]
            return
        lo, hi, push, want, listed = b[6], b[7], False, [], False
        for e in b[8]:
            mid, inc, st = e[0], e[1], e[2]
            if mid == self.id:
                listed = True
                if inc > self.inc or inc == self.inc and st > self.status:
                    self._refute(inc)
                    push = True
                elif inc < self.inc or st < self.status:
                    push = True
                continue
            m = self._members.get(mid)
            if m is None and st <= SUSPECT or m is not None and (inc > m[4] or inc == m[4] and st > m[5]):
                want.append(mid)
        if not listed and (lo == "" or self.id > lo) and (hi == "" or self.id <= hi):
            push = True
        if push:
            self._send(src, PP_RESPONSE, [self.id, b[1], [self._record()], []])
        while want:
            chunk, size = [], 40
            while want and size + _utf8_len(want[-1]) + 3 < BUDGET:
                size += _utf8_len(want[-1]) + 3
                chunk.append(want.pop())
            self._send(src, PP_REQUEST, [self.id, b[1], chunk])

    # ------------------------------------------------------------ timers

    def _join(self, now):
        for s in self._seeds:
            try:
                self._send_join(_resolve(s[0], s[1]))
            except OSError:
                pass
        for m in self._members.values():
            if m[5] <= SUSPECT:
                self._send_join(m[8])
                break
        self._join_at = now + self._join_backoff
        self._join_backoff = min(self._join_backoff * 2, 30000)

    def _send_join(self, addr):
        """Our alive record as gossip, then a join digest (docs/protocol.md "Joining")."""
        self._exchange = (self._exchange + 1) & 0xFFFFFFFF
        self._send(addr, GOSSIP, [self.id, [self._alive_upd], []])
        self._send(addr, PP_DIGEST, [self.id, self._exchange, False, True, 0, 1, "", "",
                                     [[self.id, self.inc, self.status]], []])

    def _next_deadline(self):
        t = self._join_at if not self.joined else self._heard_at + 15000
        for r in self._relays.values():  # no list built: poll() is the hot path
            t = min(t, r[4])
        for m in self._missing.values():
            t = min(t, m[1])
        return t

    def _tick(self, now):
        if self._sock is None or self._leaving:
            return
        # The empty cases build nothing: this runs on every poll.
        for seq in [s for s, r in self._relays.items() if now >= r[4]] if self._relays else ():
            r = self._relays.pop(seq)
            if r[3]:  # Lifeguard: tell the requester we heard it, the target stayed silent
                self._send(r[0], NACK, [self.id, r[1], r[2]])
        grafts = {} if self._missing else None
        for key in [k for k, m in self._missing.items() if now >= m[1]] if self._missing else ():
            m = self._missing[key]
            ann = self._members.get(m[0])
            if m[2] >= 2 or ann is None:
                del self._missing[key]
                continue
            m[1], m[2] = now + 600, m[2] + 1
            grafts.setdefault(m[0], []).append([key[0], key[1]])
        for aid, ids in grafts.items() if grafts else ():
            self._send(self._members[aid][8], GRAFT, [self.id, ids[:32]])
        if not self.joined:
            if now >= self._join_at:
                self._join(now)
                if self._group is not None:
                    self._announce()
        elif now - self._heard_at > 15000 and now >= self._join_at:
            # Nobody probed us for a long while: the swarm may have forgotten us.
            self._join(now)
        else:
            self._join_backoff = 1000
        if now >= self._expire_at:  # forget the dead after 60 s, checked once a second
            self._expire_at = now + 1000
            for mid in [k for k, m in self._members.items() if m[5] >= DEAD and now - m[7] > 60000]:
                del self._members[mid]

    def _announce(self):
        try:
            self._sock.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_MULTICAST_TTL", 33), 1)
        except (OSError, AttributeError):
            pass
        self._send(_resolve(self._group[0], self._group[1]), ANNOUNCE, [self.id, self._record(), self._cluster])

    def _local_host(self):
        """The address peers reach us at: the interface toward the first seed."""
        if not self._seeds:
            raise ValueError("no seed: pass host=")
        t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.connect(_resolve(self._seeds[0][0], self._seeds[0][1]))
            return t.getsockname()[0]
        except (AttributeError, OSError):
            raise ValueError("cannot tell this device's address: pass host= (e.g. network.WLAN().ifconfig()[0])")
        finally:
            t.close()

    # ------------------------------------------------------------ HTTP to a full node

    def _api_addr(self):
        if self._api:
            return _addr(self._api, 5557)
        loop = self.host.startswith("127.")
        best = None
        for m in self._members.values():
            api = m[6][0]
            if m[5] > SUSPECT or not api:
                continue
            h, p = _addr(api, 5557)
            if h.startswith("127.") and not loop:
                continue  # an API on the node's loopback is not for us
            if best is None or (m[1], m[2]) in self._seeds:
                best = (h, p)
        if best is None:
            raise OSError("no full node advertises a reachable API: pass api=")
        return best

    def _http(self, method, path, body=None, timeout_s=5):
        host, port = self._api_addr()
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\nAccept: application/json\r\n" % (
            method, path, host, port)
        if body is not None:
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
        if self._token:
            head += "Authorization: Bearer %s\r\n" % self._token
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout_s)
            s.connect(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1])
            out = head.encode("utf-8") + b"\r\n" + data
            while out:
                out = out[s.send(out):]
            resp = bytearray()
            while len(resp) < 1 << 20:
                chunk = s.recv(1024)
                if not chunk:
                    break
                resp.extend(chunk)
        finally:
            s.close()
        head, _, rest = bytes(resp).partition(b"\r\n\r\n")
        lines = head.decode("utf-8").split("\r\n")
        status = int(lines[0].split(" ")[1])
        if any(ln.lower().replace(" ", "") == "transfer-encoding:chunked" for ln in lines[1:]):
            rest = _dechunk(rest)
        doc = json.loads(rest) if rest else None
        if status >= 400 and status != 404:
            err = (doc or {}).get("error", {}) if isinstance(doc, dict) else {}
            raise HttpError(status, err.get("code", "http_%d" % status), err.get("message", ""))
        return status, doc

class HttpError(OSError):
    def __init__(self, status, code, message):
        OSError.__init__(self, "%d %s: %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message

def _dechunk(b):
    out = bytearray()
    while b:
        size, _, b = b.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out.extend(b[:n])
        b = b[n + 2 :]
    return bytes(out)

def _quote(key):
    out = []
    for c in key.encode("utf-8"):
        ch = chr(c)
        if ch.isalpha() and c < 128 or ch.isdigit() or ch in "-._~/":
            out.append(ch)
        else:
            out.append("%%%02X" % c)
    return "".join(out)
