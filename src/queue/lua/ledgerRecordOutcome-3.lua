--[[
  Records a slot's final outcome, counted once.

  Input:
    KEYS[1] chunk ledger
    KEYS[2] campaign outcome counts
    KEYS[3] campaign reason dictionary

    ARGV[1] slot
    ARGV[2] final state code
    ARGV[3] now, unix seconds
    ARGV[4] the platform's reason text ('' for none)

  Output:
    1 recorded, 0 the slot had a final outcome already.
]]
--- @include "includes/ledgerSlots"

return record_outcome(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
