-- A lease holder found no photo: its lease becomes a mark that holds the fleet's next try of
-- this name back for a while, and tells pods waiting on it to stop waiting.
--
-- KEYS[1] the name's lease. ARGV[1] the holder's token, ARGV[2] how long the mark lasts (ms).

if redis.pcall('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'failed', 'PX', ARGV[2])
end
return 1
