"""``redis://HOST:PORT/DB``: a store on a Redis server, to share runs between machines.

Options in the query: ``prefix=fb:`` (every key starts with it; also ``[redis] prefix``
in flowbuilder.toml), ``retry_seconds=30`` (how long a lost connection is retried, with
exponential backoff, before a call fails with a one-line StoreError),
``connect_seconds=3`` (the same, for opening). Values are read as bytes and decoded as
JSON: nothing read from Redis is ever unpickled.

Key layout (``P`` is the prefix):

=============================  ======  =================================================
key                            type    value
=============================  ======  =================================================
``P format``                   string  JSON ``{"format": 1, "app": "flowbuilder"}``
``P ev:RUN``                   list    events in seq order (index = seq - 1), JSON each
``P sum:RUN``                  string  run summary JSON
``P runs``                     zset    member RUN, score created_at (newest-first listing)
``P snap:RUN``                 string  newest snapshot JSON
``P def:SHA256``               string  workflow definition bytes
``P log:RUN``                  list    log line JSON ``{n,a,s,x,t}`` in append order
``P logbytes:RUN``             string  bytes of log kept so far (for the cap)
``P blob:RUN/NAME``            string  blob bytes
``P blobs:RUN``                set     blob names of the run (so deletion needs no KEYS)
``P note:RUN``                 list    annotations in number order (index = number - 1)
``P wake:RUN``                 channel published after each append, annotation or log append (subscriptions)
``P ctl:RUN``                  list    control requests in number order (index = number - 1)
``P lease:RUN``                string  the run owner's lease JSON (expires a day after its own expiry)
``P control``                  channel published with the run id after each control request
``P cache:WF\\0TASK\\0KEY``       string  a cached task result (core's cache entry JSON), expiring with Redis's own TTL
``P caches``                   zset    member ``WF\\0TASK\\0KEY``, score its expiry (inf: none), so listing and clearing need no KEYS
``P rec:KEY``                  string  a claimed key's or a record's value (coordination role)
``P nlease:NAME``              string  a named lease ``OWNER\\nEXPIRES_AT`` (Redis expires it a day later)
``P nepoch:NAME``              string  the named lease's epoch (holdings so far), decimal; kept after release
``P fence:SCOPE``              string  the highest fencing token seen for SCOPE, decimal
``P audit``                    list    audit records, newest first (index = newest seq - seq), JSON each
``P auditseq``                 string  the newest audit record's number, decimal
=============================  ======  =================================================

Appends run one Lua script: it compares the list length with ``expected_seq`` and the
stored summary with the one the client updated, then pushes the events, writes the new
summary and indexes the run — atomically, as Redis runs a script alone. A fenced append
runs the same script with the fence check in front (tokens compared as decimal text, so
64-bit tokens stay exact in Lua's doubles).

A server that comes back from a restart without persistence (or is flushed) has lost the
runs it held. The store remembers the last event it appended for each run, so when a run
it was writing suddenly has fewer events it raises :class:`RunDataLostError` — saying the
server lost the data — rather than a sequence conflict, and the runner stops that run.
"""

from __future__ import annotations

import re
import time
from functools import partial
from typing import Any, Callable, ClassVar, Mapping, Sequence, TypeVar

from flowbuilder.annotations import Annotation, decode_annotation, encode_annotation
from flowbuilder.audit import (
    AuditPage,
    AuditRecord,
    audit_retention_setting,
    check_audit_page,
    decode_audit_record,
    encode_audit_record,
)
from flowbuilder.caching import (
    CachedResult,
    check_cache_key,
    check_cache_name,
    decode_cached_result,
    encode_cached_result,
)
from flowbuilder.control import ControlRequest, decode_control_request, encode_control_request
from flowbuilder.errors import (
    ConfigurationError,
    RunNotFoundError,
    SequenceConflictError,
    StaleLeaderError,
    StoreError,
    cut,
    quoted,
    shown_url,
)
from flowbuilder.events import RunEvent, RunState, RunStatus, encode_event
from flowbuilder.fencing import Fence
from flowbuilder.interfaces.coordination import (
    MAX_COORDINATION_KEY,
    MAX_COORDINATION_VALUE,
    LeaseGrant,
    check_coordination_text,
)
from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, Store, definition_hash
from flowbuilder.leases import RunLease, decode_lease, encode_lease
from flowbuilder.stores.paging import decode_cursor, encode_cursor
from flowbuilder_storage._event_bytes import decode_events, events_bytes
from flowbuilder_storage._records import (
    FORMAT_VERSION,
    check_batch,
    check_run_id,
    decode_log_line,
    decode_snapshot,
    decode_summary,
    dump_json,
    encode_log_line,
    encode_summary,
    format_number,
    split_blob_ref,
)
from flowbuilder_storage._urls import redis_parts, settings_section, split_query

T = TypeVar("T")
_SUMMARY_CACHE_SIZE = 4096
_NO_ANNOTATIONS = 1 << 62
"""``after_annotation`` for a wait that only cares about events."""
_MAX_SEQ = (1 << 63) - 1
"""A sequence number past any run's: reading after it finds nothing (and asks Redis nothing)."""
_PIPELINE_PREFIX = re.compile(r"^Command # \d+ \(.*\) of pipeline caused error: ")
_SCRIPT_SUFFIX = re.compile(r"\.? script: [0-9a-f]+, on @user_script:\d+\.?$")
_WRITTEN_RUNS_KEPT = 65536
"""Runs whose last appended event this store remembers (the oldest are forgotten first)."""
DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024

_CLAIM = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""
"""Claim a key: SET NX, then read what holds, in one script (one round trip, atomic)."""

_APPEND_AUDIT = """
local seq = redis.call('INCR', KEYS[2])
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return seq
"""
"""Number an audit record, push it at the head and drop what is beyond the retention, atomically:
the head is always record ``auditseq``, so record ``s`` is at index ``auditseq - s``."""

_READ_AUDIT = """
local newest = tonumber(redis.call('GET', KEYS[2]) or '0')
local top = newest
if ARGV[1] ~= '' then top = math.min(tonumber(ARGV[1]) - 1, newest) end
local start = newest - top
if top < 1 then return {0} end
local found = redis.call('LRANGE', KEYS[1], start, start + tonumber(ARGV[2]) - 1)
table.insert(found, 1, top)
return found
"""
"""Up to ARGV[2] records numbered ``top`` down, read with the number they start at (one snapshot)."""

_ACQUIRE_LEASE = """
local held = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[2])
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
local renewal = false
if held then
  local owner, expires = string.match(held, '^(.*)\\n([^\\n]*)$')
  local live = tonumber(expires) > now
  if owner ~= ARGV[1] and live then return {held, epoch} end
  renewal = live
end
if not renewal then
  epoch = epoch + 1
  redis.call('SET', KEYS[2], epoch)
end
local taken = ARGV[1] .. '\\n' .. ARGV[3]
redis.call('SET', KEYS[1], taken, 'EX', tonumber(ARGV[4]))
return {taken, epoch}
"""
"""Take or renew a named lease unless another owner holds it unexpired; return the holder and
the epoch (one more on every take that is not a renewal of a live holding)."""

_FENCE_CHECK = """
local function below(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local highest = redis.call('GET', KEYS[5])
local token = ARGV[6]
if highest and below(token, highest) then return {3, highest} end
"""
"""Refuse a token below the scope's highest (decimal text compared exactly: no doubles)."""

_RAISE_FENCE = (
    _FENCE_CHECK.replace("KEYS[5]", "KEYS[1]").replace("ARGV[6]", "ARGV[1]")
    + """
if highest ~= token then redis.call('SET', KEYS[1], token) end
return {1, token}
"""
)

_RELEASE_LEASE = """
local held = redis.call('GET', KEYS[1])
if held and string.match(held, '^(.*)\\n') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

_APPEND = """
local length = redis.call('LLEN', KEYS[1])
if length ~= tonumber(ARGV[1]) then return {0, length} end
local current = redis.call('GET', KEYS[2])
if (current or '') ~= ARGV[2] then return {2, length} end
for i = 6, #ARGV, 1000 do redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('PUBLISH', KEYS[4], '')
return {1, length + #ARGV - 5}
"""

_FENCED_APPEND = (_FENCE_CHECK + _APPEND
                  .replace("for i = 6,", "if highest ~= token then redis.call('SET', KEYS[5], token) end\nfor i = 7,")
                  .replace("length + #ARGV - 5", "length + #ARGV - 6"))  # fmt: skip
"""The append script behind the fence check: the fence is raised only with the batch (ARGV[6]
is the token, events start at ARGV[7], KEYS[5] is the scope's fence key)."""

_ANNOTATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local number = redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PUBLISH', KEYS[3], '')
return number
"""


_REQUEST_CONTROL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local number = redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[2])
return number
"""
_LEASE_KEPT_SECONDS = 86400
"""A lease key outlives its expiry by this long, so that an abandoned run's lease is still there to read."""


class RunDataLostError(StoreError):
    """The Redis server no longer holds events this store appended to a run.

    Raised by :meth:`RedisStore.append_events` instead of a sequence conflict when the run
    has fewer events than this store itself appended: the server restarted without
    persistence or its data was flushed or deleted. The run cannot continue there.
    """

    def __init__(self, message: str, run_id: str, appended: int, stored: int):
        super().__init__(message)
        self.run_id = run_id
        self.appended = appended
        self.stored = stored


def _cache_member(workflow: str, task: str, key: str) -> bytes:
    """An entry's address in the ``caches`` index and its key's tail (names and digests hold no NUL)."""
    check_cache_name("workflow", workflow)
    check_cache_name("task", task)
    check_cache_key(key)
    return f"{workflow}\x00{task}\x00{key}".encode()


class RedisStore(Store):
    """A :class:`~flowbuilder.interfaces.Store` on a Redis server (redis-py, bytes only)."""

    scheme: ClassVar[str] = "redis"
    default_priority: ClassVar[int] = 0

    def __init__(self, url: str, prefix: str = "fb:", retry_seconds: float = 30.0, connect_seconds: float = 3.0,
                 max_log_bytes: int = DEFAULT_MAX_LOG_BYTES):  # fmt: skip
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.prefix = prefix.encode()
        self.retry_seconds = retry_seconds
        self.max_log_bytes = max_log_bytes
        self._redis_errors: tuple[type[BaseException], ...] = (
            redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError)  # fmt: skip
        self._refusals: tuple[type[BaseException], ...] = (redis.ResponseError, redis.AuthenticationError)
        try:
            self._client: Any = redis.Redis.from_url(url, decode_responses=False, retry=Retry(NoBackoff(), 0),
                                                socket_connect_timeout=2.0, socket_timeout=30.0)  # fmt: skip
        except ValueError as error:
            raise ConfigurationError(f"store URL {quoted(shown_url(url))}: {cut(str(error))}") from None
        self._append_script = self._client.register_script(_APPEND)
        self._fenced_append_script = self._client.register_script(_FENCED_APPEND)
        self._raise_fence_script = self._client.register_script(_RAISE_FENCE)
        self._annotate_script = self._client.register_script(_ANNOTATE)
        self._control_script = self._client.register_script(_REQUEST_CONTROL)
        self._claim_script = self._client.register_script(_CLAIM)
        self._acquire_script = self._client.register_script(_ACQUIRE_LEASE)
        self._release_script = self._client.register_script(_RELEASE_LEASE)
        self._append_audit_script = self._client.register_script(_APPEND_AUDIT)
        self._read_audit_script = self._client.register_script(_READ_AUDIT)
        self._last_summary: dict[str, tuple[RunSummary, bytes]] = {}
        self._appended: dict[str, int] = {}  # run -> last seq this store appended (see RunDataLostError)
        self._where = self._client.connection_pool.connection_kwargs
        self._retrying(self._check_format, budget=connect_seconds)
        self._server_id = self._retrying(self._server_run_id, budget=connect_seconds)

    @classmethod
    def open(cls, url: str) -> RedisStore:
        base, prefix = redis_parts(url)
        _, query = split_query(url)

        def number(name: str, default: float) -> float:
            try:
                value = float(query.get(name, default))
            except ValueError:
                value = -1.0
            if not 0 <= value < 1e18:  # nan and inf too: a budget of nan or inf retried a lost server forever
                raise ConfigurationError(
                    f"store URL {quoted(shown_url(url))}: {name}={quoted(query.get(name))} must be a number >= 0"
                )
            return value

        store = cls(base, prefix, number("retry_seconds", 30.0), number("connect_seconds", 3.0),
                    int(number("max_log_bytes", DEFAULT_MAX_LOG_BYTES)))  # fmt: skip
        store.audit_retention = audit_retention_setting(settings_section("audit"))
        return store

    # -- plumbing -------------------------------------------------------------------------

    def _key(self, *parts: str) -> bytes:
        return self.prefix + "".join(parts).encode()

    def _retrying(self, call: Callable[[], T], budget: float | None = None) -> T:
        """Run ``call``, retrying lost connections with exponential backoff for ``budget`` seconds."""
        budget = self.retry_seconds if budget is None else budget
        deadline = time.monotonic() + budget
        delay = 0.02
        tries = 0
        while True:
            tries += 1
            try:
                return call()
            except self._refusals as error:  # no retry makes the server say yes
                raise self._refused(error) from None
            except self._redis_errors as error:
                if time.monotonic() + delay > deadline:
                    host = self._host()
                    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    raise StoreError(f"cannot reach Redis at {host} ({reason}) after {tries} tries over {budget:g}s;"
                                     " check that redis-server is running and the --store URL is right") from None  # fmt: skip
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _refused(self, error: BaseException) -> StoreError:
        """The one-line error for a command the server answered with an error: out of memory
        (``maxmemory``), a wrong password, a database index it does not have, a read-only
        replica, a key of another type. Out of memory, a write changed nothing (Redis refuses
        a script before its first write, and a MULTI block as a whole), so every write
        acknowledged before it is kept; the other refusals are not about this store's data."""
        import redis

        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        reason = _SCRIPT_SUFFIX.sub("", _PIPELINE_PREFIX.sub("", reason))  # where in our pipeline or script
        if isinstance(error, redis.AuthenticationError):
            advice = "check the user and password in the store URL (redis://USER:PASSWORD@HOST:PORT/DB)"
        elif isinstance(error, redis.exceptions.OutOfMemoryError):
            advice = ("nothing of it was stored, every write before it is kept; free memory on the server"
                      " (`flowbuilder gc`, or raise its maxmemory), then retry or `flowbuilder resume` the run")  # fmt: skip
        elif "WRONGTYPE" in reason:  # a key under the prefix holds another kind of value: not written by FlowBuilder
            advice = (f"a key under the store's prefix {self.prefix.decode(errors='replace')!r} was not written by"
                      " FlowBuilder: the database is shared with another application; choose another ?prefix= or"
                      " database")  # fmt: skip
        elif "DB index" in reason:
            advice = "use a database number the server has (redis://HOST:PORT/0; see its `databases` setting)"
        else:
            advice = "check the server and the --store URL (another program's keys under its ?prefix=?), then retry"
        return StoreError(f"Redis at {self._host()} refused a command: {reason.rstrip('.')}; {advice}")

    def _host(self) -> str:
        return f"{self._where.get('host', '?')}:{self._where.get('port', '?')}"

    def _text(self, raw: bytes, *key: str) -> str:
        """A stored run id, record or holder as text; a one-line StoreError naming the key when
        it is not UTF-8 (FlowBuilder writes only UTF-8 there: damage, or another program's
        value under the prefix), where a bare UnicodeDecodeError was exit 70."""
        try:
            return bytes(raw).decode()
        except UnicodeDecodeError:
            name = self._key(*key).decode(errors="replace")
            raise StoreError(f"Redis key {name!r} holds {bytes(raw)[:40]!r}, which is not UTF-8 and so not FlowBuilder's:"
                             " the store is damaged, or another program writes under its ?prefix=; remove that value"
                             ) from None  # fmt: skip

    def _server_run_id(self) -> str | None:
        """The server's ``run_id`` (new at every start of redis-server); None if INFO is not allowed."""
        import redis

        try:
            info = self._client.info("server")
        except redis.ResponseError:
            return None
        run_id = info.get("run_id")
        return str(run_id) if run_id else None

    def _check_format(self) -> None:
        key = self._key("format")
        raw = self._client.get(key)
        if raw is None:
            self._client.set(key, dump_json({"format": FORMAT_VERSION, "app": "flowbuilder"}), nx=True)
            return
        version = format_number(raw)
        if version is None:
            raise StoreError(f"Redis key {key.decode()!r} does not hold a FlowBuilder format marker; choose another"
                             " ?prefix= or database") from None  # fmt: skip
        if version > FORMAT_VERSION:
            raise StoreError(f"this Redis store has format {version}, newer than this flowbuilder-storage reads"
                             f" ({FORMAT_VERSION}); upgrade flowbuilder-storage")  # fmt: skip

    # -- events ---------------------------------------------------------------------------

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        return self._append(run_id, events, expected_seq, None)

    def append_fenced_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int, fence: Fence) -> int:
        """The fence is checked and raised by the append's own script (atomically with it)."""
        return self._append(run_id, events, expected_seq, fence)

    def raise_fence(self, fence: Fence) -> int:
        code, highest = self._retrying(lambda: self._raise_fence_script(keys=[self._key("fence:", fence.scope)],
                                                                        args=[str(fence.token)]))  # fmt: skip
        if code == 3:
            raise StaleLeaderError(fence.scope, fence.token, int(highest))
        return fence.token

    def read_fence(self, scope: str) -> int | None:
        raw = self._retrying(lambda: self._client.get(self._key("fence:", scope)))
        return int(raw) if raw is not None else None

    def _refuse_if_stale(self, fence: Fence | None) -> None:
        """Before another refusal is raised: a stale fence wins (the store's highest only grows)."""
        if fence is None:
            return
        highest = self.read_fence(fence.scope)
        if highest is not None and fence.token < highest:
            raise StaleLeaderError(fence.scope, fence.token, highest)

    def _append(self, run_id: str, events: Sequence[RunEvent], expected_seq: int, fence: Fence | None) -> int:
        check_run_id(run_id)
        retried = False
        cached = self._last_summary.get(run_id)
        while True:
            # The summary this process wrote last saves a round trip; the script checks it is current.
            prior: RunSummary | None
            if cached is not None and cached[0].last_seq == expected_seq:
                prior, prior_raw = cached
            else:
                prior_raw = self._retrying(lambda: self._client.get(self._key("sum:", run_id)))
                prior = decode_summary(prior_raw, run_id) if prior_raw is not None else None
            cached = None
            actual = prior.last_seq if prior is not None else 0
            if actual != expected_seq:
                if retried and self._landed_before(run_id, events, expected_seq, actual):
                    return expected_seq + len(events)
                self._refuse_if_stale(fence)
                self._check_not_lost(run_id, actual)
                raise SequenceConflictError(run_id, expected_seq, actual)
            if not events:
                if fence is not None:
                    self.raise_fence(fence)
                return actual
            try:
                check_batch(run_id, events, expected_seq)
            except StoreError:
                self._refuse_if_stale(fence)
                raise
            updated = RunSummary.from_dict(prior.to_dict()) if prior is not None else RunSummary(run_id=run_id)
            updated.apply(events)
            args: list[Any] = [
                expected_seq,
                prior_raw or b"",
                encode_summary(updated),
                repr(updated.created_at),
                run_id,
            ]
            args.extend(events_bytes(events))
            keys = [self._key("ev:", run_id), self._key("sum:", run_id), self._key("runs"), self._key("wake:", run_id)]
            new_summary = args[2]
            try:
                if fence is None:
                    code, length = self._append_script(keys=keys, args=args)
                else:
                    args.insert(5, str(fence.token))
                    keys.append(self._key("fence:", fence.scope))
                    code, length = self._fenced_append_script(keys=keys, args=args)
            except self._refusals as error:  # out of memory: the script wrote nothing
                raise self._refused(error) from None
            except self._redis_errors:
                # The script may or may not have run before the connection broke: find out.
                retried = True
                self._retrying(lambda: self._client.ping())
                continue
            if code == 1:
                if len(self._last_summary) >= _SUMMARY_CACHE_SIZE:
                    self._last_summary.clear()
                self._last_summary[run_id] = (updated, new_summary)
                self._remember_appended(run_id, int(length))
                return int(length)
            if code == 3:  # the fence: ``length`` is the scope's highest token
                if retried and self._landed_before(run_id, events, expected_seq, self.last_seq(run_id)):
                    return expected_seq + len(events)
                assert fence is not None
                raise StaleLeaderError(fence.scope, fence.token, int(length))
            if code == 0:
                if retried and self._landed_before(run_id, events, expected_seq, int(length)):
                    return expected_seq + len(events)
                self._check_not_lost(run_id, int(length))
                raise SequenceConflictError(run_id, expected_seq, int(length))
            # code 2: the summary moved between our read and the script; read it again

    def _remember_appended(self, run_id: str, last_seq: int) -> None:
        appended = self._appended
        appended.pop(run_id, None)
        if len(appended) >= _WRITTEN_RUNS_KEPT:
            del appended[next(iter(appended))]
        appended[run_id] = last_seq

    def _check_not_lost(self, run_id: str, stored: int) -> None:
        """RunDataLostError if the server holds fewer of ``run_id``'s events than this store appended."""
        appended = self._appended.get(run_id, 0)
        if stored >= appended:
            return
        self._last_summary.pop(run_id, None)
        self._appended.pop(run_id, None)
        if stored == 0:
            # Nothing of the run is left to find it by; drop what was written since (logs, blobs).
            self.delete_run(run_id)
        server_id = self._retrying(self._server_run_id)
        if self._server_id is not None and server_id is not None and server_id != self._server_id:
            cause = "the server restarted without persistence"
        else:
            cause = "its data was flushed or the run deleted"
        raise RunDataLostError(
            f"Redis at {self._host()} lost run {run_id}: this process had stored {appended} events of it and the"
            f" server now has {stored} ({cause}); the run cannot continue — start it again, and run Redis with"
            " appendonly yes so a restart keeps what it acknowledged",
            run_id, appended, stored)  # fmt: skip

    def _landed_before(self, run_id: str, events: Sequence[RunEvent], expected_seq: int, actual: int) -> bool:
        if not events or actual < expected_seq + len(events):
            return False
        stored = self.read_events(run_id, expected_seq, len(events))
        return [encode_event(e) for e in stored] == [encode_event(e) for e in events]

    def read_events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[RunEvent]:
        if (limit is not None and limit <= 0) or after_seq >= _MAX_SEQ:  # Redis takes no index past 64 bits
            return []
        start = max(after_seq, 0)
        stop = -1 if limit is None else min(start + limit - 1, _MAX_SEQ)
        raw = self._retrying(lambda: self._client.lrange(self._key("ev:", run_id), start, stop))
        return decode_events(run_id, raw)

    def last_seq(self, run_id: str) -> int:
        return int(self._retrying(lambda: self._client.llen(self._key("ev:", run_id))))

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> list[RunEvent]:
        """Pushed through the same pub/sub channel as :meth:`wait_for_updates` (not polled)."""
        return self.wait_for_updates(run_id, after_seq, _NO_ANNOTATIONS, timeout)[0]

    def wait_for_updates(self, run_id: str, after_seq: int, after_annotation: int,
                         timeout: float) -> tuple[list[RunEvent], list[Annotation]]:  # fmt: skip
        """Woken by Redis pub/sub: every append, annotation and log append publishes on ``P wake:RUN``
        (after a log-only append it returns ``([], [])`` early).

        It subscribes before it reads, so nothing published between the read and the wait
        is missed. A lost connection is retried like every call (``retry_seconds``), then
        raises the one-line StoreError.
        """

        def wait() -> tuple[list[RunEvent], list[Annotation]]:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._key("wake:", run_id))
                found = self._read_updates(run_id, after_seq, after_annotation)
                if found[0] or found[1]:
                    return found
                deadline = time.monotonic() + max(timeout, 0.0)
                while (left := deadline - time.monotonic()) > 0:
                    if pubsub.get_message(timeout=left) is not None:
                        break
                return self._read_updates(run_id, after_seq, after_annotation)
            finally:
                pubsub.close()

        return self._retrying(wait)

    def _read_updates(
        self, run_id: str, after_seq: int, after_annotation: int
    ) -> tuple[list[RunEvent], list[Annotation]]:
        pipe = self._client.pipeline(transaction=False)
        pipe.lrange(self._key("ev:", run_id), max(after_seq, 0), -1)
        pipe.lrange(self._key("note:", run_id), max(after_annotation, 0), -1)
        raw_events, raw_notes = pipe.execute()
        start = max(after_annotation, 0) + 1
        return (decode_events(run_id, raw_events),
                [decode_annotation(item, n) for n, item in enumerate(raw_notes, start=start)])  # fmt: skip

    # -- annotations ----------------------------------------------------------------------

    def annotate(self, run_id: str, annotation: Annotation) -> Annotation:
        check_run_id(run_id)
        raw = encode_annotation(annotation)
        keys = [self._key("sum:", run_id), self._key("note:", run_id), self._key("wake:", run_id)]
        number = int(self._retrying(lambda: self._annotate_script(keys=keys, args=[raw])))
        if number == 0:
            raise RunNotFoundError(run_id)
        return decode_annotation(raw, number)

    def read_annotations(self, run_id: str, after: int = 0) -> list[Annotation]:
        start = max(after, 0)
        raw = self._retrying(lambda: self._client.lrange(self._key("note:", run_id), start, -1))
        return [decode_annotation(item, n) for n, item in enumerate(raw, start=start + 1)]

    # -- control --------------------------------------------------------------------------

    def request_control(self, run_id: str, request: ControlRequest) -> ControlRequest:
        check_run_id(run_id)
        raw = encode_control_request(request)
        keys = [self._key("sum:", run_id), self._key("ctl:", run_id), self._key("control")]
        number = int(self._retrying(lambda: self._control_script(keys=keys, args=[raw, run_id])))
        if number == 0:
            raise RunNotFoundError(run_id)
        return decode_control_request(raw, number)

    def read_control_requests(self, run_id: str, after: int = 0) -> list[ControlRequest]:
        start = max(after, 0)
        raw = self._retrying(lambda: self._client.lrange(self._key("ctl:", run_id), start, -1))
        return [decode_control_request(item, n) for n, item in enumerate(raw, start=start + 1)]

    def wait_for_control(self, after: Mapping[str, int], timeout: float) -> dict[str, list[ControlRequest]]:
        """Woken by pub/sub: every request publishes its run id on ``P control`` (one channel for
        all runs, so one subscription watches them all). Subscribes before it reads, like
        :meth:`wait_for_updates`."""
        watched = dict(after)

        def wait() -> dict[str, list[ControlRequest]]:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._key("control"))
                found = self._read_control(watched)
                deadline = time.monotonic() + max(timeout, 0.0)
                while not found and (left := deadline - time.monotonic()) > 0:
                    message = pubsub.get_message(timeout=left)
                    if message is not None and message.get("data", b"").decode() in watched:
                        found = self._read_control(watched)
                return found
            finally:
                pubsub.close()

        return self._retrying(wait)

    def _read_control(self, after: Mapping[str, int]) -> dict[str, list[ControlRequest]]:
        runs = list(after)
        pipe = self._client.pipeline(transaction=False)
        for run_id in runs:
            pipe.lrange(self._key("ctl:", run_id), max(after[run_id], 0), -1)
        found: dict[str, list[ControlRequest]] = {}
        for run_id, raw in zip(runs, pipe.execute(), strict=True):
            if raw:
                start = max(after[run_id], 0) + 1
                found[run_id] = [decode_control_request(item, n) for n, item in enumerate(raw, start=start)]
        return found

    def renew_leases(self, leases: Sequence[RunLease]) -> None:
        if not leases:
            return

        def renew() -> None:
            pipe = self._client.pipeline(transaction=False)
            for lease in leases:
                check_run_id(lease.run_id)
                kept = max(int(lease.expires_at - time.time()), 1) + _LEASE_KEPT_SECONDS
                pipe.set(self._key("lease:", lease.run_id), encode_lease(lease), ex=kept)
            pipe.execute()

        self._retrying(renew)

    def read_lease(self, run_id: str) -> RunLease | None:
        raw = self._retrying(lambda: self._client.get(self._key("lease:", run_id)))
        return decode_lease(raw) if raw is not None else None

    # -- cached results (Redis expires them; the index drops what expired when cleared) ---

    def get_cached_result(self, workflow: str, task: str, key: str) -> CachedResult | None:
        member = _cache_member(workflow, task, key)
        raw = self._retrying(lambda: self._client.get(self._key("cache:") + member))
        if raw is None:
            return None
        entry = decode_cached_result(raw)
        return None if entry.expired() else entry  # a server whose clock runs behind ours

    def put_cached_result(self, entry: CachedResult) -> None:
        raw = encode_cached_result(entry)
        member = _cache_member(entry.workflow, entry.task, entry.key)
        expires = entry.expires_at

        def put() -> None:
            pipe = self._client.pipeline(transaction=True)
            if expires is None:
                pipe.set(self._key("cache:") + member, raw)
            else:
                pipe.set(self._key("cache:") + member, raw, px=max(int((expires - time.time()) * 1000), 1))
            pipe.zadd(self._key("caches"), {member: float("inf") if expires is None else expires})
            pipe.execute()

        self._retrying(put)

    def list_cached_results(self, workflow: str | None = None, task: str | None = None) -> list[CachedResult]:
        members = self._cache_members(workflow, task)
        if not members:
            return []
        prefix = self._key("cache:")
        raws = self._retrying(partial(self._client.mget, [prefix + member for member in members]))
        now = time.time()
        entries = [decode_cached_result(raw) for raw in raws if raw is not None]
        return [entry for entry in entries if not entry.expired(now)]

    def clear_cached_results(self, workflow: str | None = None, task: str | None = None) -> int:
        chosen = self._cache_members(workflow, task)
        index = self._key("caches")
        now = time.time()

        def clear() -> int:
            pipe = self._client.pipeline(transaction=True)
            for member in chosen:
                pipe.delete(self._key("cache:") + member)
                pipe.zrem(index, member)
            pipe.zremrangebyscore(index, "-inf", now)  # what Redis expired already: its strings are gone
            results = pipe.execute()
            return sum(int(deleted) for deleted in results[0 : 2 * len(chosen) : 2])

        return int(self._retrying(clear))

    def _cache_members(self, workflow: str | None, task: str | None) -> list[bytes]:
        """Index members of the chosen entries (expired ones included), in order."""
        for what, name in (("workflow", workflow), ("task", task)):
            if name is not None:
                check_cache_name(what, name)
        members: list[bytes] = sorted(self._retrying(partial(self._client.zrange, self._key("caches"), 0, -1)))
        chosen = []
        for member in members:
            parts = member.split(b"\x00")
            if (workflow is None or parts[0] == workflow.encode()) and (task is None or parts[1] == task.encode()):
                chosen.append(member)
        return chosen

    # -- the audit log: numbered and trimmed by the server, in one script ------------------

    def append_audit(self, record: AuditRecord) -> AuditRecord:
        """See :meth:`Store.append_audit`. A call whose connection broke after the server ran it
        is retried, so it may land twice (an audit log errs on the side of keeping)."""
        raw = encode_audit_record(record)
        keys = [self._key("audit"), self._key("auditseq")]
        args: list[bytes | int] = [raw, max(self.audit_retention, 1)]
        seq = int(self._retrying(lambda: self._append_audit_script(keys=keys, args=args)))
        return decode_audit_record(raw, seq)

    def read_audit(self, *, after: int | None = None, limit: int = 100) -> AuditPage:
        check_audit_page(after, limit)
        keys = [self._key("audit"), self._key("auditseq")]
        args: list[bytes | int] = [b"" if after is None else str(after).encode(), limit + 1]
        found = self._retrying(lambda: self._read_audit_script(keys=keys, args=args))
        top, raws = int(found[0]), found[1:]
        records = [decode_audit_record(bytes(raw), top - index) for index, raw in enumerate(raws[:limit])]
        return AuditPage(records, records[-1].seq if len(raws) > limit else None)

    # -- coordination: decided by the server, in one script each --------------------------

    def claim_key(self, key: str, value: str) -> str:
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        check_coordination_text("value", value, MAX_COORDINATION_VALUE)
        held = self._retrying(lambda: self._claim_script(keys=[self._key("rec:", key)], args=[value.encode()]))
        return self._text(held, "rec:", key)

    def read_record(self, key: str) -> str | None:
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        held = self._retrying(lambda: self._client.get(self._key("rec:", key)))
        return self._text(held, "rec:", key) if held is not None else None

    def write_record(self, key: str, value: str) -> None:
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        check_coordination_text("value", value, MAX_COORDINATION_VALUE)
        self._retrying(lambda: self._client.set(self._key("rec:", key), value.encode()))

    def acquire_lease(self, name: str, owner: str, ttl: float) -> tuple[str, float]:
        holder, expires_at, _ = self.acquire_lease_epoch(name, owner, ttl)
        return holder, expires_at

    def acquire_lease_epoch(self, name: str, owner: str, ttl: float) -> LeaseGrant:
        check_coordination_text("lease name", name, MAX_COORDINATION_KEY)
        check_coordination_text("lease owner", owner, MAX_COORDINATION_KEY)
        if "\n" in owner:
            raise StoreError(f"a lease owner is one line of text, not {owner!r}")

        def acquire() -> Any:
            now = time.time()
            kept = max(int(ttl), 1) + _LEASE_KEPT_SECONDS
            args: list[bytes | int] = [owner.encode(), repr(now).encode(), repr(now + ttl).encode(), kept]
            return self._acquire_script(keys=[self._key("nlease:", name), self._key("nepoch:", name)], args=args)

        held, epoch = self._retrying(acquire)
        holder, _, expires_at = bytes(held).decode().rpartition("\n")
        return LeaseGrant(holder, float(expires_at), int(epoch))

    def release_lease(self, name: str, owner: str) -> None:
        self._retrying(lambda: self._release_script(keys=[self._key("nlease:", name)], args=[owner.encode()]))

    # -- snapshots ------------------------------------------------------------------------

    def save_snapshot(self, state: RunState) -> None:
        check_run_id(state.run_id)
        self._retrying(lambda: self._client.set(self._key("snap:", state.run_id), dump_json(state.to_dict())))

    def load_snapshot(self, run_id: str) -> RunState | None:
        raw = self._retrying(lambda: self._client.get(self._key("snap:", run_id)))
        return decode_snapshot(raw, run_id) if raw is not None else None

    # -- runs -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunSummary:
        raw = self._retrying(lambda: self._client.get(self._key("sum:", run_id)))
        if raw is None:
            raise RunNotFoundError(run_id)
        return decode_summary(raw, run_id)

    def list_runs(self, *, workflow: str | None = None, status: RunStatus | None = None, since: float | None = None,
                  until: float | None = None, limit: int = 50, cursor: str | None = None) -> RunPage:  # fmt: skip
        if limit < 1:
            raise StoreError(f"page limit must be at least 1, got {limit}")
        after = decode_cursor(cursor) if cursor else None
        high: str = repr(after[0]) if after else "+inf"
        low: str = repr(since) if since is not None else "-inf"
        chunk = min(max(limit * 2, 64), 65536)  # Redis takes no count past 64 bits (`runs list -n 10**20`)
        offset = 0
        page: list[RunSummary] = []
        while True:
            members = self._retrying(partial(self._client.zrevrangebyscore, self._key("runs"), high, low,
                                             start=offset, num=chunk, withscores=True))  # fmt: skip
            if not members:
                return RunPage(runs=page)
            offset += len(members)
            candidates = []
            for member, score in members:
                run_id = self._text(member, "runs")
                if after is not None and (score, run_id) >= after:
                    continue
                if until is not None and score >= until:
                    continue
                candidates.append(run_id)
            if candidates:
                raws = self._retrying(partial(self._client.mget, [self._key("sum:", r) for r in candidates]))
                for run_id, raw in zip(candidates, raws, strict=True):
                    if raw is None:
                        continue
                    summary = decode_summary(raw, run_id)
                    if (workflow is not None and summary.workflow != workflow) or (
                            status is not None and summary.status is not status):  # fmt: skip
                        continue
                    if len(page) == limit:
                        return RunPage(runs=page, next_cursor=encode_cursor(page[-1]))
                    page.append(summary)
            if len(members) < chunk:
                return RunPage(runs=page)

    def delete_run(self, run_id: str) -> None:
        self._last_summary.pop(run_id, None)
        self._appended.pop(run_id, None)

        def delete() -> None:
            names = self._client.smembers(self._key("blobs:", run_id))
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(*[self._key("blob:", run_id, "/", n.decode()) for n in names], self._key("blobs:", run_id),
                        self._key("ev:", run_id), self._key("sum:", run_id), self._key("snap:", run_id),
                        self._key("log:", run_id), self._key("logbytes:", run_id),
                        self._key("note:", run_id), self._key("ctl:", run_id),
                        self._key("lease:", run_id))  # fmt: skip
            pipe.zrem(self._key("runs"), run_id)
            pipe.execute()

        self._retrying(delete)

    # -- definitions, logs, blobs ---------------------------------------------------------

    def save_definition(self, content: bytes) -> str:
        digest = definition_hash(content)
        self._retrying(lambda: self._client.set(self._key("def:", digest), bytes(content)))
        return digest

    def load_definition(self, digest: str) -> bytes:
        content = self._retrying(lambda: self._client.get(self._key("def:", digest)))
        if content is None:
            raise StoreError(f"no workflow definition {digest!r} in this store")
        return bytes(content)

    def append_logs(self, run_id: str, lines: Sequence[LogLine]) -> None:
        check_run_id(run_id)
        if not lines:
            return
        kept = int(self._retrying(lambda: self._client.get(self._key("logbytes:", run_id))) or 0)
        if kept >= self.max_log_bytes:
            return
        encoded: list[bytes] = []
        size = 0
        for line in lines:
            raw = encode_log_line(line)
            if kept + size >= self.max_log_bytes:
                note = LogLine(line.task, line.attempt, "system",
                               f"log capped at {self.max_log_bytes} bytes; later lines were dropped", line.time)  # fmt: skip
                encoded.append(encode_log_line(note))
                size = self.max_log_bytes  # keeps the cap reached for later calls
                break
            encoded.append(raw)
            size += len(raw)

        def push() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.rpush(self._key("log:", run_id), *encoded)
            pipe.incrby(self._key("logbytes:", run_id), size)
            pipe.publish(self._key("wake:", run_id), b"")  # wakes wait_for_updates (log followers)
            pipe.execute()

        self._retrying(push)

    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        raw = self._retrying(lambda: self._client.lrange(self._key("log:", run_id), 0, -1))
        lines = [decode_log_line(item) for item in raw]
        if task is not None:
            lines = [line for line in lines if line.task == task]
        return lines[after:]

    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        check_run_id(run_id)
        if not name:
            raise StoreError("a blob needs a non-empty name")

        def put() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self._key("blob:", run_id, "/", name), bytes(data))
            pipe.sadd(self._key("blobs:", run_id), name)
            pipe.execute()

        self._retrying(put)
        return f"{run_id}/{name}"

    def get_blob(self, ref: str) -> bytes:
        run_id, name = split_blob_ref(ref)
        data = self._retrying(lambda: self._client.get(self._key("blob:", run_id, "/", name)))
        if data is None:
            raise StoreError(f"no blob {ref!r} in this store (deleted with its run?)")
        return bytes(data)

    # -- beyond the interface -------------------------------------------------------------

    def compact(self) -> None:
        """Nothing to do: Redis frees memory on deletion (AOF rewrites are Redis's own job)."""

    def export_events(self, run_ids: Sequence[str] | None = None) -> tuple[list[str], bytes]:
        """Events in bulk for the analytics: ``(run ids, NDJSON of their events, run after run)``."""
        if run_ids is None:
            members = self._retrying(lambda: self._client.zrange(self._key("runs"), 0, -1))
            run_ids = [self._text(member, "runs") for member in members]
        chosen: list[str] = []
        values: list[bytes] = []
        for start in range(0, len(run_ids), 256):
            group = list(run_ids[start : start + 256])
            for run_id, chunk in zip(group, self._retrying(partial(self._fetch_event_lists, group)), strict=True):
                if chunk:
                    chosen.append(run_id)
                    values.extend(chunk)
        return chosen, b"\n".join(values)

    def _fetch_event_lists(self, run_ids: Sequence[str]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.lrange(self._key("ev:", run_id), 0, -1)
        return list(pipe.execute())

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
