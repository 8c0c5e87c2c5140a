package postgres_test

import (
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/storetest"
)

func TestCustomers(t *testing.T) {
	MustSchema(t) // skips once here, not in every subtest
	storetest.Customers(t, func(t *testing.T) mamori.Store {
		u, _ := MustSchema(t)
		return MustOpen(t, u)
	})
}
