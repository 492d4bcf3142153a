--[[
  Deletes a lock key only if it still holds our token, so a holder whose lock expired can never release
  the lock of whoever took it next.

  KEYS[1] lock key
  ARGV[1] our token

  Returns 1 released, 0 not ours (or gone)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
