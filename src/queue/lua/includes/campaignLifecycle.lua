--[[
  A campaign record (one hash, see src/queue/campaign-record.ts): where it is
  in its life, and the one way its state fields are written.
]]

-- nil (no such campaign), 'purged', or the stored state ('active' when none is stored).
local function lifecycle(key)
  local f = redis.call('HMGET', key, 'definition', 'state', 'purgedAt')
  if not f[1] then return nil end
  if f[3] then return 'purged' end
  return f[2] or 'active'
end

local function set_state(key, state, reason, by, at)
  redis.call('HSET', key, 'state', state, 'stateReason', reason, 'stateBy', by, 'stateAt', at)
end

-- The reply of a transition: its code and where the campaign was.
local function reply(code, from)
  return {code, from or ''}
end
