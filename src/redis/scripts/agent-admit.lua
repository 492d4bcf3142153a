--[[
  Admits one request to an agent under its fleet-wide flow control, or says how long to wait. Checked in
  order: a pause a 429 set (Retry-After), the circuit (open or half-open: one probe per probe interval goes
  through), the requests in flight (leases expire, so a SIGKILLed worker's lease frees itself), the rate's
  pacing. Nothing is taken unless everything admits; a fire that waits for in-flight room or an open
  circuit is listed as a waiter, woken when a request finishes (or the circuit closes).

  KEYS[1] in flight    sorted set: lease (job id) -> when the lease expires
  KEYS[2] rate pacing  hash: next -> the next free start; <lease> -> the start reserved for a waiting fire
  KEYS[3] circuit      hash: state (closed|open|half_open), failures, since, reason, probe_at, paused_until
  KEYS[4] waiters      sorted set: "<partition>|<job id>" -> when it began to wait
  ARGV[1] now (ms)
  ARGV[2] lease id (the job id; an attempt of the same job admitted again keeps one lease)
  ARGV[3] lease TTL (ms): the request's timeout and a margin
  ARGV[4] max in flight, or 0 for no limit
  ARGV[5] rate: requests per window (paced: one each window / rate), or 0 for no limit
  ARGV[6] rate window (ms)
  ARGV[7] probe interval (ms) of an open circuit, or 0 when the agent has no circuit
  ARGV[8] waiter id "<partition>|<job id>"
  ARGV[9] the longest a fire waits for in-flight room before it looks again (ms)

  Returns {1, probe (0|1)} when admitted, else {0, wait (ms), reason: paused|open|in_flight|rate}
]]
local now = tonumber(ARGV[1])
local lease = ARGV[2]
local max_in_flight = tonumber(ARGV[4])
local rate = tonumber(ARGV[5])
local window = tonumber(ARGV[6])
local probe_every = tonumber(ARGV[7])

local circuit = redis.call('HMGET', KEYS[3], 'state', 'probe_at', 'paused_until')
local paused_until = tonumber(circuit[3] or '') or 0
if paused_until > now then return {0, paused_until - now, 'paused'} end
local probe = 0
if probe_every > 0 and (circuit[1] == 'open' or circuit[1] == 'half_open') then
  local probe_at = tonumber(circuit[2] or '') or 0
  if now < probe_at then
    redis.call('ZADD', KEYS[4], 'NX', now, ARGV[8])
    return {0, probe_at - now, 'open'}
  end
  probe = 1
end

if max_in_flight > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if not redis.call('ZSCORE', KEYS[1], lease) and redis.call('ZCARD', KEYS[1]) >= max_in_flight then
    redis.call('ZADD', KEYS[4], 'NX', now, ARGV[8])
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, math.max(1, math.min(tonumber(ARGV[9]), tonumber(first[2]) - now)), 'in_flight'}
  end
end

if rate > 0 then
  -- Paced, not bursty: one request per window / rate. A fire that must wait reserves the next free start
  -- (so waiting fires do not all wake at once) and goes at it, or at once when it comes back later.
  local spacing = window / rate
  local reserved = tonumber(redis.call('HGET', KEYS[2], lease) or '')
  if reserved == nil then
    local next_free = tonumber(redis.call('HGET', KEYS[2], 'next') or '') or 0
    reserved = math.max(next_free, now)
    redis.call('HSET', KEYS[2], 'next', reserved + spacing)
    redis.call('PEXPIRE', KEYS[2], math.ceil(reserved + spacing - now + window))
    if reserved > now then
      redis.call('HSET', KEYS[2], lease, reserved)
      return {0, math.ceil(reserved - now), 'rate'}
    end
  elseif reserved > now then
    return {0, math.ceil(reserved - now), 'rate'}
  else
    redis.call('HDEL', KEYS[2], lease)
  end
end

if max_in_flight > 0 then
  local ttl = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[1], now + ttl, lease)
  redis.call('PEXPIRE', KEYS[1], ttl)
end
redis.call('ZREM', KEYS[4], ARGV[8])
if probe == 1 then
  redis.call('HSET', KEYS[3], 'state', 'half_open', 'probe_at', now + probe_every)
end
return {1, probe}
