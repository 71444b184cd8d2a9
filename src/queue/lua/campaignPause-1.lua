--[[
  active -> paused. Pausing a paused campaign changes nothing (the first
  pause's reason stays); a cancelled or purged one is refused.

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
if from == 'paused' then return reply(TRANSITION_UNCHANGED, from) end
if from ~= 'active' then return reply(TRANSITION_REFUSED, from) end
set_state(KEYS[1], 'paused', ARGV[1], ARGV[2], ARGV[3])
return reply(TRANSITION_CHANGED, from)
