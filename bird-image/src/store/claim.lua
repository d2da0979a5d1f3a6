-- Claims the one Unsplash call for a name, for the whole fleet, if nothing changed since the
-- claimant read the name's entry and the hourly allowance has room: atomic, so no two pods
-- can both take the last call, both look the same name up, or look up a name another pod
-- has just refreshed.
--
-- KEYS[1] the name's lease, KEYS[2] the calls of the last hour (a sorted set scored by when
-- each was made), KEYS[3] the pause set once Unsplash reported the key down to its reserve,
-- KEYS[4] the name's photo.
-- ARGV[1] a token naming the claimant, ARGV[2] how long the lease lasts (ms), ARGV[3] now (ms
-- since the epoch), ARGV[4] the allowance's window (ms), ARGV[5] calls allowed in the window
-- for this name, ARGV[6] an id for this call, ARGV[7] the entry as the claimant read it
-- (read.lua), ARGV[8] the longest entry, in bytes.
--
-- Answers {verdict, calls spent in the window}; verdict is granted, changed (read again),
-- held (another pod holds the lease), failed (a lookup of this name failed lately), paused
-- or spent.

local entry = redis.pcall('GETRANGE', KEYS[4], 0, ARGV[8])
if type(entry) ~= 'string' then
  entry = ''
end
if entry ~= ARGV[7] then
  return {'changed', 0}
end
local lease = redis.pcall('GET', KEYS[1])
if lease == 'failed' then
  return {'failed', 0}
elseif type(lease) == 'string' then
  return {'held', 0}
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'paused', 0}
end
-- Anything but the log this script keeps is not ours to count by: start the log afresh.
local kind = redis.call('TYPE', KEYS[2])['ok']
if kind ~= 'zset' and kind ~= 'none' then
  redis.call('DEL', KEYS[2])
end
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
local spent = redis.call('ZCARD', KEYS[2])
if spent >= tonumber(ARGV[5]) then
  return {'spent', spent}
end
redis.call('ZADD', KEYS[2], now, ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {'granted', spent + 1}
