--[[
  Deletes a trigger definition and its index entries if its version is still the one we read.

  KEYS[1] trigger hash
  KEYS[2] user index zset
  KEYS[3] global index zset
  KEYS[4] the trigger's "running" marker (overlap lock)
  KEYS[5] the trigger's run history index (its run records stay findable by id until they expire)
  KEYS[6] counts hash (field "<kind>:<state>")
  KEYS[7] definition string
  ARGV[1] expected version
  ARGV[2] name
  ARGV[3] trigger id

  Returns 1 deleted, 0 version conflict or already gone
]]
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
local bucket = redis.call('HGET', KEYS[1], 'bucket')
if bucket then redis.call('HINCRBY', KEYS[6], bucket, -1) end
redis.call('DEL', KEYS[1], KEYS[4], KEYS[5], KEYS[7])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[3])
return 1
