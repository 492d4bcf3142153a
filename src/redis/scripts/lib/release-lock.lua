-- Deletes a lock key only if it still holds token. Returns 1 released, 0 not ours (or gone).
local function release_lock(key, token)
  if redis.call('GET', key) == token then return redis.call('DEL', key) end
  return 0
end
