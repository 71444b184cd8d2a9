--[[
  An in-flight slot whose call surely did not land goes back to pending; when
  no call was made at all (a stop during the rate wait), the call its mark
  counted is taken back.

  Input:
    KEYS[1] chunk ledger

    ARGV[1] slot
    ARGV[2] a call was made (1|0)
    ARGV[3] only when the slot's call count is this ('' or absent: any)

  Output:
    1 released, 0 the slot was not in flight
]]
--- @include "includes/ledgerSlots"

local off = tonumber(ARGV[1]) * RECORD_BYTES
local state, calls = state_of(KEYS[1], off)
if state ~= STATE_INFLIGHT then return 0 end
if ARGV[3] and ARGV[3] ~= '' and calls ~= tonumber(ARGV[3]) then return 0 end
if ARGV[2] == '0' and calls > 0 then calls = calls - 1 end
redis.call('SETRANGE', KEYS[1], off, pending_record(calls))
return 1
