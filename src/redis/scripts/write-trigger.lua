--[[
  Writes a trigger definition if nobody wrote it since we read it (compare-and-set on `version`), and keeps
  the per-user and global indexes and the per-(kind, state) counts in step, in one step so that no reader
  sees one without the other.

  KEYS[1] trigger hash       <prefix>:t:<user_id>/<name>
  KEYS[2] user index zset    <prefix>:u:<user_id>        (member: name, score 0: name order)
  KEYS[3] global index zset  <prefix>:triggers           (member: trigger id, score 0)
  KEYS[4] counts hash        <prefix>:counts             (field: "<kind>:<state>", value: how many)
  KEYS[5] intents zset       <prefix>:intents            (re-planning writes in flight)
  KEYS[6] definition string  <prefix>:d:<user_id>/<name> ({"spec":…,"schedule":…})
  KEYS[7] the writer's lock  <prefix>:lock:<user_id>/<name>
  ARGV[1] expected version   "0" when the trigger must not exist yet
  ARGV[2] quota              max triggers per user (checked only on create)
  ARGV[3] name
  ARGV[4] trigger id
  ARGV[5] "1" when this write re-planned the trigger: once written, its mark in the intents set is cleared
  ARGV[6] the definition (JSON)
  ARGV[7] the writer's lock token: once written, the lock is released if it still holds it ("": left alone)
  ARGV[8..] hash field, value, field, value, ... (must include "version" and "bucket", the "<kind>:<state>")

  Returns  1 written (and the lock released)
           0 version conflict (someone else wrote first; nothing changed)
          -1 over quota (nothing changed)
]]
local current = redis.call('HGET', KEYS[1], 'version')
local expected = ARGV[1]
if expected == '0' then
  if current then return 0 end
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
elseif current ~= expected then
  return 0
end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
local before = redis.call('HGET', KEYS[1], 'bucket')
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('SET', KEYS[6], ARGV[6])
-- A trigger written before the definition had its own key held it in the hash: moved now.
if current then redis.call('HDEL', KEYS[1], 'spec', 'schedule') end
local after = redis.call('HGET', KEYS[1], 'bucket')
if before ~= after then
  if before then redis.call('HINCRBY', KEYS[4], before, -1) end
  redis.call('HINCRBY', KEYS[4], after, 1)
end
redis.call('ZADD', KEYS[2], 0, ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
if ARGV[5] == '1' then redis.call('ZREM', KEYS[5], ARGV[4]) end
if ARGV[7] ~= '' and redis.call('GET', KEYS[7]) == ARGV[7] then redis.call('DEL', KEYS[7]) end
return 1
