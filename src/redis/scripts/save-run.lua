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
return save_run(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
