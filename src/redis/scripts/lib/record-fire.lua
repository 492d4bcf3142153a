-- Updates a trigger's fire bookkeeping when a run reaches an outcome (see record-fire.lua for the
-- arguments). Returns {fire_count, completed (0|1)}, or {-1, 0} when the trigger is gone or rescheduled.
local function record_fire(trigger_key, counts_key, sv, status, fired_at, count_it, done_it, now, max_fires)
  if redis.call('EXISTS', trigger_key) == 0 then return {-1, 0} end
  if redis.call('HGET', trigger_key, 'sv') ~= sv then return {-1, 0} end
  local count = tonumber(redis.call('HGET', trigger_key, 'fire_count') or '0')
  if count_it == '1' then count = redis.call('HINCRBY', trigger_key, 'fire_count', 1) end
  if status ~= '' then redis.call('HSET', trigger_key, 'last_status', status) end
  if fired_at ~= '' then redis.call('HSET', trigger_key, 'last_fire_at', fired_at) end
  local done = done_it == '1' or (max_fires ~= '' and count >= tonumber(max_fires))
  local completed = 0
  if done and (redis.call('HGET', trigger_key, 'completed_at') or '') == '' then
    redis.call('HSET', trigger_key, 'completed_at', now)
    completed = 1
    local bucket = redis.call('HGET', trigger_key, 'bucket')
    if bucket then
      local moved = string.match(bucket, '^[^:]+') .. ':completed'
      if moved ~= bucket then
        redis.call('HINCRBY', counts_key, bucket, -1)
        redis.call('HINCRBY', counts_key, moved, 1)
        redis.call('HSET', trigger_key, 'bucket', moved)
      end
    end
  end
  return {count, completed}
end
