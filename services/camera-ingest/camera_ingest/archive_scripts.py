"""Lua scripts of the archive index: each one adds or removes one frame's metadata atomically."""

# KEYS: frame, all, camera zset, space zset, cameras set, bytes, camera config
# ARGV: member, size, camera id, field, value, ...
# Refused when the camera is gone (deleted while its frame was in flight: its frames go with
# it); a frame archived before (a redelivery) is counted once. Answers what retention checks
# next, so a write needs no more round trips when no limit is reached:
# {outcome, the camera's frame count, total bytes, the oldest member of all}.
ADD = """
local outcome = 'new'
if redis.call('EXISTS', KEYS[7]) == 0 then
  outcome = 'camera-gone'
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  outcome = 'again'
else
  for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
  redis.call('ZADD', KEYS[4], 0, ARGV[1])
  redis.call('SADD', KEYS[5], ARGV[3])
  redis.call('INCRBY', KEYS[6], ARGV[2])
end
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
return {outcome, redis.call('ZCARD', KEYS[3]), redis.call('GET', KEYS[6]) or '0', oldest[1] or ''}
"""

# KEYS: frame, all, camera zset, space zset, cameras set, bytes
# ARGV: member, camera id, keep_latest (1|0)
# Returns the bytes freed, -1 when the frame is not archived (any more), -2 when it is its
# camera's newest and keep_latest is set (a camera always keeps its latest frame).
EVICT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[3] == '1' then
  local newest = redis.call('ZRANGE', KEYS[3], -1, -1)
  if newest[1] == ARGV[1] then return -2 end
end
local size = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('DECRBY', KEYS[6], size)
if redis.call('ZCARD', KEYS[3]) == 0 then redis.call('SREM', KEYS[5], ARGV[2]) end
return size
"""
