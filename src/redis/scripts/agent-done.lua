--[[
  Ends one admitted request to an agent: frees its lease, counts the attempt in the agent's circuit, pauses
  the agent after a 429's Retry-After, and hands back fires to wake (a waiter for the freed room, or every
  waiter when the circuit closes).

  KEYS[1..4] as agent-admit.lua (in flight, rate window, circuit, waiters)
  ARGV[1] now (ms)
  ARGV[2] lease id
  ARGV[3] result: ok | fail (a failed attempt the agent is to blame for) | neutral (counts for nothing)
  ARGV[4] failures in a row that open the circuit, or 0 when the agent has no circuit
  ARGV[5] probe interval (ms)
  ARGV[6] the failure, for the circuit's reason
  ARGV[7] pause the agent until (ms; a 429's Retry-After), or 0
  ARGV[8] how many waiters to wake for the freed room (1 with max_in_flight, else 0)

  Returns {transition ("" | "open" | "closed"), waiter ids to wake...}
]]
local now = tonumber(ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[2])
local transition = ''
local threshold = tonumber(ARGV[4])
local wake = tonumber(ARGV[8])
if threshold > 0 then
  local state = redis.call('HGET', KEYS[3], 'state') or 'closed'
  if ARGV[3] == 'ok' then
    if state ~= 'closed' then
      redis.call('HSET', KEYS[3], 'state', 'closed', 'since', now, 'reason', '', 'failures', 0)
      transition = 'closed'
      wake = 1000
    else
      redis.call('HSET', KEYS[3], 'failures', 0)
    end
  elseif ARGV[3] == 'fail' then
    local failures = redis.call('HINCRBY', KEYS[3], 'failures', 1)
    if state == 'half_open' or (state == 'closed' and failures >= threshold) then
      -- A failed probe opens it again; in the closed state the threshold does.
      redis.call('HSET', KEYS[3], 'state', 'open', 'reason', ARGV[6], 'probe_at', now + tonumber(ARGV[5]))
      if state == 'closed' then
        redis.call('HSET', KEYS[3], 'since', now)
        transition = 'open'
      end
    end
  end
end
local pause_until = tonumber(ARGV[7])
if pause_until > now then
  local paused = tonumber(redis.call('HGET', KEYS[3], 'paused_until') or '') or 0
  if pause_until > paused then
    redis.call('HSET', KEYS[3], 'paused_until', pause_until, 'pause_reason', ARGV[6])
  end
end
local out = {transition}
if wake > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[4], wake)
  for i = 1, #popped, 2 do out[#out + 1] = popped[i] end
end
return out
