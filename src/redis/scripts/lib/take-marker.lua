-- Takes a trigger's overlap marker for job_id (or finds it already ours, or handed over to us by the previous
-- step of a catch-up chain: 'next|<job id>', or 'next|<job id>#<worker name>' naming the worker that handed
-- it over). Returns nil when taken, else the value holding it, for the caller to check whether that run is
-- still alive. Taking it sets the full TTL.
local function take_marker(key, job_id, ttl)
  if redis.call('SET', key, job_id, 'PX', ttl, 'NX') then return nil end
  local holder = redis.call('GET', key)
  if holder and holder ~= job_id then
    local handed = 'next|' .. job_id
    if holder ~= handed and string.sub(holder, 1, #handed + 1) ~= handed .. '#' then return holder end
  end
  if holder ~= job_id then redis.call('SET', key, job_id, 'PX', ttl) end
  return nil
end
