-- Takes a trigger's overlap marker for job_id (or finds it already ours, or handed over to us by the previous
-- step of a catch-up chain: 'next|<job id>'). Returns nil when taken, else the value holding it, for the
-- caller to check whether that job is still in progress. Taking it sets the full TTL.
local function take_marker(key, job_id, ttl)
  if redis.call('SET', key, job_id, 'PX', ttl, 'NX') then return nil end
  local holder = redis.call('GET', key)
  if holder and holder ~= job_id and holder ~= 'next|' .. job_id then return holder end
  if holder ~= job_id then redis.call('SET', key, job_id, 'PX', ttl) end
  return nil
end
