package mem_test

import (
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/mem"
	"github.com/mamori-oss/mamori/store/storetest"
)

func TestRetention(t *testing.T) {
	storetest.Retention(t, func(t *testing.T) mamori.Store { return mem.New() })
}

func TestWaiting(t *testing.T) {
	db := mem.New()
	storetest.Waiting(t, db, db.Waiting)
}
