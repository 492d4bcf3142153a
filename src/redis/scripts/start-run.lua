--[[
  Starts delivering a slot in one call: takes the trigger's overlap marker (overlap: skip) for this job,
  then writes the run as `running` with its event. When another job holds the marker nothing is written
  and the holder is returned, for the caller to check whether that job is still in progress.

  KEYS[1] overlap marker     <prefix>:running:<trigger id>
  KEYS[2..4] as save-run.lua (run key, run history index, event stream)
  ARGV[1] job id taking the marker, or "" when the trigger allows overlap (no marker)
  ARGV[2] marker TTL (ms)
  ARGV[3..9] as save-run.lua ARGV[1..7]

  Returns "" when started, else the job id holding the marker
]]
if ARGV[1] ~= '' then
  local holder = take_marker(KEYS[1], ARGV[1], ARGV[2])
  if holder then return holder end
end
save_run(KEYS[2], KEYS[3], KEYS[4], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
return ''
