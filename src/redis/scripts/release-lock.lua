--[[
  Deletes a lock key only if it still holds our token, so a holder whose lock expired can never release
  the lock of whoever took it next.

  KEYS[1] lock key
  ARGV[1] our token

  Returns 1 released, 0 not ours (or gone)
]]
return release_lock(KEYS[1], ARGV[1])
