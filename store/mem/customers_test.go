package mem_test

import (
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/mem"
	"github.com/mamori-oss/mamori/store/storetest"
)

func TestCustomers(t *testing.T) {
	storetest.Customers(t, func(t *testing.T) mamori.Store { return mem.New() })
}
