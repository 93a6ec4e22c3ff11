package memory_test

import (
	"testing"

	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db := memory.New()
		return storetest.Stores{Tx: db, Users: db.Users(), Audit: db.Audit(), Sessions: db.Sessions(), Resets: db.Resets(), OAuth: db.OAuth()}
	})
}
