--[[
  A fire's first attempt in one call: reads the trigger and, when nothing stands in the way, takes the
  overlap marker and writes the run as `running` (as start-run.lua). Anything the worker must decide
  itself (the trigger gone, rescheduled, paused, completed, past end_at or max_fires, the slot late, the
  marker held by another job) writes nothing and leaves the decision to the caller, with the trigger read.
  Every check here is one the worker makes too: this script only ever says "clear" where it would.

  KEYS[1] trigger hash       <prefix>:t:<trigger id>
  KEYS[2] definition string  <prefix>:d:<trigger id>
  KEYS[3] overlap marker     <prefix>:running:<trigger id>
  KEYS[4..6] as save-run.lua (run key, run history index, event stream)
  ARGV[1] the job's schedule version, or "" for a manual run (delivered whatever the trigger's state)
  ARGV[2] job id (the marker's holder when the trigger has overlap: skip)
  ARGV[3] marker TTL (ms)
  ARGV[4] the slot (epoch ms)
  ARGV[5] now (epoch ms)
  ARGV[6] "1" when a slot picked up later than misfire_grace must go to the worker's missed policy
  ARGV[7..13] as save-run.lua ARGV[1..7]

  Returns {1, hash, definition} when started, {0, hash, definition} when the worker decides (as HGETALL
  and GET return them; the definition is "" when absent: gone, or still in the hash of an older trigger)
]]
local hash = redis.call('HGETALL', KEYS[1])
local definition = redis.call('GET', KEYS[2]) or ''
if definition == '' then return {0, hash, definition} end
local fields = {}
for i = 1, #hash, 2 do fields[hash[i]] = hash[i + 1] end
local spec = cjson.decode(definition).spec
local manual = ARGV[1] == ''
if not manual then
  local slot = tonumber(ARGV[4])
  local end_at = spec.schedule and spec.schedule.endAtMs
  if fields.sv ~= ARGV[1] or (fields.completed_at or '') ~= '' or spec.enabled ~= true then return {0, hash, definition} end
  if type(end_at) == 'number' and slot > end_at then return {0, hash, definition} end
  if type(spec.maxFires) == 'number' and tonumber(fields.fire_count or '0') >= spec.maxFires then return {0, hash, definition} end
  if ARGV[6] == '1' and tonumber(ARGV[5]) - slot > tonumber(spec.misfireGraceMs) then return {0, hash, definition} end
  if spec.overlap == 'skip' and take_marker(KEYS[3], ARGV[2], ARGV[3]) then return {0, hash, definition} end
end
save_run(KEYS[4], KEYS[5], KEYS[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13])
return {1, hash, definition}
