#pragma once
// The one Lua script every bridged write goes through, so that the
// last-writer-wins decision and the write are one atomic step in Redis:
// of two hosts writing a name at once, exactly the later (ts, origin)
// stays and is announced, on every host alike.
//
// KEYS[1] the value hash, KEYS[2] the writer's sequence counter.
// ARGV[1] ts (20 digits), ARGV[2] origin, ARGV[3] channel, ARGV[4]
// "<ns>\t<name>", ARGV[5..] the hash's other fields and values.
// Returns the sequence number given to the write, or 0 when the stored
// value is as new or newer (nothing written, nothing announced).

namespace shmkit::detail {

inline constexpr const char* kLastWriterWinsScript = R"lua(
local current = redis.call('HMGET', KEYS[1], 'ts', 'origin')
if current[1] and (ARGV[1] < current[1] or (ARGV[1] == current[1] and ARGV[2] <= current[2])) then
  return 0
end
local seq = redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'origin', ARGV[2], 'seq', seq, unpack(ARGV, 5))
redis.call('PUBLISH', ARGV[3], ARGV[2] .. '\t' .. seq .. '\t' .. ARGV[4])
return seq
)lua";

}  // namespace shmkit::detail
