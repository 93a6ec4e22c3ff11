// Package ratelimit limits how often a key (a client IP, a user, an
// address, a route, or a combination) may do something: fixed window,
// sliding window and token bucket, each exact, on a [Store] in memory
// ([NewMemoryStore]), on PostgreSQL (store/postgres) or on Redis
// (store/redisstore).
package ratelimit
