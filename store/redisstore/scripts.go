package redisstore

import "github.com/redis/go-redis/v9"

// The scripts, one per algorithm. Each check is one run of one of them,
// which Redis executes atomically, so no other command touches the key
// between its reads and its writes. go-redis's Script.Run sends EVALSHA
// and falls back to EVAL (which caches the script again) when the server
// answers NOSCRIPT: after a restart, a failover or SCRIPT FLUSH.
//
// Lua numbers are doubles, exact for integers below 2^53. Times and
// windows are µs below 2^53 (Take refuses later times), counts are at
// most ratelimit.MaxLimit; the one value that can exceed 2^53, a token
// bucket's level in 1/W units, is never formed as one number (see
// bucketLua). Numbers go back to Redis through
// string.format('%.0f'), never tostring, which would write large integers
// with an exponent.
var (
	fixedScript   = redis.NewScript(fixedLua)
	slidingScript = redis.NewScript(luaHelpers + slidingLua)
	bucketScript  = redis.NewScript(luaHelpers + bucketLua)
)

// fixedLua counts n in one fixed window, whose key (holding the window's
// count as an integer) the caller names. ARGV: n, L, the key's time to
// live in ms (to the window's end, plus Linger, rounded up). It returns
// {allowed, L - count}. A new window's key is created with its expiry;
// INCRBY keeps it. A refused request changes nothing.
const fixedLua = `
local n, l = tonumber(ARGV[1]), tonumber(ARGV[2])
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c + n > l then
  return {0, l - c}
end
if c == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
else
  redis.call('INCRBY', KEYS[1], ARGV[1])
end
return {1, l - c - n}
`

// luaHelpers are the exact integer helpers the sliding window and token
// bucket scripts share.
const luaHelpers = `
local function fmt(x)
  return string.format('%.0f', x)
end

-- divmod returns floor(a/b) and a - b*floor(a/b), exactly, for integers
-- a and b > 0 with |a| + b < 2^53: the quotient of the division in
-- doubles is off by at most one, and the remainder tells which way.
local function divmod(a, b)
  local q = math.floor(a / b)
  local r = a - q * b
  if r < 0 then
    q, r = q - 1, r + b
  elseif r >= b then
    q, r = q + 1, r - b
  end
  return q, r
end
`

// slidingLua applies a sliding window. The key is a sorted set with one
// member per distinct admitted time (the score, in µs): requests admitted
// at one time share a member. Each member is "s:e", the units it holds
// numbered s+1..e in the order they were admitted, so the live count is
// e of the newest minus s of the oldest live member, and the k-th oldest
// live unit is in the first member whose e reaches s+k, found by a
// binary search over ranks: every step is O(log N) whatever n is.
// Numbers start at 0 each time the set empties (Redis deletes an empty
// sorted set) and are renumbered from 0 when they reach ARGV[6], so they
// stay exact.
//
// With u the newest time held, r = max(t, u): members up to r-W are not
// live. A refused request writes nothing: a later check with an older
// clock reading may find live what this one did not. An admitted request
// of n removes the members up to r-W (no later check has an r below it)
// and is added at r, merged into the newest member when r = u. The key
// then expires at r+W (+ Linger) by t's clock, rounded up to a
// millisecond.
//
// ARGV: t, W, L, n (µs and counts), Linger (µs), the renumbering bound.
// It returns {allowed, remaining, reset, retry}, reset and retry in µs.
const slidingLua = `
local key = KEYS[1]
local t, w, l, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local linger, rebase = tonumber(ARGV[5]), tonumber(ARGV[6])

local function span(m)
  local s, e = string.match(m, '^(%d+):(%d+)$')
  if not s then
    error('cedrina: malformed sliding window entry')
  end
  return tonumber(s), tonumber(e)
end

local u, last, top, topStart = nil, 0, nil, 0
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if newest[1] then
  top, u = newest[1], tonumber(newest[2])
  topStart, last = span(top)
end
local r = t
if u and u > t then
  r = u
end

-- The oldest live member: c = last - first. Members before it (up to
-- r-W) may still be held.
local first, firstEnd, firstTime = last, 0, 0
if u and u > r - w then
  local live = redis.call('ZRANGEBYSCORE', key, '(' .. fmt(r - w), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  first, firstEnd = span(live[1])
  firstTime = tonumber(live[2])
end
local c = last - first

local allowed, retry = 0, 0
if c + n <= l then
  allowed = 1
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(r - w))
  if u == r then
    redis.call('ZREM', key, top)
    redis.call('ZADD', key, fmt(r), fmt(topStart) .. ':' .. fmt(last + n))
  else
    redis.call('ZADD', key, fmt(r), fmt(last) .. ':' .. fmt(last + n))
  end
  u, c, last = r, c + n, last + n
  if last >= rebase then
    local base = first
    local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    redis.call('DEL', key)
    for i = 1, #all, 2 do
      local s, e = span(all[i])
      redis.call('ZADD', key, all[i + 1], fmt(s - base) .. ':' .. fmt(e - base))
    end
  end
  redis.call('PEXPIRE', key, fmt(divmod(u - t + w + linger + 999, 1000)))
else
  -- The k-th oldest live unit, k = c+n-L, is unit first+k. Members
  -- before the oldest live one end at or before first: the search
  -- passes them.
  local target, v = first + c + n - l, firstTime
  if firstEnd < target then
    local lo, hi = 0, redis.call('ZCARD', key) - 1
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      local _, e = span(redis.call('ZRANGE', key, mid, mid)[1])
      if e >= target then
        hi = mid
      else
        lo = mid + 1
      end
    end
    v = tonumber(redis.call('ZRANGE', key, lo, lo, 'WITHSCORES')[2])
  end
  retry = v - t + w
end
return {allowed, l - c, u - t + w, retry}
`

// bucketLua applies a token bucket. The key is a string "q:r:a": the
// level x = q×W + r in 1/W units of a token, held as whole tokens q
// (0..B) and a remainder r (0..W-1), and a, the time of its last change
// in µs. B×W reaches 2^61, past a double's exact integers, but q and r
// stay below 2^53, and so does every step below:
//
//   - refill by el = t-a µs adds el×L units: with el = e1×W + e0, that is
//     e1×L whole tokens and e0×L units. If e1 >= ceil(B/L) the bucket is
//     full; otherwise e1×L < B+L, and e0×L units are split into tokens
//     and a remainder by muldivmod: directly if e0×L < 2^52, otherwise
//     bit by bit, each value below 2W.
//   - x >= n×W is q >= n, as r < W; floor(x/W) is q.
//   - ceil((m×W - r)/L) (Reset with m = B-q, RetryAfter with m = n-q) is
//     computed directly when m×W < 2^52, and otherwise as
//     m×floor(W/L) + floor(m×(W mod L)/L) - floor((r - m×(W mod L) mod L)/L),
//     the first product formed from halves of floor(W/L). The result
//     is at most ceil(B×W/L), which Policy.Validate bounds by MaxWindow
//     (below 2^45 µs).
//
// ARGV: t, W, L, B, n, Linger (µs and counts). It returns {allowed,
// remaining, reset, retry}, reset and retry in µs from t (the waits
// above, counted from a). A missing key is a full bucket at t. The key
// expires when the bucket is full again (t + Reset, + Linger, by t's
// clock, rounded up to a millisecond).
const bucketLua = `
local t, w, l = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b, n, linger = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

-- muldivmod returns floor(a*m/d) and a*m mod d for 0 <= a < d <= 2^52
-- and 0 <= m < 2^31: directly when a*m is below 2^52 (a product at or
-- above it rounds to at least 2^52), by long multiplication over m's
-- bits otherwise.
local function muldivmod(a, m, d)
  if a * m < 4503599627370496 then
    return divmod(a * m, d)
  end
  local q, r, bit = 0, 0, 1073741824
  while bit >= 1 do
    q, r = q * 2, r * 2
    if r >= d then
      q, r = q + 1, r - d
    end
    if m >= bit then
      m = m - bit
      r = r + a
      if r >= d then
        q, r = q + 1, r - d
      end
    end
    bit = bit / 2
  end
  return q, r
end

-- wait returns ceil((m*W - r)/L), for 0 <= m <= B and 0 <= r < W.
local function wait(m, r)
  if m * w < 4503599627370496 then
    return divmod(m * w - r + l - 1, l)
  end
  local wq, wr = divmod(w, l)
  local c1, c0 = muldivmod(wr, m, l)
  local wh, wl = divmod(wq, 4194304)
  local f = divmod(r - c0, l)
  return m * wh * 4194304 + (m * wl + c1 - f)
end

local q, r, a
local v = redis.call('GET', KEYS[1])
if v then
  local sq, sr, sa = string.match(v, '^(%d+):(%d+):(%d+)$')
  if not sq then
    error('cedrina: malformed token bucket')
  end
  q, r, a = tonumber(sq), tonumber(sr), tonumber(sa)
  -- The policy may have changed: keep the whole tokens, up to B.
  if q >= b then
    q, r = b, 0
  end
  if r >= w then
    r = w - 1
  end
  if t > a then
    local e1, e0 = divmod(t - a, w)
    if e1 >= divmod(b + l - 1, l) then
      q, r = b, 0
    else
      local g1, g0 = muldivmod(e0, l, w)
      q, r = q + e1 * l + g1, r + g0
      if r >= w then
        q, r = q + 1, r - w
      end
      if q >= b then
        q, r = b, 0
      end
    end
    a = t
  end
else
  q, r, a = b, 0, t
end

-- The waits count from a, which is t unless t is older.
local allowed, retry = 0, 0
if q >= n then
  q, allowed = q - n, 1
else
  retry = a - t + wait(n - q, r)
end
local reset = a - t + wait(b - q, r)
redis.call('SET', KEYS[1], fmt(q) .. ':' .. fmt(r) .. ':' .. fmt(a), 'PX', fmt(divmod(reset + linger + 999, 1000)))
return {allowed, q, reset, retry}
`
