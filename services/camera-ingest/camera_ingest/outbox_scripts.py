"""Lua scripts of the outbox: each one changes a frame's record and its stream entry atomically."""

# KEYS: stream, frame, data, recent, idem-key|-, sha-key|-
# ARGV: id, max_depth, data, data_ttl, record_ttl, idem_ttl, sha_ttl, now_ms, use_idem, use_sha,
#       field, value, ...
ENQUEUE = """
if ARGV[9] == '1' then
  local found = redis.call('GET', KEYS[5])
  if found then return {'dup', found} end
end
if ARGV[10] == '1' then
  local found = redis.call('GET', KEYS[6])
  if found then return {'dup', found} end
end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then return {'full', ''} end
local id = ARGV[1]
if ARGV[9] == '1' and not redis.call('SET', KEYS[5], id, 'NX', 'EX', ARGV[6]) then
  return {'dup', redis.call('GET', KEYS[5])}
end
if ARGV[10] == '1' then redis.call('SET', KEYS[6], id, 'NX', 'EX', ARGV[7]) end
for i = 11, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[2], 'created_ms', ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
redis.call('XADD', KEYS[1], '*', 'frame_id', id)
redis.call('ZADD', KEYS[4], ARGV[8], id)
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -10001)
return {'new', id}
"""

# KEYS: stream, frame, data, dead, camera|-, camera status|-
# ARGV: group, message id, status, reason, now_ms
# A frame that dies (and was not dead already: an ack lost after its FINISH) is counted on its
# camera's status, while the camera exists.
FINISH = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  local before = redis.call('HGET', KEYS[2], 'status')
  redis.call('HSET', KEYS[2], 'status', ARGV[3], 'finished_ms', ARGV[5])
  if ARGV[3] == 'dead' then
    redis.call('HSET', KEYS[2], 'last_error', ARGV[4])
    redis.call('ZADD', KEYS[4], ARGV[5], redis.call('HGET', KEYS[2], 'frame_id'))
    if before ~= 'dead' and KEYS[5] ~= '-' and redis.call('EXISTS', KEYS[5]) == 1 then
      redis.call('HINCRBY', KEYS[6], 'frames_dead', 1)
      redis.call('HSET', KEYS[6], 'last_dead_reason', ARGV[4], 'last_dead_ms', ARGV[5])
    end
  else
    redis.call('DEL', KEYS[3])
  end
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
"""

# KEYS: stream, frame, dead   ARGV: frame id
REDRIVE = """
local status = redis.call('HGET', KEYS[2], 'status')
if not status then return -1 end
if status ~= 'dead' then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
local next = 'queued'
if redis.call('HEXISTS', KEYS[2], 'classification') == 1 then next = 'classified' end
redis.call('HSET', KEYS[2], 'status', next, 'attempts', 0)
redis.call('XADD', KEYS[1], '*', 'frame_id', ARGV[1])
return 1
"""

# KEYS: frame   ARGV: classification json
CLASSIFIED = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'classified', 'classification', ARGV[1])
end
return 1
"""

# KEYS: stream   ARGV: group, consumer, message id
# Refresh the entry's idle time only while we still own it: 0 when another consumer reclaimed it
# (or it was acked), so a slow worker stops instead of stealing it back and delivering twice.
HEARTBEAT = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""

# KEYS: stream, the dead consumer's liveness key   ARGV: group, dead consumer, me, count
# Take over the pending entries of a consumer whose liveness key has expired (a crashed or killed
# process), at once rather than after the reclaim idle time; forget the consumer once it holds
# nothing. Atomic, so two live replicas never both take the same entry, and a consumer that comes
# back (a stall longer than its liveness TTL) finds its entries taken: its heartbeat says so.
TAKE_OVER = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {} end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[4], ARGV[2])
local ids = {}
for _, p in ipairs(pending) do ids[#ids + 1] = p[1] end
local claimed = {}
if #ids > 0 then claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, unpack(ids)) end
if #pending < tonumber(ARGV[4]) then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return claimed
"""
