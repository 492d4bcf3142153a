--[[
  Ends a run in one call: writes its outcome with its event (save-run.lua), updates the trigger's fire
  bookkeeping (record-fire.lua), and releases the overlap marker if this job holds it (release-lock.lua).

  KEYS[1..3] as save-run.lua (run key, run history index, event stream)
  KEYS[4..5] as record-fire.lua (trigger hash, counts hash)
  KEYS[6] overlap marker
  ARGV[1..7] as save-run.lua
  ARGV[8..14] as record-fire.lua
  ARGV[15] job id whose marker to release, or "" for none

  Returns record-fire.lua's {fire_count, completed}
]]
save_run(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
if ARGV[15] ~= '' then release_lock(KEYS[6], ARGV[15]) end
return record_fire(KEYS[4], KEYS[5], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
