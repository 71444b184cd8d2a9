--[[
  Notes a campaign's last activity (the retention clock), never creating a record.

  Input:
    KEYS[1] campaign record
    ARGV[1] at (ISO time)

  Output:
    1 noted, 0 no such campaign
]]
if redis.call('HEXISTS', KEYS[1], 'definition') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastActivityAt', ARGV[1])
return 1
