"""Lua scripts of the deployment store: each state change is one atomic script."""

# KEYS: deployment, history   ARGV: expected generation, new state json, history entry json,
#                                   history length kept
# The change applies only when the stored generation is still the one the change was made from
# (a missing key is generation 0), so two replicas changing at once cannot both win.
CHANGE = """
local current = 0
local raw = redis.call('GET', KEYS[1])
if raw then current = cjson.decode(raw)['generation'] end
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
return 1
"""

# KEYS: prediction, feedback, version totals, rollout stats
# ARGV: label, correct (0|1), rewarded (0|1), ttl seconds, then field, value pairs of the record
# Returns {status, stored label}: 'gone' (the prediction expired meanwhile), 'same', 'conflict'
# or 'new' (recorded; the totals and, when rewarded, the bandit's counts incremented).
FEEDBACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone', ''} end
local stored = redis.call('HGET', KEYS[2], 'label')
if stored then
  if stored == ARGV[1] then return {'same', stored} end
  return {'conflict', stored}
end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HINCRBY', KEYS[3], 'n', 1)
redis.call('HINCRBY', KEYS[3], 'ok', ARGV[2])
if ARGV[3] == '1' then
  redis.call('HINCRBY', KEYS[4], 'fb', 1)
  redis.call('HINCRBY', KEYS[4], 'fb_ok', ARGV[2])
end
return {'new', ARGV[1]}
"""
