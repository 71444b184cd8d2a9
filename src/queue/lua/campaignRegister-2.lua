--[[
  An enqueue's part of the campaign record (queued in the enqueue's MULTI, so
  it commits with the chunks): creates the record (active, or paused when
  asked) or adds to it, and counts the recipients stored. An active campaign
  enqueued paused is paused; a cancelled or purged one keeps its state, and
  the enqueue adds no jobs.

  Input:
    KEYS[1] campaign record
    KEYS[2] the set of campaign ids

    ARGV[1] campaign id
    ARGV[2] definition (JSON)
    ARGV[3] at (ISO time)
    ARGV[4] paused (1|0)
    ARGV[5..9] total, valid, invalid, duplicates recipients, chunks added

  Output:
    {TRANSITION_CHANGED (created or paused) | TRANSITION_UNCHANGED (added) |
     TRANSITION_REFUSED (cancelled or purged: counted, no jobs), the lifecycle it was in ('new' when created)}
    An error reply DEFINITION_CHANGED when another definition is stored: nothing written.
]]
--- @include "includes/campaignLifecycle"

local key = KEYS[1]
local from = lifecycle(key)
if from ~= nil and redis.call('HGET', key, 'definition') ~= ARGV[2] then
  return redis.error_reply('DEFINITION_CHANGED campaign ' .. ARGV[1] .. ' is stored with another definition')
end
local code = TRANSITION_UNCHANGED
if from == nil then
  redis.call('HSET', key, 'definition', ARGV[2], 'state', 'active', 'createdAt', ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[1])
  code = TRANSITION_CHANGED
end
local fields = {'total', 'valid', 'invalid', 'duplicates', 'chunkCount'}
for i = 1, #fields do redis.call('HINCRBY', key, fields[i], tonumber(ARGV[4 + i])) end
if from == 'cancelled' or from == 'purged' then return reply(TRANSITION_REFUSED, from) end
if ARGV[4] == '1' and (from == nil or from == 'active') then
  set_state(key, 'paused', 'enqueued paused', 'enqueue', ARGV[3])
  code = TRANSITION_CHANGED
end
return reply(code, from or 'new')
