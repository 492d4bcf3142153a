--[[
  Updates a trigger's fire bookkeeping when a run reaches an outcome. Touches nothing when the trigger is
  gone (canceled meanwhile) or was rescheduled since the fire was planned, so a late outcome can neither
  resurrect a deleted trigger nor complete a rescheduled one.

  KEYS[1] trigger hash
  KEYS[2] counts hash (field "<kind>:<state>"): completion moves the trigger to "<kind>:completed"
  ARGV[1] schedule version the fire belongs to
  ARGV[2] status (succeeded | failed | partial | missed | skipped_overlap), or "" to leave last_status
  ARGV[3] fire time (epoch ms) for last_fire_at, or "" to leave it
  ARGV[4] "1" to count this as a fire (fire_count + 1)
  ARGV[5] "1" to mark the trigger completed (its last fire)
  ARGV[6] now (epoch ms)
  ARGV[7] max_fires, or "" for none: reaching it completes the trigger

  Returns {fire_count, completed (0|1), failures in a row}, or {-1, 0, 0} when nothing was touched
]]
return record_fire(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
