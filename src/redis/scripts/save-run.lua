--[[
  Writes one run record and appends its state change to the event stream, in one call (a MULTI of the same
  commands costs the client several times as much work per fire).

  KEYS[1] run key            <prefix>:run:<run_id>     (string: the run as JSON, expiring)
  KEYS[2] run history index  <prefix>:runs:<trigger id> (zset: run id by scheduled time, capped)
  KEYS[3] event stream       <prefix>:events            (capped stream for SSE)
  ARGV[1] run JSON
  ARGV[2] retention (ms)
  ARGV[3] scheduled time (epoch ms): the run's score in the index
  ARGV[4] run id
  ARGV[5] history limit, or "" to keep the run out of the index (a canceled trigger's stray fire)
  ARGV[6] event stream max length (approximate)
  ARGV[7] user id (events are filtered by it)

  Returns the event id
]]
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'u', ARGV[7], 'd', ARGV[1])
