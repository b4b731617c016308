"""swarm_agent: a REST client of a Swarm Orchestrator node for Python agents (CPython, stdlib only).

Mirrors the TypeScript client's names (src/client/client.ts) in snake_case: ``kv_get``, ``kv_put``
(compare-and-set with ``prev_revision``), ``kv_delete``, ``kv_list``, ``leader``, ``members``,
``status``, ``energy``, ``energy_swarm``; watch (Server-Sent Events, resumed with Last-Event-ID),
leases with a keep-alive thread, locks and elections as context managers, swarm events and tasks.

    from swarm_agent import SwarmClient
    c = SwarmClient("http://127.0.0.1:5557")
    with c.lock("camera", ttl_s=10) as lk:      # held while the block runs; lk.revision fences writes
        c.kv_put("camera/owner", {"by": "agent-1", "fence": lk.revision})

Every call has a timeout; every failure is a SwarmError: NodeUnreachableError (no answer),
ApiRequestError (an HTTP error with the API's stable ``code``), UnauthorizedError (401).
The routes are described in docs/api.md.
"""

import base64
import http.client
import json
import threading
import time
import urllib.parse

__all__ = [
    "SwarmClient",
    "SwarmError",
    "NodeUnreachableError",
    "ApiRequestError",
    "UnauthorizedError",
    "LeaseLostError",
    "Lease",
    "Lock",
    "Election",
    "SseEvent",
]


class SwarmError(Exception):
    """Base of every error this module raises."""


class NodeUnreachableError(SwarmError):
    def __init__(self, base_url, reason):
        SwarmError.__init__(self, "node at %s unreachable: %s" % (base_url, reason))
        self.base_url, self.reason = base_url, reason


class ApiRequestError(SwarmError):
    """An HTTP error answer: ``status``, the API's stable ``code`` and ``message``, the whole ``body``."""

    def __init__(self, status, code, message, body=None):
        SwarmError.__init__(self, "%d %s: %s" % (status, code, message))
        self.status, self.code, self.message, self.body = status, code, message, body or {}


class UnauthorizedError(ApiRequestError):
    """401: ``security.api_token`` is set and the request lacks the right bearer token."""


class LeaseLostError(SwarmError):
    """The lease behind a lock or a candidacy expired or was revoked: stop acting on it."""


class SseEvent:
    """One Server-Sent Event: ``event`` (type, "message" by default), ``id`` and ``data`` (JSON-decoded)."""

    __slots__ = ("event", "id", "data")

    def __init__(self, event, id, data):
        self.event, self.id, self.data = event, id, data

    def __repr__(self):
        return "SseEvent(%r, id=%r, data=%r)" % (self.event, self.id, self.data)


def _q(s):
    return urllib.parse.quote(s, safe="")


class SwarmClient:
    def __init__(self, base_url="http://127.0.0.1:5557", token="", timeout_s=5.0):
        self.base_url = base_url.rstrip("/")
        u = urllib.parse.urlsplit(self.base_url)
        if u.scheme not in ("http", "https"):
            raise ValueError("base_url must be http(s)://host:port")
        self._https = u.scheme == "https"
        self._host, self._port = u.hostname, u.port or (443 if self._https else 80)
        self.token = token
        self.timeout_s = timeout_s

    # ------------------------------------------------------------ plumbing

    def _conn(self, timeout_s):
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=timeout_s)

    def _headers(self, body):
        h = {"Accept": "application/json"}
        if body is not None:
            h["Content-Type"] = "application/json"
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        return h

    def request(self, method, path, body=None, timeout_s=None):
        """One JSON call; returns the decoded answer. Generic, for routes without a method here."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        conn = self._conn(self.timeout_s if timeout_s is None else timeout_s)
        try:
            conn.request(method, path, body=data, headers=self._headers(body))
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise NodeUnreachableError(self.base_url, "timed out" if "timed out" in str(e) else str(e) or type(e).__name__)
        finally:
            conn.close()
        try:
            doc = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            doc = None
            if resp.status < 400:
                raise ApiRequestError(resp.status, "bad_response", "%s %s: not JSON" % (method, path))
        if resp.status >= 300:
            err = doc.get("error") if isinstance(doc, dict) and isinstance(doc.get("error"), dict) else {}
            code = err.get("code", "http_%d" % resp.status)
            message = err.get("message", "HTTP %d" % resp.status)
            cls = UnauthorizedError if resp.status == 401 else ApiRequestError
            raise cls(resp.status, code, message, doc if isinstance(doc, dict) else None)
        return doc

    def sse(self, path, last_event_id=None, reconnect=True, stop=None):
        """Iterate the Server-Sent Events of a streaming route; reconnects with Last-Event-ID after a
        dropped connection (so no event is missed nor repeated), until ``stop`` (a threading.Event) is set
        or the iterator is closed. Heartbeat comments are skipped."""
        delay = 0.2
        while stop is None or not stop.is_set():
            conn = self._conn(max(self.timeout_s, 30.0))
            try:
                h = self._headers(None)
                h["Accept"] = "text/event-stream"
                if last_event_id is not None:
                    h["Last-Event-ID"] = str(last_event_id)
                conn.request("GET", path, headers=h)
                resp = conn.getresponse()
                if resp.status != 200:
                    raw = resp.read()
                    try:
                        doc = json.loads(raw.decode("utf-8"))
                        err = doc.get("error", {})
                    except ValueError:
                        doc, err = None, {}
                    raise ApiRequestError(resp.status, err.get("code", "http_%d" % resp.status),
                                          err.get("message", ""), doc)
                delay = 0.2
                event, eid, data = "message", None, []
                while stop is None or not stop.is_set():
                    line = resp.readline()
                    if not line:
                        break  # the node closed the stream: reconnect
                    line = line.decode("utf-8").rstrip("\r\n")
                    if line == "":
                        if data:
                            text = "\n".join(data)
                            try:
                                payload = json.loads(text)
                            except ValueError:
                                payload = text
                            if eid is not None:
                                last_event_id = eid
                            yield SseEvent(event, eid, payload)
                        event, eid, data = "message", None, []
                    elif line.startswith(":"):
                        continue
                    else:
                        field, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if field == "data":
                            data.append(value)
                        elif field == "event":
                            event = value
                        elif field == "id":
                            eid = value
            except (OSError, http.client.HTTPException) as e:
                if not reconnect:
                    raise NodeUnreachableError(self.base_url, str(e) or type(e).__name__)
            finally:
                conn.close()
            if not reconnect:
                return
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------ node and swarm

    def status(self):
        return self.request("GET", "/v1/status")

    def health(self):
        return self.request("GET", "/v1/health")

    def members(self):
        """The swarm as the node's gossip sees it (members, leader, adaptive mode, encryption)."""
        return self.request("GET", "/v1/members")

    def energy(self):
        """This node's energy snapshot; ApiRequestError 503 energy_disabled when [energy] is off."""
        return self.request("GET", "/v1/energy")

    def energy_swarm(self):
        """Every member's gossiped energy summary plus swarm totals."""
        return self.request("GET", "/v1/energy/swarm")

    def metrics_text(self):
        conn = self._conn(self.timeout_s)
        try:
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            text = resp.read().decode("utf-8")
        except (OSError, http.client.HTTPException) as e:
            raise NodeUnreachableError(self.base_url, str(e))
        finally:
            conn.close()
        if resp.status != 200:
            raise ApiRequestError(resp.status, "http_%d" % resp.status, "GET /metrics: HTTP %d" % resp.status)
        return text

    def leader(self):
        """Raft leader, term, commit index and membership as this node sees them."""
        return self.request("GET", "/v1/leader")

    def shutdown(self, reason=None):
        return self.request("POST", "/v1/shutdown", {} if reason is None else {"reason": reason})

    # ------------------------------------------------------------ KV

    def kv_get(self, key, stale=False):
        """``{key, value, revision}``; linearizable unless ``stale``. 404 -> ApiRequestError not_found."""
        return self.request("GET", "/v1/kv/" + _q(key) + ("?consistency=stale" if stale else ""))

    def kv_put(self, key, value, prev_revision=None, lease=None):
        """Committed and applied when it returns. ``prev_revision`` makes it a compare-and-set (0 = must
        not exist; 409 revision_mismatch, ``e.body["current_revision"]``); ``lease`` binds the key to it."""
        body = {"value": value}
        if prev_revision is not None:
            body["prev_revision"] = prev_revision
        if lease is not None:
            body["lease"] = int(lease)
        return self.request("PUT", "/v1/kv/" + _q(key), body)

    def kv_delete(self, key):
        return self.request("DELETE", "/v1/kv/" + _q(key))

    def kv_list(self, prefix="", stale=False):
        q = {"prefix": prefix}
        if stale:
            q["consistency"] = "stale"
        return self.request("GET", "/v1/kv?" + urllib.parse.urlencode(q))

    # ------------------------------------------------------------ watch

    def _watch_query(self, key, prefix, from_revision, consistent):
        if (key is None) == (prefix is None):
            raise ValueError("give exactly one of key or prefix")
        q = {"key": key} if key is not None else {"prefix": prefix}
        if from_revision is not None:
            q["from_revision"] = int(from_revision)
        if consistent:
            q["consistent"] = "true"
        return q

    def watch(self, key=None, prefix=None, from_revision=None, consistent=False, stop=None):
        """Yield ``{type: put|delete, key, value, revision, ...}`` in revision order, resuming across
        reconnects from the last revision seen. A history compacted past ``from_revision`` raises
        ApiRequestError 410 compacted (``e.body["oldest_revision"]``)."""
        q = self._watch_query(key, prefix, from_revision, consistent)
        for ev in self.sse("/v1/watch?" + urllib.parse.urlencode(q), stop=stop):
            if ev.event == "compacted":
                raise ApiRequestError(410, "compacted", "watch history compacted", ev.data)
            if ev.event in ("put", "delete"):
                yield ev.data

    def watch_poll(self, key=None, prefix=None, from_revision=None, wait_s=30, consistent=False):
        """Long poll: ``{events, revision, next_revision}`` after ``from_revision``, or no events at the timeout."""
        q = self._watch_query(key, prefix, from_revision, consistent)
        q["wait"] = "%gs" % wait_s
        return self.request("GET", "/v1/watch?" + urllib.parse.urlencode(q), timeout_s=wait_s + self.timeout_s)

    # ------------------------------------------------------------ leases

    def lease_grant(self, ttl_s):
        """``{id, ttl_s}``: a lease that expires ``ttl_s`` after its last keep-alive."""
        return self.request("POST", "/v1/lease", {"ttl_s": ttl_s})

    def lease_keepalive(self, lease_id):
        return self.request("POST", "/v1/lease/%d/keepalive" % int(lease_id))

    def lease_revoke(self, lease_id):
        """Ends the lease now; its keys are deleted through the log."""
        return self.request("DELETE", "/v1/lease/%d" % int(lease_id))

    def lease_info(self, lease_id):
        return self.request("GET", "/v1/lease/%d" % int(lease_id))

    def lease(self, ttl_s=10, keepalive=True, on_lost=None):
        """A Lease kept alive by a background thread (every ttl/3) until revoked or the with-block ends."""
        return Lease(self, self.lease_grant(ttl_s), keepalive, on_lost)

    # ------------------------------------------------------------ locks

    def lock_acquire(self, name, lease_id, wait_s=None, owner=None):
        """Blocks (FIFO by revision) until held: ``{name, owner, lease, key, revision}``; the revision is a
        fencing token that grows with each holder. 408 timeout after ``wait_s``."""
        body = {"lease": int(lease_id)}
        if wait_s is not None:
            body["wait_s"] = wait_s
        if owner is not None:
            body["owner"] = owner
        return self.request("POST", "/v1/lock/" + _q(name), body, timeout_s=(wait_s or 30) + self.timeout_s)

    def lock_release(self, name, lease_id):
        return self.request("DELETE", "/v1/lock/%s?lease=%d" % (_q(name), int(lease_id)))

    def lock_holder(self, name, stale=False):
        return self.request("GET", "/v1/lock/" + _q(name) + ("?consistency=stale" if stale else ""))

    def lock(self, name, ttl_s=10, wait_s=30, owner=None):
        """Context manager: a lease of ``ttl_s`` kept alive while held, the lock taken on entry, released
        (and the lease revoked) on exit. ``.revision`` is the fencing token; ``.lost`` is set if the lease
        ends while held."""
        return Lock(self, name, ttl_s, wait_s, owner)

    # ------------------------------------------------------------ elections

    def campaign(self, name, lease_id, value, wait_s=None):
        """Blocks until this candidacy leads: ``{name, leader: {key, value, lease, revision}}``."""
        body = {"lease": int(lease_id), "value": value}
        if wait_s is not None:
            body["wait_s"] = wait_s
        return self.request("POST", "/v1/election/%s/campaign" % _q(name), body,
                            timeout_s=(wait_s if wait_s is not None else 3600) + self.timeout_s)

    def resign(self, name, lease_id):
        return self.request("POST", "/v1/election/%s/resign" % _q(name), {"lease": int(lease_id)})

    def election_leader(self, name, stale=False):
        """``{name, leader: {key, value, lease, revision} | None, revision}``."""
        return self.request("GET", "/v1/election/" + _q(name) + ("?consistency=stale" if stale else ""))

    def election_observe(self, name, stop=None):
        """Yield the leader (``{key, value, lease, revision}`` or None) each time it changes."""
        for ev in self.sse("/v1/election/%s?watch=true" % _q(name), stop=stop):
            if ev.event == "leader":
                yield ev.data.get("leader")

    def election(self, name, value, ttl_s=10, wait_s=None):
        """Context manager: campaigns on entry (blocks until leader), resigns on exit."""
        return Election(self, name, value, ttl_s, wait_s)

    # ------------------------------------------------------------ swarm events

    def event_send(self, name, payload=""):
        """Disseminate an event to every node (best effort). ``payload``: str (<= 1 KiB UTF-8) or bytes."""
        if isinstance(payload, (bytes, bytearray)):
            body = {"name": name, "payload_base64": base64.b64encode(bytes(payload)).decode("ascii")}
        else:
            body = {"name": name, "payload": payload}
        return self.request("POST", "/v1/events", body)

    def events_recent(self, name=None, since=None):
        q = {}
        if name is not None:
            q["name"] = name
        if since is not None:
            q["since"] = since
        return self.request("GET", "/v1/events/recent" + ("?" + urllib.parse.urlencode(q) if q else ""))

    def events_watch(self, name=None, since=None, stop=None):
        """Yield each event this node delivers (``{id, origin, seq, name, payload, ...}``) as it arrives."""
        q = {}
        if name is not None:
            q["name"] = name
        if since is not None:
            q["since"] = since
        path = "/v1/events" + ("?" + urllib.parse.urlencode(q) if q else "")
        for ev in self.sse(path, stop=stop):
            if ev.event == "message":
                yield ev.data

    # ------------------------------------------------------------ tasks (issue #18)

    def task_run(self, spec):
        """Submit a task spec (``{name, command: [argv], count, constraints: {labels, device_classes},
        restart, energy, ...}``, the JSON form of a task file): the task's status. 409 if it runs."""
        return self.request("POST", "/v1/tasks", spec)

    def task_list(self):
        """``{tasks: [status, ...]}``."""
        return self.request("GET", "/v1/tasks")

    def task_status(self, name):
        """``{name, desired, spec, running, allocations: [{id, node, state, ...}], explanation}``: the
        allocations and why each node was or was not chosen. 404 -> ApiRequestError not_found."""
        return self.request("GET", "/v1/tasks/" + _q(name))

    def task_stop(self, name):
        """Stop every replica (SIGTERM, then SIGKILL after kill_timeout_s)."""
        return self.request("POST", "/v1/tasks/%s/stop" % _q(name), {})

    def task_logs(self, name, alloc=None, offset=None, max=None):
        """A chunk of an allocation's output, read through whichever node runs it:
        ``{task, alloc, node, node_name, data, next_offset, size}``."""
        q = {}
        for k, v in (("alloc", alloc), ("offset", offset), ("max", max)):
            if v is not None:
                q[k] = v
        return self.request("GET", "/v1/tasks/%s/logs%s" % (_q(name), "?" + urllib.parse.urlencode(q) if q else ""))

    def task_logs_follow(self, name, alloc=None, poll_s=1.0, stop=None):
        """Yield the output as it grows (``swarm task logs --follow``), until ``stop`` is set."""
        offset = None
        while stop is None or not stop.is_set():
            chunk = self.task_logs(name, alloc=alloc, offset=offset)
            alloc, offset = chunk["alloc"], chunk["next_offset"]
            if chunk["data"]:
                yield chunk["data"]
            else:
                time.sleep(poll_s)


class Lease:
    """A granted lease; ``id``, ``ttl_s``. Kept alive every ttl/3 by a daemon thread when asked;
    ``lost`` (a threading.Event) is set once a keep-alive finds it gone."""

    def __init__(self, client, granted, keepalive=True, on_lost=None):
        self.client, self.id, self.ttl_s = client, int(granted["id"]), float(granted["ttl_s"])
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._on_lost = on_lost
        self._thread = None
        if keepalive:
            self._thread = threading.Thread(target=self._run, name="swarm-lease-%d" % self.id, daemon=True)
            self._thread.start()

    def _run(self):
        interval = max(0.2, self.ttl_s / 3.0)
        while not self._stop.wait(interval):
            try:
                self.client.lease_keepalive(self.id)
            except ApiRequestError as e:
                if e.status == 404:
                    self.lost.set()
                    if self._on_lost is not None:
                        self._on_lost(self)
                    return
            except NodeUnreachableError:
                pass  # try again next interval: the lease survives until its ttl

    def check(self):
        if self.lost.is_set():
            raise LeaseLostError("lease %d expired or was revoked" % self.id)

    def revoke(self):
        self._stop.set()
        if not self.lost.is_set():
            try:
                self.client.lease_revoke(self.id)
            except ApiRequestError as e:
                if e.status != 404:
                    raise

    def close(self):
        """Stop keeping it alive without revoking (it then expires after ttl)."""
        self._stop.set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.revoke()
        return False


class Lock:
    def __init__(self, client, name, ttl_s, wait_s, owner):
        self.client, self.name, self.ttl_s, self.wait_s, self.owner = client, name, ttl_s, wait_s, owner
        self.lease = None
        self.revision = None
        self.held = None

    @property
    def lost(self):
        return self.lease.lost if self.lease is not None else threading.Event()

    def check(self):
        """Raise LeaseLostError if the lock's lease ended (another holder may have the lock now)."""
        self.lease.check()

    def acquire(self):
        self.lease = self.client.lease(self.ttl_s)
        try:
            self.held = self.client.lock_acquire(self.name, self.lease.id, self.wait_s, self.owner)
        except BaseException:
            self.lease.revoke()
            raise
        self.revision = self.held["revision"]
        return self

    def release(self):
        try:
            if not self.lease.lost.is_set():
                self.client.lock_release(self.name, self.lease.id)
        finally:
            self.lease.revoke()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


class Election:
    def __init__(self, client, name, value, ttl_s, wait_s):
        self.client, self.name, self.value, self.ttl_s, self.wait_s = client, name, value, ttl_s, wait_s
        self.lease = None
        self.leader = None

    def check(self):
        self.lease.check()

    def campaign(self):
        self.lease = self.client.lease(self.ttl_s)
        try:
            self.leader = self.client.campaign(self.name, self.lease.id, self.value, self.wait_s)["leader"]
        except BaseException:
            self.lease.revoke()
            raise
        return self

    def resign(self):
        try:
            if not self.lease.lost.is_set():
                self.client.resign(self.name, self.lease.id)
        finally:
            self.lease.revoke()

    def __enter__(self):
        return self.campaign()

    def __exit__(self, *exc):
        self.resign()
        return False
