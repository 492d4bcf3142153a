-- Takes a trigger's overlap marker for job_id (or finds it already ours). Returns nil when taken, else the
-- job id holding it, for the caller to check whether that job is still in progress.
local function take_marker(key, job_id, ttl)
  if redis.call('SET', key, job_id, 'PX', ttl, 'NX') then return nil end
  local holder = redis.call('GET', key)
  if holder and holder ~= job_id then return holder end
  if not holder then redis.call('SET', key, job_id, 'PX', ttl) end
  return nil
end
