--[[
  Deletes a lock only if this holder still has it.

  Input:
    KEYS[1] lock
    ARGV[1] the holder's token

  Output:
    1 deleted, 0 held by another (or expired)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
