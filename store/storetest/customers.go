package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
)

// Customers runs the conformance tests of repeat customers and the
// refusal-of-service register (issue 16): the blind index of cases,
// manual links, and the register's entries with their index. open
// returns a new, empty store for one subtest.
func Customers(t *testing.T, open func(t *testing.T) mamori.Store) {
	each(t, open, []subtest{
		{"CustomerIndex", testCustomerIndex},
		{"Links", testLinks},
		{"Register", testRegister},
		{"RegisterRollback", testRegisterRollback},
	})
}

func testCustomerIndex(t *testing.T, s mamori.Store) {
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.IndexCustomer("KH-2026-0001", []string{"t:09012345678", "p:やまだたろう"}); err != nil {
			return err
		}
		if err := tx.IndexCustomer("KH-2026-0002", []string{"t:09012345678"}); err != nil {
			return err
		}
		if err := tx.IndexCustomer("KH-2026-0003", []string{"n:a12345", "p:やまだたろう"}); err != nil {
			return err
		}
		// Indexing again (a retried request) changes nothing.
		return tx.IndexCustomer("KH-2026-0001", []string{"t:09012345678", "t:09012345678"})
	})
	cases := func(keys ...string) []string {
		t.Helper()
		var got []string
		MustView(t, s, func(tx mamori.Tx) error {
			var err error
			got, err = tx.CustomerCases(keys)
			return err
		})
		return got
	}
	for _, tc := range []struct {
		keys []string
		want []string
	}{
		{[]string{"t:09012345678"}, []string{"KH-2026-0001", "KH-2026-0002"}},
		{[]string{"p:やまだたろう", "t:09012345678"}, []string{"KH-2026-0001", "KH-2026-0002", "KH-2026-0003"}},
		{[]string{"n:a12345"}, []string{"KH-2026-0003"}},
		{[]string{"n:A12345"}, nil}, // keys are compared as they are: normalising is the flows' work
		{[]string{"t:0901234567"}, nil},
		{nil, nil},
	} {
		if diff := cmp.Diff(tc.want, cases(tc.keys...)); diff != "" {
			t.Errorf("CustomerCases(%q) (-want +got):\n%s", tc.keys, diff)
		}
	}
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.UnindexCustomer("KH-2026-0001") })
	if diff := cmp.Diff([]string{"KH-2026-0002", "KH-2026-0003"}, cases("t:09012345678", "p:やまだたろう")); diff != "" {
		t.Errorf("after UnindexCustomer (-want +got):\n%s", diff)
	}
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.UnindexCustomer("KH-2026-0009") }) // none: no error
}

func testLinks(t *testing.T, s mamori.Store) {
	at := t0
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.PutLink(mamori.CaseLink{A: "KH-2026-0003", B: "KH-2026-0001", Linked: true, By: "slack:U1", At: at}); err != nil {
			return err
		}
		return tx.PutLink(mamori.CaseLink{A: "KH-2026-0002", B: "KH-2026-0003", Linked: false, By: "slack:U2", At: at.Add(time.Minute)})
	})
	links := func(number string) []mamori.CaseLink {
		t.Helper()
		var got []mamori.CaseLink
		MustView(t, s, func(tx mamori.Tx) error {
			var err error
			got, err = tx.Links(number)
			return err
		})
		return got
	}
	want := []mamori.CaseLink{
		{A: "KH-2026-0001", B: "KH-2026-0003", Linked: true, By: "slack:U1", At: at},
		{A: "KH-2026-0002", B: "KH-2026-0003", Linked: false, By: "slack:U2", At: at.Add(time.Minute)},
	}
	if diff := cmp.Diff(want, links("KH-2026-0003")); diff != "" {
		t.Errorf("Links (-want +got):\n%s", diff)
	}
	if got := links("KH-2026-0001"); len(got) != 1 || got[0].Other("KH-2026-0001") != "KH-2026-0003" {
		t.Errorf("Links(KH-2026-0001) = %+v", got)
	}
	// A later decision on the pair, named the other way round, replaces it.
	MustUpdate(t, s, func(tx mamori.Tx) error {
		return tx.PutLink(mamori.CaseLink{A: "KH-2026-0003", B: "KH-2026-0001", Linked: false, By: "slack:U3", At: at.Add(2 * time.Minute)})
	})
	if diff := cmp.Diff([]mamori.CaseLink{{A: "KH-2026-0001", B: "KH-2026-0003", Linked: false, By: "slack:U3", At: at.Add(2 * time.Minute)}},
		links("KH-2026-0001")); diff != "" {
		t.Errorf("after relinking (-want +got):\n%s", diff)
	}
	err := s.Update(context.Background(), func(tx mamori.Tx) error {
		return tx.PutLink(mamori.CaseLink{A: "KH-2026-0001", B: "KH-2026-0001", Linked: true, At: at})
	})
	if !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("linking a case to itself: %v, want ErrInvalid", err)
	}
}

func entry(number string, created time.Time) mamori.RegisterEntry {
	return mamori.RegisterEntry{
		Number: number, Status: mamori.RegisterActive, Departments: []string{"store-shibuya"},
		From: created, Until: created.AddDate(1, 0, 0), Review: created.AddDate(0, 6, 0),
		Identifiers: "090-1234-5678 山田太郎", Cases: []string{"KH-2026-0001"}, DecidedBy: "slack:UHR",
		Note:    "本部判断",
		History: []mamori.RegisterStep{{At: created, By: "slack:UHR", What: "added", Until: created.AddDate(1, 0, 0), Review: created.AddDate(0, 6, 0)}},
		Created: created, Updated: created,
	}
}

func testRegister(t *testing.T, s mamori.Store) {
	e1, e2 := entry("RF-2026-0001", t0), entry("RF-2026-0002", t0.Add(time.Hour))
	e2.Departments = nil
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.InsertEntry(e2, []string{"n:c777"}); err != nil {
			return err
		}
		return tx.InsertEntry(e1, []string{"t:09012345678", "p:山田太郎"})
	})
	err := s.Update(context.Background(), func(tx mamori.Tx) error { return tx.InsertEntry(e1, nil) })
	if !errors.Is(err, mamori.ErrConflict) {
		t.Errorf("inserting %s twice: %v, want ErrConflict", e1.Number, err)
	}
	view := func(fn func(tx mamori.Tx) error) { t.Helper(); MustView(t, s, fn) }
	view(func(tx mamori.Tx) error {
		got, err := tx.Entry(e1.Number)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(e1, got); diff != "" {
			t.Errorf("Entry (-want +got):\n%s", diff)
		}
		if _, err := tx.Entry("RF-2026-0099"); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Entry of none: %v, want ErrNotFound", err)
		}
		all, err := tx.Entries(false)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]mamori.RegisterEntry{e1, e2}, all); diff != "" {
			t.Errorf("Entries, oldest first (-want +got):\n%s", diff)
		}
		found, err := tx.EntriesFor([]string{"p:山田太郎", "t:09012345678", "n:zzz"})
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]mamori.RegisterEntry{e1}, found); diff != "" {
			t.Errorf("EntriesFor (-want +got):\n%s", diff)
		}
		return nil
	})

	// Extended: the dates change, the index stays (keys nil).
	e1.Until, e1.Review, e1.Updated = e1.Until.AddDate(1, 0, 0), e1.Review.AddDate(1, 0, 0), t0.Add(24*time.Hour)
	e1.History = append(e1.History, mamori.RegisterStep{At: e1.Updated, By: "slack:UHR", What: "extended", Until: e1.Until})
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.UpdateEntry(e1, nil) })
	view(func(tx mamori.Tx) error {
		found, err := tx.EntriesFor([]string{"t:09012345678"})
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]mamori.RegisterEntry{e1}, found); diff != "" {
			t.Errorf("after extending (-want +got):\n%s", diff)
		}
		return nil
	})

	// Lifted: no identifiers, no index (keys empty), not active.
	e1.Status, e1.Identifiers = mamori.RegisterLifted, ""
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.UpdateEntry(e1, []string{}) })
	view(func(tx mamori.Tx) error {
		found, err := tx.EntriesFor([]string{"t:09012345678", "p:山田太郎"})
		if err != nil {
			return err
		}
		if len(found) != 0 {
			t.Errorf("a lifted entry is still indexed: %+v", found)
		}
		active, err := tx.Entries(true)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]mamori.RegisterEntry{e2}, active); diff != "" {
			t.Errorf("Entries(active) (-want +got):\n%s", diff)
		}
		got, err := tx.Entry(e1.Number)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(e1, got); diff != "" {
			t.Errorf("the lifted entry (-want +got):\n%s", diff)
		}
		return nil
	})
	err = s.Update(context.Background(), func(tx mamori.Tx) error { return tx.UpdateEntry(entry("RF-2026-0099", t0), nil) })
	if !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("updating an entry that is not there: %v, want ErrNotFound", err)
	}
}

func testRegisterRollback(t *testing.T, s mamori.Store) {
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx mamori.Tx) error {
		if err := tx.InsertEntry(entry("RF-2026-0001", t0), []string{"t:0312345678"}); err != nil {
			return err
		}
		if err := tx.IndexCustomer("KH-2026-0001", []string{"t:0312345678"}); err != nil {
			return err
		}
		if err := tx.PutLink(mamori.CaseLink{A: "KH-2026-0001", B: "KH-2026-0002", Linked: true, At: t0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v", err)
	}
	MustView(t, s, func(tx mamori.Tx) error {
		if e, err := tx.Entries(false); err != nil || len(e) != 0 {
			t.Errorf("after a rollback: entries %+v, %v", e, err)
		}
		if e, err := tx.EntriesFor([]string{"t:0312345678"}); err != nil || len(e) != 0 {
			t.Errorf("after a rollback: indexed entries %+v, %v", e, err)
		}
		if n, err := tx.CustomerCases([]string{"t:0312345678"}); err != nil || len(n) != 0 {
			t.Errorf("after a rollback: indexed cases %q, %v", n, err)
		}
		if l, err := tx.Links("KH-2026-0001"); err != nil || len(l) != 0 {
			t.Errorf("after a rollback: links %+v, %v", l, err)
		}
		return nil
	})
}
