// Package redisstore is the Redis ratelimit.Store.
package redisstore
