--[[
  Ledger slot helpers: one 8-byte record per recipient slot in a chunk's string,
  state (1) | calls made (1) | reason id (2, big-endian) | unix seconds (4, big-endian).
  Outcome counts live in a hash by outcome name; reason texts in a per-campaign dictionary.
]]

-- The state code and call count of the slot at byte offset `off` (pending, 0 calls when never written).
local function state_of(key, off)
  local b = redis.call('GETRANGE', key, off, off)
  if b == '' then return STATE_PENDING, 0 end
  local calls = redis.call('GETRANGE', key, off + 1, off + 1)
  return string.byte(b), (calls == '' and 0 or string.byte(calls))
end

local function record(state, calls, now, reason)
  reason = reason or 0
  return string.char(state, math.min(calls, 255), math.floor(reason / 256), reason % 256,
    math.floor(now / 16777216) % 256, math.floor(now / 65536) % 256, math.floor(now / 256) % 256, now % 256)
end

-- A pending record that keeps the slot's call count.
local function pending_record(calls)
  return string.char(STATE_PENDING, calls, 0, 0, 0, 0, 0, 0)
end

-- The id of a reason text in the campaign's dictionary, added when new (REASON_OVERFLOW when full).
local function reason_id(reasons, text)
  if text == nil or text == '' then return 0 end
  local id = redis.call('HGET', reasons, 't:' .. text)
  if id then return tonumber(id) end
  -- two fields per text plus 'next'
  if redis.call('HLEN', reasons) >= 2 * MAX_REASONS + 1 then return REASON_OVERFLOW end
  id = redis.call('HINCRBY', reasons, 'next', 1)
  redis.call('HSET', reasons, 't:' .. text, id, 'i:' .. id, text)
  return id
end

-- A final outcome for a slot that has none yet (counted once). 1 if recorded, 0 if it was final.
local function record_outcome(ledger, counts, reasons, slot, code, now, reason)
  local off = slot * RECORD_BYTES
  local state, calls = state_of(ledger, off)
  if state >= FIRST_FINAL then return 0 end
  redis.call('SETRANGE', ledger, off, record(code, calls, now, reason_id(reasons, reason)))
  redis.call('HINCRBY', counts, OUTCOME_NAMES[code], 1)
  return 1
end

-- Marks a slot in flight if the job still holds its lock (token '' skips the check).
-- `expect` is the call count the job knows the slot had before this mark ('' when it
-- does not know): a slot found in flight with one call more is this mark already made
-- (a write sent again after a failover), not a crash, so it is not marked twice.
-- Returns a MARK_* code, or the slot's final state code when it has one (skip it).
local function mark_inflight(ledger, counts, lock, slot, token, now, resend, expect)
  if token ~= '' and redis.call('GET', lock) ~= token then return MARK_LOCK_LOST end
  local off = slot * RECORD_BYTES
  local state, calls = state_of(ledger, off)
  if state >= FIRST_FINAL then return state end
  if state == STATE_INFLIGHT and expect ~= nil and expect ~= '' and calls == tonumber(expect) + 1 then
    return MARK_GO
  end
  if state == STATE_INFLIGHT and resend ~= '1' then
    redis.call('SETRANGE', ledger, off, record(STATE_UNCERTAIN, calls, now))
    redis.call('HINCRBY', counts, OUTCOME_NAMES[STATE_UNCERTAIN], 1)
    return MARK_PARKED
  end
  redis.call('SETRANGE', ledger, off, record(STATE_INFLIGHT, calls + 1, now))
  if state == STATE_INFLIGHT then return MARK_GO_RESEND end
  return MARK_GO
end
