"""An in-memory `socket` for mpy_check.py (MicroPython's WebAssembly port has none): datagrams go
from one fake socket's queue to another by address. No getsockname, like MicroPython's sockets."""
AF_INET = 2
SOCK_STREAM = 1
SOCK_DGRAM = 2
IPPROTO_IP = 0
_net = {}


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    return [(AF_INET, type, 0, "", (host, port))]


class socket:
    def __init__(self, af=AF_INET, kind=SOCK_DGRAM):
        self.q = []
        self.addr = None

    def bind(self, addr):
        self.addr = ("127.0.0.1", addr[1])
        _net[self.addr] = self

    def setblocking(self, flag):
        pass

    def setsockopt(self, *args):
        pass

    def sendto(self, data, addr):
        peer = _net.get((addr[0], addr[1]))
        if peer is not None:
            peer.q.append((bytes(data), self.addr))
        return len(data)

    def recvfrom(self, n):
        if not self.q:
            raise OSError(11)
        return self.q.pop(0)

    def close(self):
        _net.pop(self.addr, None)
