-- Updates a trigger's fire bookkeeping when a run reaches an outcome (see record-fire.lua for the
-- arguments), reading with one HMGET and writing with one HSET. Returns {fire_count, completed (0|1),
-- failures in a row}, or {-1, 0, 0} when the trigger is gone or rescheduled. A failed outcome adds one to
-- the failures in a row, a success resets them.
local function record_fire(trigger_key, counts_key, sv, status, fired_at, count_it, done_it, now, max_fires)
  local current = redis.call('HMGET', trigger_key, 'sv', 'fire_count', 'completed_at', 'bucket', 'failures')
  if current[1] ~= sv then return {-1, 0, 0} end -- gone (false) or rescheduled
  local count = tonumber(current[2] or '0')
  local fields = {}
  if count_it == '1' then
    count = count + 1
    fields[#fields + 1] = 'fire_count'
    fields[#fields + 1] = count
  end
  local failures = tonumber(current[5] or '0')
  if status ~= '' then
    fields[#fields + 1] = 'last_status'
    fields[#fields + 1] = status
    if status == 'failed' or (status == 'succeeded' and failures > 0) then
      failures = status == 'failed' and failures + 1 or 0
      fields[#fields + 1] = 'failures'
      fields[#fields + 1] = failures
    end
  end
  if fired_at ~= '' then
    fields[#fields + 1] = 'last_fire_at'
    fields[#fields + 1] = fired_at
  end
  local done = done_it == '1' or (max_fires ~= '' and count >= tonumber(max_fires))
  local completed = 0
  if done and (current[3] or '') == '' then
    completed = 1
    fields[#fields + 1] = 'completed_at'
    fields[#fields + 1] = now
    local bucket = current[4]
    if bucket then
      local moved = string.match(bucket, '^[^:]+') .. ':completed'
      if moved ~= bucket then
        redis.call('HINCRBY', counts_key, bucket, -1)
        redis.call('HINCRBY', counts_key, moved, 1)
        fields[#fields + 1] = 'bucket'
        fields[#fields + 1] = moved
      end
    end
  end
  if #fields > 0 then redis.call('HSET', trigger_key, unpack(fields)) end
  return {count, completed, failures}
end
