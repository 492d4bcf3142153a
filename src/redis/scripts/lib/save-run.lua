-- Writes a run record (expiring), indexes it by scheduled time in its trigger's capped history unless
-- history_limit is '', and appends it to the capped event stream. Returns the event id.
local function save_run(run_key, index_key, events_key, json, retention, score, run_id, history_limit, events_max, user_id)
  redis.call('SET', run_key, json, 'PX', retention)
  if history_limit ~= '' then
    redis.call('ZADD', index_key, score, run_id)
    redis.call('ZREMRANGEBYRANK', index_key, 0, -(tonumber(history_limit) + 1))
    redis.call('PEXPIRE', index_key, retention)
  end
  return redis.call('XADD', events_key, 'MAXLEN', '~', events_max, '*', 'u', user_id, 'd', json)
end
