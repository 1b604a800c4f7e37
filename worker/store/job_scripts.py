"""Lua scripts behind JobStore's atomic steps (key names come in as KEYS, never spelled here).

Every script that changes a job's status also moves the job between the per-status indexes and
appends the "status" event to the job's stream in the same atomic step, so a reader of the event
stream can never see a status the record does not have, and cancel/start/finish cannot interleave.

KEYS layout shared by the status scripts:
  1 job hash, 2 event stream, 3 lease, then one status index per entry of STATUSES, in order
"""

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

FIRST_STATUS_KEY = 4  # KEYS position of the first status index (JobStore passes them in order)
# Lua: status name -> its index key, e.g. {queued = KEYS[4], running = KEYS[5], ...}
_STATUS_KEY_TABLE = "{" + ", ".join(
    f"{status} = KEYS[{FIRST_STATUS_KEY + position}]" for position, status in enumerate(STATUSES)) + "}"

_MOVE_STATUS = f"local STATUS_KEY = {_STATUS_KEY_TABLE}\n" + """
local function move_status(old, new)
  local id = redis.call('HGET', KEYS[1], 'id')
  local score = redis.call('HGET', KEYS[1], 'order')
  redis.call('HSET', KEYS[1], 'status', new)
  if old ~= new then
    redis.call('ZREM', STATUS_KEY[old], id)
    redis.call('ZADD', STATUS_KEY[new], score, id)
  end
end
local function publish(maxlen, name, data)
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', 'event', name, 'data', data)
end
"""

# Create a `queued` job, refusing it when its owner already has `max_active` queued or running
# jobs: the count and the creation are one step, so simultaneous submissions cannot all pass.
# KEYS: 1 job hash, 2 event stream, 3 all-jobs index, 4 queued index, 5 running index,
#       6 owner index ('' owner: not indexed, not limited), 7 creation counter.
# ARGV: max active (0 = no limit), stream maxlen, event data JSON, job id, owner, then the
#       record's field/value pairs. Returns {'ok', order} or {'limited', active count}.
CREATE = """
if ARGV[5] ~= '' and tonumber(ARGV[1]) > 0 then
  local active = redis.call('ZINTERCARD', 2, KEYS[6], KEYS[4])
               + redis.call('ZINTERCARD', 2, KEYS[6], KEYS[5])
  if active >= tonumber(ARGV[1]) then return {'limited', active} end
end
-- Index scores come from a counter, not the clock: creation order even within a millisecond.
local order = redis.call('INCR', KEYS[7])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'order', order, unpack(fields))
redis.call('ZADD', KEYS[3], order, ARGV[4])
redis.call('ZADD', KEYS[4], order, ARGV[4])
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[6], order, ARGV[4]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', 'status', 'data', ARGV[3])
return {'ok', order}
"""

# ARGV: allowed-from statuses (space separated), new status, stream maxlen, event data JSON,
#       lease token ('' = do not check), then field/value pairs; a field written as '?name' is
#       only set when the job does not have it yet (started_at survives a resume).
# A transition made under a lease token needs that lease alive and ours: a lapsed lease means the
# sweeper may have requeued the job for another attempt, so its old worker must not end it.
TRANSITION = _MOVE_STATUS + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', ''} end
if not string.find(' ' .. ARGV[1] .. ' ', ' ' .. status .. ' ', 1, true) then
  return {'refused', status}
end
if ARGV[5] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[5] then return {'lease_lost', status} end
for i = 6, #ARGV, 2 do
  local field = ARGV[i]
  if string.sub(field, 1, 1) == '?' then
    redis.call('HSETNX', KEYS[1], string.sub(field, 2), ARGV[i + 1])
  else
    redis.call('HSET', KEYS[1], field, ARGV[i + 1])
  end
end
if ARGV[2] == 'running' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
move_status(status, ARGV[2])
publish(ARGV[3], 'status', ARGV[4])
return {'ok', status}
"""

# ARGV: stream maxlen, event data JSON for the queued case, finished_at.
CANCEL = _MOVE_STATUS + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', ''} end
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'cancel_requested', '1', 'finished_at', ARGV[3])
  move_status(status, 'cancelled')
  publish(ARGV[1], 'status', ARGV[2])
  return {'ok', 'cancelled'}
end
if status == 'running' then
  redis.call('HSET', KEYS[1], 'cancel_requested', '1')
  return {'ok', 'running'}
end
return {'refused', status}
"""

# A running job whose lease expired has lost its worker: put it back in the queue.
# ARGV: stream maxlen, event data JSON.
REQUEUE_ORPHAN = _MOVE_STATUS + """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
move_status('running', 'queued')
publish(ARGV[1], 'status', ARGV[2])
return 1
"""

# Stop and keep: a running job is flagged; its worker ends it after the current batch and saves
# the model. A queued job has nothing to keep (refused: cancel it). KEYS: 1 job hash.
STOP = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', ''} end
if status ~= 'running' then return {'refused', status} end
redis.call('HSET', KEYS[1], 'stop_requested', '1')
return {'ok', status}
"""

# Progress and metrics writes from the worker holding the lease; a worker that lost its lease
# (or a job no longer running) writes nothing. Returns what the user asked for meanwhile, so the
# caller learns it free: 1 cancel (which wins), 2 stop and keep, 0 nothing, -1 not written.
# KEYS: 1 job hash, 2 event stream, 3 lease, 4 metrics list.
# ARGV: lease token, stream maxlen, event name, event data JSON, progress JSON or '', metric JSON or ''.
RECORD_PROGRESS = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return -1 end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[1] then return -1 end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'progress', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('RPUSH', KEYS[4], ARGV[6]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[3], 'data', ARGV[4])
if redis.call('HGET', KEYS[1], 'cancel_requested') == '1' then return 1 end
if redis.call('HGET', KEYS[1], 'stop_requested') == '1' then return 2 end
return 0
"""

# Replace a job's metrics with a whole history. KEYS: 1 job hash, 2 lease, 3 metrics list.
# ARGV: lease token ('' = do not check), then the entries' JSON. Under a token only a `running`
# job whose lease is ours is written (a worker that lost the job must not overwrite the metrics
# of the attempt that resumed it). Returns 1 written, 0 refused.
REPLACE_METRICS = """
if ARGV[1] ~= '' then
  if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
  if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
end
redis.call('DEL', KEYS[3])
for first = 2, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[3], unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
return 1
"""

# KEYS: lease, job hash. ARGV: token, ttl ms. Renews our lease, or takes it back if it expired
# unclaimed (e.g. Redis was down longer than the lease) while the job is still `running`. Once the
# sweeper has requeued it, the next worker to start it owns it. 0: stop, the job is not ours.
RENEW_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder and redis.call('HGET', KEYS[2], 'status') == 'running' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease. ARGV: token. Deletes the lease only if we still hold it.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
