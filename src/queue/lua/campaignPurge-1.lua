--[[
  any -> purged, for good: the record keeps its definition and counts, marked
  purged; the redrive rounds go. A campaign purged unfinished is cancelled as
  well. Purging a purged campaign changes nothing (the first purge's time stays).

  Input:
    KEYS[1] campaign record
    ARGV[1] by
    ARGV[2] at (ISO time)
    ARGV[3] unfinished (1|0)
    ARGV[4] the state reason when unfinished

  Output:
    {TRANSITION_* code, the lifecycle it was in ('' when unknown)}
]]
--- @include "includes/campaignLifecycle"

local from = lifecycle(KEYS[1])
if from == nil then return reply(TRANSITION_UNKNOWN) end
if from == 'purged' then return reply(TRANSITION_UNCHANGED, from) end
local fields = redis.call('HKEYS', KEYS[1])
for i = 1, #fields do
  if string.sub(fields[i], 1, 6) == 'round:' then redis.call('HDEL', KEYS[1], fields[i]) end
end
redis.call('HSET', KEYS[1], 'purgedAt', ARGV[2], 'purgedBy', ARGV[1])
if ARGV[3] == '1' and from ~= 'cancelled' then set_state(KEYS[1], 'cancelled', ARGV[4], ARGV[1], ARGV[2]) end
return reply(TRANSITION_CHANGED, from)
