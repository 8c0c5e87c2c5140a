package mem_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/mem"
	"github.com/mamori-oss/mamori/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mamori.Store { return mem.New() })
}

// TestRollbackOnPanic: a panicking fn changes nothing and the store
// goes on working.
func TestRollbackOnPanic(t *testing.T) {
	db := mem.New()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		db.Update(context.Background(), func(tx mamori.Tx) error {
			if _, err := tx.Seen("Ev1", time.Now()); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	storetest.MustUpdate(t, db, func(tx mamori.Tx) error {
		if fresh, err := tx.Seen("Ev1", time.Now()); err != nil || !fresh {
			t.Errorf("Seen after a panicking update = %v, %v; want fresh", fresh, err)
		}
		return nil
	})
}

// TestViewDuringUpdate: a reader does not wait for a writer, and sees
// the state before it.
func TestViewDuringUpdate(t *testing.T) {
	db := mem.New()
	u := mamori.User{Platform: mamori.PlatformSlack, ID: "U1"}
	storetest.MustUpdate(t, db, func(tx mamori.Tx) error {
		if err := tx.PutConversation(mamori.Conversation{User: u, Step: "in"}); err != nil {
			return err
		}
		return db.View(context.Background(), func(tx mamori.Tx) error {
			if _, err := tx.Conversation(u.Key()); !errors.Is(err, mamori.ErrNotFound) {
				t.Errorf("View inside an Update saw its uncommitted write: err = %v", err)
			}
			return nil
		})
	})
}

func TestAudit(t *testing.T) {
	ctx := context.Background()
	db := mem.New()
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	storetest.MustUpdate(t, db, func(tx mamori.Tx) error {
		for _, e := range []mamori.AuditEntry{
			{At: t0, Actor: "system", Action: "case.submitted", Subject: "KH-2026-0001"},
			{At: t0, Actor: "system", Action: "case.routed", Subject: "KH-2026-0002"},
			{At: t0.Add(time.Second), Actor: "slack:U1", Action: "case.viewed", Subject: "KH-2026-0001"},
		} {
			if err := tx.Audit(e); err != nil {
				return err
			}
		}
		return nil
	})
	// A rolled-back entry leaves no gap in the chain.
	db.Update(ctx, func(tx mamori.Tx) error {
		tx.Audit(mamori.AuditEntry{At: t0, Actor: "system", Action: "x", Subject: "KH-2026-0001"})
		return errors.New("boom")
	})
	if n, err := db.VerifyAudit(ctx); n != 3 || err != nil {
		t.Errorf("VerifyAudit = %d, %v; want 3, nil", n, err)
	}
	trail, err := db.AuditTrail(ctx, "KH-2026-0001")
	if err != nil || len(trail) != 2 || trail[1].Action != "case.viewed" || !trail[1].At.Equal(t0.Add(time.Second)) {
		t.Errorf("AuditTrail = %+v, %v; want submitted then viewed", trail, err)
	}
	if err := db.Backup(ctx, t.TempDir()+"/copy"); err == nil {
		t.Errorf("Backup of an in-memory store succeeded")
	}
}

// BenchmarkCampaign enqueues 10,000 messages in one transaction and sends
// them, claimed 100 at a time: a change touches its rows' chunks, not the
// whole outbox.
func BenchmarkCampaign(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	for b.Loop() {
		db := mem.New()
		storetest.MustUpdate(b, db, func(tx mamori.Tx) error {
			for i := range 10000 {
				m := mamori.OutboxItem{Key: fmt.Sprintf("training:basics:1:U%05d", i), Created: now, Message: mamori.Message{Text: "研修のお知らせ"},
					Target: mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: fmt.Sprintf("U%05d", i)}}
				if err := tx.Enqueue(m); err != nil {
					return err
				}
			}
			return nil
		})
		for {
			items, err := db.ClaimOutbox(ctx, now, time.Minute, 100)
			if err != nil {
				b.Fatal(err)
			}
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				if err := db.SentOutbox(ctx, it.ID, mamori.Posted{Channel: "D1", TS: "1"}, now); err != nil {
					b.Fatal(err)
				}
			}
		}
		if c, err := db.CountOutbox(ctx, "training:"); err != nil || c[mamori.OutboxSent] != 10000 {
			b.Fatalf("CountOutbox = %v, %v; want 10000 sent", c, err)
		}
	}
}
