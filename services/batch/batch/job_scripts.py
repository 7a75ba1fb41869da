"""Lua scripts of the job records: each state change and each recorded result is atomic.

KEYS of every script, in this order (`jobs.job_keys`):
    1 job hash   2 results hash   3 reasons hash   4 comparison hash   5 disagreeing-frames list
"""

# Every key lives as long as the job hash: until max_job_age_s, then retention_s once finished.
_SAME_TTL = """
local function same_ttl()
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then for k = 2, #KEYS do redis.call('PEXPIRE', KEYS[k], ttl) end end
end
local function finish(state, now_ms, retention_s)
  redis.call('HSET', KEYS[1], 'state', state, 'finished_ms', now_ms)
  for k = 1, #KEYS do redis.call('EXPIRE', KEYS[k], retention_s) end
end
"""

# ARGV: now_ms, retention_s, max_listed, then 6 per item:
#   index, stored result, '1' classified | '0' failed, label | reason, primary label, staff label
# Stores each result only if the item has none yet (HSETNX: the item index is the idempotency
# key), and counts it in the same step, so the counters are exactly the stored results: a chunk
# redone after a crash, or worked on by two consumers at once, counts nothing twice. Results for
# a job that is no longer active are dropped (a cancelled job's counts stay where they were).
# Returns {results newly stored, the job's state after}.
RECORD = (
    _SAME_TTL
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return {0, state or 'gone'} end
local replay = redis.call('HGET', KEYS[1], 'kind') == 'frames'
local new = 0
for i = 4, #ARGV, 6 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    new = new + 1
    local value, primary, staff = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
    if ARGV[i + 2] == '0' then
      redis.call('HINCRBY', KEYS[1], 'failed', 1)
      redis.call('HINCRBY', KEYS[3], value, 1)
    else
      redis.call('HINCRBY', KEYS[1], 'done', 1)
      if replay and primary == '' then
        redis.call('HINCRBY', KEYS[4], 'unclassified', 1)
      elseif replay then
        redis.call('HINCRBY', KEYS[4], 'compared', 1)
        redis.call('HINCRBY', KEYS[4], 'cm:' .. primary .. '|' .. value, 1)
        if primary == value then
          redis.call('HINCRBY', KEYS[4], 'agreed', 1)
        else
          redis.call('HINCRBY', KEYS[4], 'disagreeing', 1)
          if redis.call('LLEN', KEYS[5]) < tonumber(ARGV[3]) then
            redis.call('RPUSH', KEYS[5], cjson.decode(ARGV[i + 1])['item'])
          end
        end
      end
      if replay and primary ~= '' and staff ~= '' then
        redis.call('HINCRBY', KEYS[4], 'fb:labelled', 1)
        if staff == value then redis.call('HINCRBY', KEYS[4], 'fb:candidate', 1) end
        if staff == primary then redis.call('HINCRBY', KEYS[4], 'fb:primary', 1) end
      end
    end
  end
end
same_ttl()
local c = redis.call('HMGET', KEYS[1], 'done', 'failed', 'total')
if tonumber(c[1]) + tonumber(c[2]) >= tonumber(c[3]) then
  finish('done', ARGV[1], ARGV[2])
  state = 'done'
end
return {new, state}
"""
)

# ARGV: now_ms.  queued -> running, once; returns the state.
START = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'running', 'started_ms', ARGV[1])
  state = 'running'
end
return state or 'gone'
"""

# ARGV: now_ms, retention_s, new state ('cancelled' | 'failed'), error text.
# An active job ends; returns the state before ('gone' for an unknown job).
END = (
    _SAME_TTL
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' or state == 'running' then
  finish(ARGV[3], ARGV[1], ARGV[2])
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
end
return state or 'gone'
"""
)
