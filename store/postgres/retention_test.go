package postgres_test

import (
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/storetest"
)

func TestRetention(t *testing.T) {
	MustSchema(t) // skips once here, not in every subtest
	storetest.Retention(t, func(t *testing.T) mamori.Store {
		u, _ := MustSchema(t)
		return MustOpen(t, u)
	})
}

func TestWaiting(t *testing.T) {
	u, _ := MustSchema(t)
	db := MustOpen(t, u)
	storetest.Waiting(t, db, db.Waiting)
}
