package sqlite_test

import (
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/storetest"
)

func TestRetention(t *testing.T) {
	storetest.Retention(t, func(t *testing.T) mamori.Store { return MustOpen(t, tempPath(t)) })
}
