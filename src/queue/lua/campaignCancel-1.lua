--[[
  active or paused -> cancelled, for good. Cancelling a cancelled campaign
  changes nothing (its reason stays); a purged one is refused.

  Input:
    KEYS[1] campaign record
    ARGV[1] reason
    ARGV[2] by
    ARGV[3] at (ISO time)

  Output:
    {TRANSITION_* code, the lifecycle it was in ('' when unknown)}
]]
--- @include "includes/campaignLifecycle"

local from = lifecycle(KEYS[1])
if from == nil then return reply(TRANSITION_UNKNOWN) end
if from == 'cancelled' then return reply(TRANSITION_UNCHANGED, from) end
if from == 'purged' then return reply(TRANSITION_REFUSED, from) end
set_state(KEYS[1], 'cancelled', ARGV[1], ARGV[2], ARGV[3])
return reply(TRANSITION_CHANGED, from)
