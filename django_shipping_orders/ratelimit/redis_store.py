"""The rate budgets in Redis: each log a sorted set, changed by one Lua script, on the server's clock.

A member per request (its token), scored with the moment it stops counting
minus one window: its give-up time while in flight, its answer time after.
Every script reads the Redis server's clock (``TIME``), so the processes of
every machine agree on the window whatever their own clocks say. The two
keys of a budget share a hash tag, so they live on one node of a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Decision

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: log, state. ARGV: limit, window, flight, token.
_TAKE = (
    _NOW
    + """
local limit, window, flight = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local pause = tonumber(redis.call('HGET', KEYS[2], 'pause') or '0')
if pause > now then return {0, tostring(pause - now)} end
local slow = tonumber(redis.call('HGET', KEYS[2], 'slow') or '0')
if slow > now then limit = math.max(1, math.floor(limit / 2)) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now + flight, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((window + flight) * 1000) + 1000)
  return {1, '0'}
end
local frees = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return {0, tostring(tonumber(frees[2]) + window - now)}
"""
)
# KEYS: log. ARGV: token, late.
_FINISH = (
    _NOW
    + """
local late = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', now + late, ARGV[1])
if late > 0 then
  local ttl = redis.call('PTTL', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], math.max(ttl, math.ceil(late * 2000) + 1000))
end
return 1
"""
)
# KEYS: log, state. ARGV: window.
_COUNT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
local pause = tonumber(redis.call('HGET', KEYS[2], 'pause') or '0')
local slow = tonumber(redis.call('HGET', KEYS[2], 'slow') or '0')
return {redis.call('ZCARD', KEYS[1]), pause > now and 1 or 0, slow > now and 1 or 0}
"""
)
# KEYS: state. ARGV: pause, slow_for.
_PENALIZE = (
    _NOW
    + """
local pause, slow_for = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'pause', tostring(now + pause), 'slow', tostring(now + slow_for))
redis.call('PEXPIRE', KEYS[1], math.ceil(slow_for * 1000) + 1000)
return 1
"""
)


class RedisStore:
    """Logs as Redis sorted sets (member: token, score: when the entry stops counting - window)."""

    def __init__(self, client: Any, make_key: Callable[[str], str]) -> None:
        self._make_key = make_key
        self._take = client.register_script(_TAKE)
        self._finish = client.register_script(_FINISH)
        self._count = client.register_script(_COUNT)
        self._penalize = client.register_script(_PENALIZE)
        self._client = client

    def _keys(self, key: str) -> tuple[str, str]:
        return self._make_key(key + ":log"), self._make_key(key + ":state")

    def take(self, key: str, limit: int, window: float, flight: float, token: str) -> Decision:
        admitted, wait = self._take(keys=self._keys(key), args=[limit, window, flight, token])
        return Decision(bool(int(admitted)), float(wait))

    def finish(self, key: str, token: str, late: float = 0.0) -> None:
        self._finish(keys=[self._keys(key)[0]], args=[token, late])

    def count(self, key: str, window: float) -> tuple[int, bool, bool]:
        count, paused, slowed = self._count(keys=self._keys(key), args=[window])
        return int(count), bool(int(paused)), bool(int(slowed))

    def penalize(self, key: str, pause: float, slow_for: float, window: float) -> None:
        self._penalize(keys=[self._keys(key)[1]], args=[pause, slow_for])

    def reset(self, key: str) -> None:
        self._client.delete(*self._keys(key))
