package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"

	"github.com/redis/go-redis/v9"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/redisstore"
)

// Every app instance opens its own client on the shared Redis and
// checks through it: the counts are the same for all. (It needs a
// server, so it is compiled, not run.)
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}) // the host's client, its pool and timeouts
	defer rdb.Close()
	st, err := redisstore.New(rdb, redisstore.Config{}) // keys under "cedrina:ratelimit:"
	if err != nil {
		log.Fatal(err)
	}
	login, err := ratelimit.New(st, ratelimit.PerMinute("login", 30), ratelimit.Config{})
	if err != nil {
		log.Fatal(err)
	}

	client := netip.MustParseAddr("203.0.113.7")
	res, err := login.Allow(context.Background(), ratelimit.IPKey(client)) // Redis keeps only its hash
	switch {
	case errors.Is(err, store.ErrUnavailable):
		fmt.Println("Redis is unavailable: refuse (res denies)")
	case err != nil:
		log.Fatal(err)
	case !res.Allowed:
		fmt.Println("too many attempts; retry after", res.RetryAfter)
	default:
		fmt.Println("go ahead;", res.Remaining, "left")
	}
}
