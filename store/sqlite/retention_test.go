package sqlite_test

import (
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/storetest"
)

func TestRetention(t *testing.T) {
	storetest.Retention(t, func(t *testing.T) mamori.Store { return MustOpen(t, tempPath(t)) })
}

// The count of what waits reads an index on the status, not the outbox.
func TestWaiting(t *testing.T) {
	path := tempPath(t)
	db := MustOpen(t, path)
	storetest.Waiting(t, db, db.Waiting)
	raw := MustRaw(t, path)
	for _, status := range []string{"pending", "failed"} {
		var id, parent, unused int
		var plan string
		if err := raw.QueryRow(`EXPLAIN QUERY PLAN SELECT count(*) FROM outbox WHERE status = '`+status+`'`).Scan(&id, &parent, &unused, &plan); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "USING COVERING INDEX") {
			t.Errorf("counting the %s items: %s", status, plan)
		}
	}
}
