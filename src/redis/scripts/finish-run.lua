--[[
  Ends a run in one call: writes its outcome with its event (save-run.lua), updates the trigger's fire
  bookkeeping (record-fire.lua), and releases the overlap marker if this job holds it (release-lock.lua),
  or hands it to the next step of its catch-up chain, so that no other run of the trigger can take it in
  between: the marker then reads 'next|<job id>#<worker name>' for a short TTL, until that job (added right
  after this call) takes it. If it never comes, the wait ends when the worker named there is seen gone
  (overlap.ts), or at the latest with the TTL.

  KEYS[1..3] as save-run.lua (run key, run history index, event stream)
  KEYS[4..5] as record-fire.lua (trigger hash, counts hash)
  KEYS[6] overlap marker
  ARGV[1..7] as save-run.lua
  ARGV[8..14] as record-fire.lua
  ARGV[15] job id whose marker to release, or "" for none
  ARGV[16] job id to hand the marker to instead ('<job id>#<worker name>' naming this worker), or "" to
          release it
  ARGV[17] how long a handed-over marker waits for that job (ms)

  Returns record-fire.lua's {fire_count, completed, failures in a row}
]]
save_run(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
if ARGV[15] ~= '' then
  if ARGV[16] == '' then
    release_lock(KEYS[6], ARGV[15])
  elseif redis.call('GET', KEYS[6]) == ARGV[15] then
    redis.call('SET', KEYS[6], 'next|' .. ARGV[16], 'PX', ARGV[17])
  end
end
return record_fire(KEYS[4], KEYS[5], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
