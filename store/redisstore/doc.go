// Package redisstore keeps rate limits on Redis: a [ratelimit.Store]
// that any number of app instances share, each check one Lua script.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}) // the host's client
//	st, err := redisstore.New(rdb, redisstore.Config{})
//	if err != nil { ... }
//	login, err := ratelimit.New(st, ratelimit.PerMinute("login", 30), ratelimit.Config{})
//
// The host opens the client (redis.NewClient, NewFailoverClient,
// NewClusterClient or NewUniversalClient, any redis.UniversalClient),
// configures it and closes it; the package never opens a connection of
// its own. Only this package imports go-redis: a host that does not use
// Redis does not link it.
//
// # Storage
//
// Every key starts with Config.Prefix ("cedrina:ratelimit:"), a tag of
// the algorithm and [ratelimit.HashKey] of the policy and the key, in
// lower-case hex: never the key itself (a client IP, an address), in
// the key's name or in its value. An operator finds a key's state with
//
//	printf 'fixed_window\0login\0ip:203.0.113.7' | sha256sum
//	redis-cli --scan --pattern 'cedrina:ratelimit:fw:<hash>:*'
//
// Each algorithm keeps a Redis type of its own:
//
//   - A fixed window is one key per window,
//     prefix+"fw:"+hash+":"+start, start being the window's start in µs
//     since the Unix epoch; its value is the count admitted in it. It is
//     created by the window's first admitted request and expires at the
//     window's end. About 150 bytes.
//   - A sliding window is a sorted set, prefix+"sw:"+hash: one member
//     per distinct time at which requests were admitted (its score, in
//     µs), named "s:e" to number the units it holds, so that a check is
//     O(log N) Redis operations whatever its n. It expires once its
//     newest time is Window old. About 200 bytes, plus per distinct time
//     still in the window about 21 bytes while there are at most 128
//     (Redis's zset-max-listpack-entries) and about 100 beyond: a full
//     window of ratelimit.API (1,000 a minute) costs about 100 kB.
//   - A token bucket is a string, prefix+"tb:"+hash, holding
//     "tokens:remainder:time": the level in whole tokens and a
//     remainder in 1/Window-in-µs units of a token (so that the spec's
//     level of up to 2^61 units stays exact in Lua's doubles), and the
//     time of its last change. It expires when the bucket is full again.
//     About 200 bytes.
//
// A key expires Config.Linger (a second by default) after its state is
// initial again, by the clock of the check that set its expiry, rounded
// up to a millisecond: an idle key costs nothing, without a sweep. A
// refused check writes nothing to a fixed or a sliding window (a bucket
// records its refill).
//
// # Consistency
//
// Each check is one script run (EVALSHA, or EVAL when the server answers
// NOSCRIPT after a restart, a failover or SCRIPT FLUSH, which caches it
// again), and Redis runs scripts atomically: however many instances
// check one key at once, each sees the state every earlier check left,
// exactly as [ratelimit.Store] specifies, with no retries and no
// conflicts. Every script touches exactly one key, so it runs on Redis
// Cluster: the key's slot is the CRC16 of its whole name (it has no
// hash tag, so keys spread over all slots), and go-redis's cluster
// client sends the script to the node that holds it. A Prefix with
// braces would make them a hash tag and put every key in one slot.
//
// The limits are as exact as Redis's memory. A restart without
// persistence forgets every count, and AOF with appendfsync everysec may
// lose the last second's. Replication is asynchronous: after a failover
// to a replica that had not received the newest writes, those checks are
// forgotten and their requests may be admitted again; WAIT is not used,
// since a rate limit prefers one round trip to a durable count. A check
// whose reply is lost (a timeout, a broken connection) fails with an
// error matching store.ErrUnavailable and may or may not have been
// counted; go-redis retries such failures (Options.MaxRetries, 3 by
// default), which may count a check twice. Both errors deny: counting
// too much never admits too much.
//
// Failures of Redis (refused or broken connections, timeouts, no pooled
// connection in time, LOADING, BUSY, READONLY, MASTERDOWN, CLUSTERDOWN,
// TRYAGAIN, NOREPLICAS, MISCONF, OOM, max clients) match
// store.ErrUnavailable and come with the zero Result, which denies. A
// context that is done before the script is sent ends Take with its
// error. go-redis bounds a command's I/O by the client's ReadTimeout and
// WriteTimeout, and by the context's deadline only when the client's
// ContextTimeoutEnabled is set; a context that ends mid-command then
// ends Take with an error matching the context's, and the check may have
// been counted.
//
// # Clock
//
// Times come from the callers, never from Redis's TIME: Take counts at
// the time it is given, as every [ratelimit.Store] does, and the scripts
// receive it in µs. Instances whose clocks disagree therefore disagree on
// window boundaries by their skew: a fixed window opens earlier on the
// instance whose clock runs ahead, and a sliding window or a bucket
// counts a request from an instance whose clock runs behind as at the
// newest time already counted. Keep the instances' clocks synchronised
// (NTP) and set Config.Linger above their skew, so that a late clock
// reading finds the state it belongs to. Expiries, unlike counts, run on
// Redis's clock: each is set relative to the check's time (PEXPIRE, not
// PEXPIREAT), so skew between Redis and the instances does not matter.
// Take accepts times from 1970 to 2253, where µs are below 2^53.
package redisstore
