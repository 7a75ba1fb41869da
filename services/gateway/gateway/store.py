"""The gateway's Redis keyspace (the only module that imports redis). Every key is under the
prefix (`gw:` by default; db 2 under `make run` and compose):

    gw:key:{id}          the key's record (JSON: id, role, cameras, label, times, secret_hash)
    gw:secret:{sha256}   the same record, found by the hash of a presented secret (one GET)
    gw:keys              set of every key id (for the list)
    gw:rl:{bucket}       a token bucket (hash: tokens, ts); buckets `key:{id}` and `addr:{ip}`
    gw:session:{sha256}  a sign-in session, found by the hash of its cookie (sessions.py)
    gw:link:{id}         a viewer link's record (JSON: id, name, created_by, times, secret_hash)
    gw:linktoken:{sha256} the same record, found by the hash of a presented link token
    gw:links             set of every link id (for the list)

Each change of a key is one Lua script, so the two copies never disagree; revoke and rotate
compare the record's `secret_hash` first (a concurrent rotation makes them answer -1 and the
caller reads again). A key with an expiry is dropped by Redis `RETENTION_S` after it expired;
a session and a link are dropped when they expire. Links reuse the keys' INSERT and DELETE.
Availability errors become shelter-kit's `StoreUnavailable` (`translated`).
"""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.config import Limit
from gateway.keys import KeyRecord
from gateway.links import LinkRecord
from gateway.sessions import SessionRecord
from shelter_kit.store import translated

# KEYS: key, secret, index   ARGV: record json, id, drop-at ms (0: never)
INSERT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
if ARGV[3] ~= '0' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
end
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""

# KEYS: key, secret, index   ARGV: id, the secret hash the caller read
DELETE = """
local found = redis.call('GET', KEYS[1])
if not found then return 0 end
if cjson.decode(found)['secret_hash'] ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return 1
"""

# KEYS: key, old secret, new secret   ARGV: old hash, new record json, drop-at ms (0: never)
REPLACE = """
local found = redis.call('GET', KEYS[1])
if not found then return 0 end
if cjson.decode(found)['secret_hash'] ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[3], ARGV[2])
if ARGV[3] ~= '0' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
  redis.call('PEXPIREAT', KEYS[3], ARGV[3])
end
return 1
"""

# The token bucket (see ratelimit.py for why a script of our own and not `limits`).
# KEYS: bucket   ARGV: rate (tokens/s), burst, cost (1: take one; 0: only look)
# -> {1, tokens left} or {0, seconds until there is a token}; Redis's clock, so every replica
# agrees on the time. Numbers go back as strings (Redis would truncate a Lua float).
TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = burst
if saved[1] then
  tokens = math.min(burst, tonumber(saved[1]) + math.max(0, now - tonumber(saved[2])) * rate)
end
if tokens < 1 then return {0, tostring((1 - tokens) / rate)} end
if cost > 0 then
  tokens = tokens - cost
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
end
return {1, tostring(tokens)}
"""


def _ms(at: float | None) -> str:
    return "0" if at is None else str(int(at * 1000))


class GatewayStore:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self.redis = redis
        self._p = prefix
        self._insert = redis.register_script(INSERT)
        self._delete = redis.register_script(DELETE)
        self._replace = redis.register_script(REPLACE)
        self._take = redis.register_script(TAKE)

    def _key(self, key_id: str) -> str:
        return f"{self._p}key:{key_id}"

    def _secret(self, secret_hash: str) -> str:
        return f"{self._p}secret:{secret_hash}"

    @property
    def _index(self) -> str:
        return f"{self._p}keys"

    @translated
    async def insert_key(self, record: KeyRecord) -> bool:
        keys = [self._key(record.id), self._secret(record.secret_hash), self._index]
        done = await self._insert(keys, [record.to_json(), record.id, _ms(record.drop_at())])
        return bool(done)

    @translated
    async def key_by_secret(self, secret_hash: str) -> KeyRecord | None:
        raw = await self.redis.get(self._secret(secret_hash))
        return None if raw is None else KeyRecord.from_json(raw)

    @translated
    async def key(self, key_id: str) -> KeyRecord | None:
        raw = await self.redis.get(self._key(key_id))
        return None if raw is None else KeyRecord.from_json(raw)

    @translated
    async def keys(self) -> list[KeyRecord]:
        ids = sorted(i.decode() if isinstance(i, bytes) else i
                     for i in await self.redis.smembers(self._index))  # fmt: skip
        if not ids:
            return []
        found = await self.redis.mget([self._key(i) for i in ids])
        gone = [i for i, raw in zip(ids, found, strict=True) if raw is None]
        if gone:  # dropped by Redis after their retention: forget them here too
            await self.redis.srem(self._index, *gone)
        return [KeyRecord.from_json(raw) for raw in found if raw is not None]

    @translated
    async def delete_key(self, record: KeyRecord) -> int:
        keys = [self._key(record.id), self._secret(record.secret_hash), self._index]
        return int(await self._delete(keys, [record.id, record.secret_hash]))

    @translated
    async def replace_key(self, old: KeyRecord, new: KeyRecord) -> int:
        keys = [self._key(old.id), self._secret(old.secret_hash), self._secret(new.secret_hash)]
        args = [old.secret_hash, new.to_json(), _ms(new.drop_at())]
        return int(await self._replace(keys, args))

    @translated
    async def insert_session(self, token_hash: str, record: SessionRecord) -> None:
        key = f"{self._p}session:{token_hash}"
        await self.redis.set(key, record.to_json(), pxat=int(record.expires_at * 1000))

    @translated
    async def session(self, token_hash: str) -> SessionRecord | None:
        raw = await self.redis.get(f"{self._p}session:{token_hash}")
        return None if raw is None else SessionRecord.from_json(raw)

    @translated
    async def delete_session(self, token_hash: str) -> None:
        await self.redis.delete(f"{self._p}session:{token_hash}")

    def _link_keys(self, record: LinkRecord) -> list[str]:
        return [f"{self._p}link:{record.id}", f"{self._p}linktoken:{record.secret_hash}",
                f"{self._p}links"]  # fmt: skip

    @translated
    async def insert_link(self, record: LinkRecord) -> bool:
        args = [record.to_json(), record.id, _ms(record.expires_at)]
        return bool(await self._insert(self._link_keys(record), args))

    @translated
    async def link(self, link_id: str) -> LinkRecord | None:
        raw = await self.redis.get(f"{self._p}link:{link_id}")
        return None if raw is None else LinkRecord.from_json(raw)

    @translated
    async def link_by_token(self, token_hash: str) -> LinkRecord | None:
        raw = await self.redis.get(f"{self._p}linktoken:{token_hash}")
        return None if raw is None else LinkRecord.from_json(raw)

    @translated
    async def links(self) -> list[LinkRecord]:
        ids = sorted(i.decode() if isinstance(i, bytes) else i
                     for i in await self.redis.smembers(f"{self._p}links"))  # fmt: skip
        if not ids:
            return []
        found = await self.redis.mget([f"{self._p}link:{i}" for i in ids])
        gone = [i for i, raw in zip(ids, found, strict=True) if raw is None]
        if gone:  # expired: Redis dropped them
            await self.redis.srem(f"{self._p}links", *gone)
        return [LinkRecord.from_json(raw) for raw in found if raw is not None]

    @translated
    async def delete_link(self, record: LinkRecord) -> int:
        return int(await self._delete(self._link_keys(record), [record.id, record.secret_hash]))

    @translated
    async def take(self, bucket: str, limit: Limit, *, cost: int) -> tuple[bool, float]:
        """(allowed, tokens left) or (refused, seconds to wait) for one bucket."""
        allowed, value = await self._take(
            [f"{self._p}rl:{bucket}"], [repr(limit.rate), limit.burst, cost]
        )
        return bool(int(allowed)), float(value)

    @translated
    async def check(self) -> None:
        """PING; StoreUnavailable when Redis does not answer."""
        await self.redis.ping()
