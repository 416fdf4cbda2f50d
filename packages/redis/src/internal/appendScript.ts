/**
 * The idempotent append, run atomically by Redis for each message:
 *
 * - `SET <dedupe key> "" NX PX <window>` claims the message id for the window;
 * - only when that succeeded, `XADD <stream> [MAXLEN|MINID ~ <threshold>] * <fields…>`;
 * - an XADD Redis refuses (a key of another type) releases the claim again,
 *   so a fixed and retried message is not taken for a duplicate.
 *
 * Returns 1 when appended, 0 when the id was already appended inside the window.
 *
 * KEYS[1] the dedupe key, KEYS[2] the stream;
 * ARGV[1] the window in ms, ARGV[2] "" | "MAXLEN" | "MINID", ARGV[3] its threshold,
 * ARGV[4…] the entry's field/value pairs.
 */
export const appendScript = `
if not redis.call('SET', KEYS[1], '', 'NX', 'PX', ARGV[1]) then
  return 0
end
local command = {'XADD', KEYS[2]}
if ARGV[2] ~= '' then
  command[#command + 1] = ARGV[2]
  command[#command + 1] = '~'
  command[#command + 1] = ARGV[3]
end
command[#command + 1] = '*'
for i = 4, #ARGV do
  command[#command + 1] = ARGV[i]
end
local added = redis.pcall(unpack(command))
if type(added) == 'table' and added.err then
  redis.call('DEL', KEYS[1])
  return added
end
return 1
`
