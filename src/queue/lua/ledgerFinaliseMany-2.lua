--[[
  Finalises every slot of a chunk that is in one of the given states (e.g. pending -> cancelled).

  Input:
    KEYS[1] chunk ledger
    KEYS[2] campaign outcome counts

    ARGV[1] slots in the chunk
    ARGV[2] target final state code
    ARGV[3] now, unix seconds
    ARGV[4..] the state codes to replace

  Output:
    how many slots changed
]]
--- @include "includes/ledgerSlots"

local n = tonumber(ARGV[1])
local code = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local from = {}
for i = 4, #ARGV do from[tonumber(ARGV[i])] = true end
local changed = 0
for slot = 0, n - 1 do
  local off = slot * RECORD_BYTES
  local state, calls = state_of(KEYS[1], off)
  if from[state] then
    redis.call('SETRANGE', KEYS[1], off, record(code, calls, now))
    changed = changed + 1
  end
end
if changed > 0 then redis.call('HINCRBY', KEYS[2], OUTCOME_NAMES[code], changed) end
return changed
