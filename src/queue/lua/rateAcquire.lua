--[[
  GCRA ("theoretical arrival time") slots on Redis time, for the rate limiter
  (src/queue/rate-limiter.ts has the invariants). The number of keys varies:
  the global pair only with a global rate, the campaign key only with a campaign rate.

  A failover loses the writes the promoted replica had not received yet, and
  with them slots still pending in some process: the marker holds the
  replication id of the primary that wrote it, and a node promoted since it
  started (second_repl_offset set) that finds another id treats its data as
  lost too. A restart keeps its data's verdict: its id changes but it was not promoted.

  Input:
    KEYS[1] marker (gone, or left by the primary this node took over from: the first slot is now + max ahead)
    KEYS[2] global TAT        (when ARGV[4] > 0; else the campaign TAT)
    KEYS[3] global islands    (when ARGV[4] > 0)
    KEYS[4] campaign TAT      (when ARGV[4] > 0 and ARGV[5] > 0)

    ARGV[1] slots wanted
    ARGV[2] max ahead, us
    ARGV[3] marker ttl, ms
    ARGV[4] global interval, us (0: no global limit)
    ARGV[5] campaign interval, us (0: no campaign limit)

  Output:
    {n, lost, now us, offsets...}: n slots granted at now + offset us each;
    when n is 0, one offset: how long until asking again makes sense.
    lost is 1 when the marker was missing.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local want = tonumber(ARGV[1])
local ahead = tonumber(ARGV[2])
local ig = tonumber(ARGV[4])
local ic = tonumber(ARGV[5])
local fmt = function(x) return string.format('%.0f', x) end
local info = redis.call('INFO', 'replication')
local replid = string.match(info, 'master_replid:(%x+)') or ''
local promoted = (string.match(info, 'second_repl_offset:(%-?%d+)') or '-1') ~= '-1'
local marker = redis.call('GET', KEYS[1])
local floor = now
local lost = 0
if not marker or (promoted and marker ~= replid) then
  floor = now + ahead
  lost = 1
end
local gk, ik, ck
if ig > 0 then
  gk, ik = KEYS[2], KEYS[3]
  if ic > 0 then ck = KEYS[4] end
else
  ck = KEYS[2]
end

local F = floor
local islands = {}
if gk then
  local tat = tonumber(redis.call('GET', gk) or '0')
  if tat > F then F = tat end
  local raw = redis.call('ZRANGEBYSCORE', ik, '(' .. fmt(F - ig), '+inf')
  for i = 1, #raw do islands[i] = tonumber(raw[i]) end
end
local tc = floor
if ck then
  local v = tonumber(redis.call('GET', ck) or '0')
  if v > tc then tc = v end
end

local pos = 1
local added = {}
local offsets = {}
for k = 1, want do
  local c = floor
  if gk then
    -- islands right after the frontier leave no room before them: move the frontier past them
    while pos <= #islands and islands[pos] < F + ig do
      if islands[pos] + ig > F then F = islands[pos] + ig end
      pos = pos + 1
    end
    c = F
  end
  if ck and tc > c then c = tc end
  if gk and c > F then
    for i = pos, #islands do
      local x = islands[i]
      if x >= c + ig then break end
      if x > c - ig then c = x + ig end
    end
  end
  if c - now > ahead then
    if k == 1 then return {0, lost, now, math.ceil(c - now - ahead)} end
    break
  end
  offsets[k] = math.floor(c - now)
  if gk then
    if c < F + ig then
      F = c + ig
    else
      local at = #islands + 1
      for i = pos, #islands do
        if islands[i] > c then at = i break end
      end
      table.insert(islands, at, c)
      added[#added + 1] = c
    end
  end
  if ck then tc = c + ic end
end

local ttl = function(x) return math.max(1, math.ceil((x - now) / 1000)) + 1000 end
if gk then
  redis.call('SET', gk, fmt(F), 'PX', ttl(F))
  for i = 1, #added do redis.call('ZADD', ik, fmt(added[i]), fmt(added[i])) end
  redis.call('ZREMRANGEBYSCORE', ik, '-inf', '(' .. fmt(F - ig))
  redis.call('PEXPIRE', ik, ttl(now + ahead + ig))
end
if ck then redis.call('SET', ck, fmt(tc), 'PX', ttl(tc)) end
redis.call('SET', KEYS[1], replid, 'PX', tonumber(ARGV[3]))
local out = {#offsets, lost, now}
for i = 1, #offsets do out[i + 3] = offsets[i] end
return out
