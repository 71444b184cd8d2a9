--[[
  Puts slots in a given final state back to pending (a dead-letter redrive).

  Input:
    KEYS[1] chunk ledger
    KEYS[2] campaign outcome counts

    ARGV[1] the final state code to reopen
    ARGV[2..] slots

  Output:
    how many slots changed
]]
--- @include "includes/ledgerSlots"

local from = tonumber(ARGV[1])
local changed = 0
for i = 2, #ARGV do
  local off = tonumber(ARGV[i]) * RECORD_BYTES
  local state, calls = state_of(KEYS[1], off)
  if state == from then
    redis.call('SETRANGE', KEYS[1], off, pending_record(calls))
    changed = changed + 1
  end
end
if changed > 0 then redis.call('HINCRBY', KEYS[2], OUTCOME_NAMES[from], -changed) end
return changed
