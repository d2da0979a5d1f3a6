-- Stores the photo a lease holder found and ends its lease, in one step, so a pod waiting on
-- the name sees either the lease or the photo, never neither.
--
-- KEYS[1] the name's photo, KEYS[2] its lease. ARGV[1] the photo entry, ARGV[2] how long the
-- entry is kept (ms), ARGV[3] the holder's token.

redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.pcall('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
return 1
