package storetest_test

import (
	"context"
	"fmt"

	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/storetest"
)

// The suites themselves need a *testing.T, so they run from an adapter's
// own test (see the package documentation). NewUser also serves an
// adapter's other tests: it returns a user any store accepts.
func ExampleNewUser() {
	ctx := context.Background()
	users := memory.New().Users() // or the adapter under test
	u := storetest.NewUser("dana")
	if err := users.Create(ctx, u); err != nil {
		panic(err)
	}
	got, err := users.ByEmail(ctx, "dana@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(got.ID, got.Username, got.Email, got.Role, got.Tier, got.IsActive)
	// Output:
	// 1 dana dana@example.com USER FREE true
}
