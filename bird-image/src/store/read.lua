-- Reads a name's photo entry and lease in one step. The entry is read no further than one
-- byte past the longest entry this service writes, so a larger value (not ours) is never
-- read whole; a value of another type reads as no entry.
--
-- KEYS[1] the name's photo, KEYS[2] its lease. ARGV[1] the longest entry, in bytes.
-- Answers {entry, lease}, each '' when there is none.

local entry = redis.pcall('GETRANGE', KEYS[1], 0, ARGV[1])
if type(entry) ~= 'string' then
  entry = ''
end
local lease = redis.pcall('GET', KEYS[2])
if type(lease) ~= 'string' then
  lease = ''
end
return {entry, lease}
