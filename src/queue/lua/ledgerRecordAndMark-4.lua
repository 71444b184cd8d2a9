--[[
  What a call loop does between two recipients of one chunk, in one call:
  records the outcome of the slot just answered, then marks the next one in
  flight (after the lock check, which the record does not need: an outcome is a fact).

  Input:
    KEYS[1] chunk ledger
    KEYS[2] campaign outcome counts
    KEYS[3] the job's BullMQ lock
    KEYS[4] campaign reason dictionary

    ARGV[1] answered slot
    ARGV[2] its final state code
    ARGV[3] now, unix seconds
    ARGV[4] next slot
    ARGV[5] lock token ('' skips the lock check)
    ARGV[6] resend a slot found in flight (1|0)
    ARGV[7] the answered slot's reason text ('' for none)
    ARGV[8] the next slot's call count before this mark, as the job knows it ('' unknown)

  Output:
    {recorded 1|0, mark code as ledgerMarkInflight}
]]
--- @include "includes/ledgerSlots"

local now = tonumber(ARGV[3])
local recorded = record_outcome(KEYS[1], KEYS[2], KEYS[4], tonumber(ARGV[1]), tonumber(ARGV[2]), now, ARGV[7])
return {recorded, mark_inflight(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[4]), ARGV[5], now, ARGV[6], ARGV[8])}
