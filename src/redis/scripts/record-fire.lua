--[[
  Updates a trigger's fire bookkeeping when a run reaches an outcome. Touches nothing when the trigger is
  gone (canceled meanwhile) or was rescheduled since the fire was planned, so a late outcome can neither
  resurrect a deleted trigger nor complete a rescheduled one.

  KEYS[1] trigger hash
  KEYS[2] counts hash (field "<kind>:<state>"): completion moves the trigger to "<kind>:completed"
  ARGV[1] schedule version the fire belongs to
  ARGV[2] status (succeeded | failed | missed | skipped_overlap), or "" to leave last_status
  ARGV[3] fire time (epoch ms) for last_fire_at, or "" to leave it
  ARGV[4] "1" to count this as a fire (fire_count + 1)
  ARGV[5] "1" to mark the trigger completed (its last fire)
  ARGV[6] now (epoch ms)
  ARGV[7] max_fires, or "" for none: reaching it completes the trigger

  Returns {fire_count, completed (0|1)}, or {-1, 0} when nothing was touched
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
if redis.call('HGET', KEYS[1], 'sv') ~= ARGV[1] then return {-1, 0} end
local count = tonumber(redis.call('HGET', KEYS[1], 'fire_count') or '0')
if ARGV[4] == '1' then count = redis.call('HINCRBY', KEYS[1], 'fire_count', 1) end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'last_status', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'last_fire_at', ARGV[3]) end
local done = ARGV[5] == '1' or (ARGV[7] ~= '' and count >= tonumber(ARGV[7]))
local completed = 0
if done and (redis.call('HGET', KEYS[1], 'completed_at') or '') == '' then
  redis.call('HSET', KEYS[1], 'completed_at', ARGV[6])
  completed = 1
  local bucket = redis.call('HGET', KEYS[1], 'bucket')
  if bucket then
    local moved = string.match(bucket, '^[^:]+') .. ':completed'
    if moved ~= bucket then
      redis.call('HINCRBY', KEYS[2], bucket, -1)
      redis.call('HINCRBY', KEYS[2], moved, 1)
      redis.call('HSET', KEYS[1], 'bucket', moved)
    end
  end
end
return {count, completed}
