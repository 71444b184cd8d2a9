--[[
  Marks one ledger slot in flight before its call.

  Input:
    KEYS[1] chunk ledger
    KEYS[2] campaign outcome counts
    KEYS[3] the job's BullMQ lock

    ARGV[1] slot
    ARGV[2] lock token ('' skips the lock check)
    ARGV[3] now, unix seconds
    ARGV[4] resend a slot found in flight (1|0)
    ARGV[5] the slot's call count before this mark, as the job knows it ('' unknown)

  Output:
    MARK_LOCK_LOST, MARK_GO, MARK_GO_RESEND, MARK_PARKED, or the slot's final state code (skip).
]]
--- @include "includes/ledgerSlots"

return mark_inflight(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5])
