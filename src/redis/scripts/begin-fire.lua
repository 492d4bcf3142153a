--[[
  A fire's first attempt in one call: reads the trigger and, when nothing stands in the way, takes the
  overlap marker and writes the run as `running` (as start-run.lua). Anything the worker must decide
  itself (the trigger gone, rescheduled, paused, completed, past end_at or max_fires, the slot late, the
  marker held by another job) writes nothing and leaves the decision to the caller, with the trigger read.
  Every check here is one the worker makes too: this script only ever says "clear" where it would.

  The slot's run record as it was is returned too. A pickup that finds it is a takeover: an earlier pickup
  of the same job started the slot and its worker died. A takeover is never judged late (the slot was
  picked up in time), and a run that already reached an outcome is never started again (its worker died
  after recording it, before BullMQ marked the job done).

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

  Returns {1, hash, definition, run} when started, {0, hash, definition, run} when the worker decides (as
  HGETALL and GET return them; the definition is "" when absent: gone, or still in the hash of an older
  trigger; run is the slot's run record as it was before this call, "" when there was none)
]]
local hash = redis.call('HGETALL', KEYS[1])
local definition = redis.call('GET', KEYS[2]) or ''
local existing = redis.call('GET', KEYS[4]) or ''
if definition == '' then return {0, hash, definition, existing} end
if existing ~= '' then
  local status = cjson.decode(existing).status
  if status ~= 'running' and status ~= 'retrying' and status ~= 'waiting' then return {0, hash, definition, existing} end
end
local fields = {}
for i = 1, #hash, 2 do fields[hash[i]] = hash[i + 1] end
local spec = cjson.decode(definition).spec
local manual = ARGV[1] == ''
if not manual then
  local slot = tonumber(ARGV[4])
  local end_at = spec.schedule and spec.schedule.endAtMs
  local decide = {0, hash, definition, existing}
  if fields.sv ~= ARGV[1] or (fields.completed_at or '') ~= '' or spec.enabled ~= true then return decide end
  if type(end_at) == 'number' and slot > end_at then return decide end
  if type(spec.maxFires) == 'number' and tonumber(fields.fire_count or '0') >= spec.maxFires then return decide end
  if ARGV[6] == '1' and existing == '' and tonumber(ARGV[5]) - slot > tonumber(spec.misfireGraceMs) then return decide end
  if spec.overlap == 'skip' and take_marker(KEYS[3], ARGV[2], ARGV[3]) then return decide end
end
save_run(KEYS[4], KEYS[5], KEYS[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13])
return {1, hash, definition, existing}
