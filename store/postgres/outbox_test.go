package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

// TestClaimFindsUrgentByIndex: the claim finds the pending urgent items
// through outbox_urgent, whose condition the planner must see its query
// implies, rather than by walking a campaign's backlog.
func TestClaimFindsUrgentByIndex(t *testing.T) {
	url, raw := MustSchema(t)
	db := MustOpen(t, url)
	MustUpdate(t, db, func(tx mamori.Tx) error {
		for i := range 2000 {
			err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("campaign:%04d", i),
				Target:  mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: fmt.Sprintf("U%04d", i)},
				Message: mamori.Message{Text: "研修"}, Lang: mamori.JA, Created: t0})
			if err != nil {
				return err
			}
		}
		return tx.Enqueue(mamori.OutboxItem{Key: mamori.UrgentKey + "sos:1:dept",
			Target:  mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetChannel, ID: "C0DEPT"},
			Message: mamori.Message{Text: "SOS"}, Lang: mamori.JA, Created: t0})
	})
	ctx := context.Background()
	if _, err := raw.ExecContext(ctx, `ANALYZE outbox`); err != nil {
		t.Fatal(err)
	}
	rows, err := raw.QueryContext(ctx, `EXPLAIN SELECT `+sqlrow.PendingColumns+` FROM outbox
		WHERE `+sqlrow.UrgentPending+` AND id > 0 ORDER BY id LIMIT 500`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "outbox_urgent") {
		t.Errorf("the urgent items are not found through outbox_urgent:\n%s", p)
	}
	items, err := db.ClaimOutbox(ctx, t0.Add(time.Second), time.Minute, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 8 || items[0].Key != mamori.UrgentKey+"sos:1:dept" {
		t.Errorf("claimed %v; want 8, the urgent one first", keys(items))
	}
}

func keys(items []mamori.OutboxItem) []string {
	var ks []string
	for _, m := range items {
		ks = append(ks, m.Key)
	}
	return ks
}
