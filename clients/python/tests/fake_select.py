"""An in-memory `select.poll` over fake_socket's queues, for mpy_check.py."""
POLLIN = 1


class _Poll:
    def __init__(self):
        self.socks = []

    def register(self, s, mask=POLLIN):
        self.socks.append(s)

    def unregister(self, s):
        self.socks.remove(s)

    def poll(self, timeout_ms=-1):
        return [(s, POLLIN) for s in self.socks if s.q]


def poll():
    return _Poll()
