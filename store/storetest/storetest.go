// Package storetest is the conformance suite every mamori.Store
// implementation runs, so the backends behave alike: each backend's tests
// call Run with a function opening a new, empty store.
//
// Times given to the store are whole milliseconds in UTC; a store must keep
// at least that precision and return equal instants.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mamori-oss/mamori"
)

// subtest is one conformance test, run on a store of its own.
type subtest struct {
	name string
	fn   func(t *testing.T, s mamori.Store)
}

// each runs tests, each on a new store from open, closed when it ends.
func each(t *testing.T, open func(t *testing.T) mamori.Store, tests []subtest) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// Run runs the suite. open returns a new, empty store for one subtest;
// Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) mamori.Store) {
	each(t, open, []subtest{
		{"Seen", testSeen},
		{"Conversation", testConversation},
		{"NextNumber", testNextNumber},
		{"NextNumberConcurrent", testNextNumberConcurrent},
		{"Cases", testCases},
		{"UpdateCase", testUpdateCase},
		{"CaseFilter", testCaseFilter},
		{"Rollback", testRollback},
		{"View", testView},
		{"Enqueue", testEnqueue},
		{"ClaimOutbox", testClaimOutbox},
		{"ClaimOutboxExclusive", testClaimOutboxExclusive},
		{"ClaimOutboxInOrder", testClaimOutboxInOrder},
		{"ClaimOutboxBacklog", testClaimOutboxBacklog},
		{"ClaimOutboxUrgent", testClaimOutboxUrgent},
		{"RetryOutbox", testRetryOutbox},
		{"RenewOutbox", testRenewOutbox},
		{"SentOutbox", testSentOutbox},
		{"ListOutbox", testListOutbox},
		{"OutboxPending", testOutboxPending},
		{"Schedule", testSchedule},
		{"CancelJobs", testCancelJobs},
		{"ClaimJobs", testClaimJobs},
		{"DoneJob", testDoneJob},
		{"Audit", testAudit},
		{"CareTasks", testCareTasks},
		{"Training", testTraining},
		{"CountOutbox", testCountOutbox},
		{"Reference", testReference},
	})
}

// t0 is the suite's "now": whole milliseconds, UTC.
var t0 = time.Date(2026, 4, 1, 9, 30, 0, 123_000_000, time.UTC)

// MustUpdate runs fn in an Update and fails the test on error.
func MustUpdate(tb testing.TB, s mamori.Store, fn func(mamori.Tx) error) {
	tb.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

// MustView runs fn in a View and fails the test on error.
func MustView(tb testing.TB, s mamori.Store, fn func(mamori.Tx) error) {
	tb.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

// Users, conversations, cases and messages the tests store.

var alice = mamori.User{Platform: mamori.PlatformSlack, ID: "U01ALICE", Name: "山田 花子", Email: "hanako@example.com", Lang: mamori.JA}

var bob = mamori.User{Platform: mamori.PlatformTeams, ID: "29:bob", Name: "Bob", Lang: mamori.EN}

// Answers returns answers with every field set, confidential ones included.
func Answers() mamori.Answers {
	return mamori.Answers{
		Safety:     "safe",
		ForWhom:    "self",
		Department: "sales",
		When:       "2026-03-31 15:00",
		Channel:    "phone",
		Place:      "本店 2F",
		Customer:   "顧客 太郎",
		Demand:     "返金",
		Fault:      "no",
		Behaviours: []string{"shouting", "threats"},
		Narrative:  "秘密のナラティブ",
		Words:      "お前を許さない",
		Duration:   "30m",
		Repeat:     "yes",
		Witnesses:  "佐藤",
		Evidence:   "recording",
		Files:      []mamori.File{{ID: "F1", Name: "call.m4a", URL: "https://files.example/F1"}},
		Wellbeing:  "hard",
		Talk:       "yes",
		Route:      mamori.RouteDepartment,
	}
}

func conversation(u mamori.User) mamori.Conversation {
	return mamori.Conversation{
		User:      u,
		Flow:      mamori.FlowReport,
		Step:      "narrative",
		History:   []string{"safety", "for_whom"},
		Editing:   true,
		Answers:   Answers(),
		AlertSent: true,
		Started:   t0,
		Updated:   t0.Add(time.Minute),
	}
}

func newCase(number string, u mamori.User, created time.Time) mamori.Case {
	return mamori.Case{
		Number:     number,
		Kind:       mamori.KindReport,
		Reporter:   u,
		Department: "sales",
		Route:      mamori.RouteDepartment,
		Channel:    "C0SUPERVISORS",
		Status:     mamori.StatusNew,
		Urgency:    mamori.UrgencyHigh,
		Suggestion: mamori.SuggestKasuhara,
		Crime:      true,
		Behaviours: []string{"shouting", "threats"},
		Created:    created,
		Answers:    Answers(),
	}
}

func message(ref string) mamori.Message {
	return mamori.Message{
		Ref:    ref,
		Header: "確認",
		Text:   "秘密のナラティブ",
		Fields: []mamori.Field{{Label: "顧客", Value: "顧客 太郎"}},
		Step:   "summary",
		Choices: []mamori.Choice{
			{Value: "submit", Label: "送信", Style: mamori.StylePrimary},
			{Value: "cancel", Label: "取消", Style: mamori.StyleDanger},
		},
		Multi: &mamori.Multi{
			Options:  []mamori.Choice{{Value: "a", Label: "A"}, {Value: "b", Label: "B"}},
			Selected: []string{"a"},
			Submit:   mamori.Choice{Value: "ok", Label: "OK"},
		},
		Prompt:   "入力してください",
		Controls: []mamori.Choice{{Value: "back", Label: "戻る"}},
		Note:     "note",
		Urgent:   true,
	}
}

func item(key string, created time.Time) mamori.OutboxItem {
	return mamori.OutboxItem{
		Key:     key,
		Target:  mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: "U01ALICE"},
		Message: message(""),
		Lang:    mamori.JA,
		Created: created,
	}
}

func enqueue(tb testing.TB, s mamori.Store, items ...mamori.OutboxItem) {
	tb.Helper()
	MustUpdate(tb, s, func(tx mamori.Tx) error {
		for _, m := range items {
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
}

func schedule(tb testing.TB, s mamori.Store, jobs ...mamori.Job) {
	tb.Helper()
	MustUpdate(tb, s, func(tx mamori.Tx) error {
		for _, j := range jobs {
			if err := tx.Schedule(j); err != nil {
				return err
			}
		}
		return nil
	})
}

func claimOutbox(tb testing.TB, s mamori.Store, now time.Time, lease time.Duration, limit int) []mamori.OutboxItem {
	tb.Helper()
	items, err := s.ClaimOutbox(context.Background(), now, lease, limit)
	if err != nil {
		tb.Fatalf("ClaimOutbox: %v", err)
	}
	return items
}

func claimJobs(tb testing.TB, s mamori.Store, now time.Time, lease time.Duration, limit int) []mamori.Job {
	tb.Helper()
	jobs, err := s.ClaimJobs(context.Background(), now, lease, limit)
	if err != nil {
		tb.Fatalf("ClaimJobs: %v", err)
	}
	return jobs
}

func keys(items []mamori.OutboxItem) []string {
	var ks []string
	for _, m := range items {
		ks = append(ks, m.Key)
	}
	return ks
}

func jobKeys(jobs []mamori.Job) []string {
	var ks []string
	for _, j := range jobs {
		ks = append(ks, j.Key)
	}
	return ks
}

// ignoreID leaves out store-assigned ids.
var ignoreID = cmpopts.IgnoreFields(mamori.OutboxItem{}, "ID")

func testSeen(t *testing.T, s mamori.Store) {
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for i, want := range []bool{true, false} {
			fresh, err := tx.Seen("Ev01", t0)
			if err != nil {
				return err
			}
			if fresh != want {
				t.Errorf("Seen(Ev01) #%d = %v, want %v", i+1, fresh, want)
			}
		}
		return nil
	})
	// Across transactions too, and other keys are fresh.
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for _, c := range []struct {
			key  string
			want bool
		}{{"Ev01", false}, {"Ev02", true}, {"Ev02", false}} {
			fresh, err := tx.Seen(c.key, t0.Add(time.Second))
			if err != nil {
				return err
			}
			if fresh != c.want {
				t.Errorf("Seen(%s) = %v, want %v", c.key, fresh, c.want)
			}
		}
		return nil
	})
}

func testConversation(t *testing.T, s mamori.Store) {
	want := conversation(alice)
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if _, err := tx.Conversation(alice.Key()); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Conversation before Put: err = %v, want ErrNotFound", err)
		}
		return tx.PutConversation(want)
	})
	MustView(t, s, func(tx mamori.Tx) error {
		got, err := tx.Conversation(alice.Key())
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Conversation round trip (-want +got):\n%s", diff)
		}
		return nil
	})

	// Put replaces; other users are separate.
	next := want
	next.Step = "summary"
	next.Answers.Narrative = "書き直したナラティブ"
	next.Updated = t0.Add(2 * time.Minute)
	other := conversation(bob)
	other.Flow = mamori.FlowConsult
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.PutConversation(next); err != nil {
			return err
		}
		return tx.PutConversation(other)
	})
	MustView(t, s, func(tx mamori.Tx) error {
		for _, w := range []mamori.Conversation{next, other} {
			got, err := tx.Conversation(w.User.Key())
			if err != nil {
				return err
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("Conversation(%s) (-want +got):\n%s", w.User.Key(), diff)
			}
		}
		return nil
	})

	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.DeleteConversation(alice.Key()); err != nil {
			return err
		}
		// Deleting what is not there is not an error.
		return tx.DeleteConversation("slack:UNKNOWN")
	})
	MustView(t, s, func(tx mamori.Tx) error {
		if _, err := tx.Conversation(alice.Key()); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Conversation after Delete: err = %v, want ErrNotFound", err)
		}
		if _, err := tx.Conversation(bob.Key()); err != nil {
			t.Errorf("Conversation(bob) after deleting alice's: %v", err)
		}
		return nil
	})
}

func testNextNumber(t *testing.T, s mamori.Store) {
	steps := []struct {
		kind string
		year int
		want int
	}{
		{mamori.KindReport, 2026, 1},
		{mamori.KindReport, 2026, 2},
		{mamori.KindConsult, 2026, 1},
		{mamori.KindReport, 2027, 1},
		{mamori.KindReport, 2026, 3},
		{mamori.KindConsult, 2026, 2},
		{mamori.KindReport, 2027, 2},
	}
	for _, st := range steps {
		MustUpdate(t, s, func(tx mamori.Tx) error {
			got, err := tx.NextNumber(st.kind, st.year)
			if err != nil {
				return err
			}
			if got != st.want {
				t.Errorf("NextNumber(%s, %d) = %d, want %d", st.kind, st.year, got, st.want)
			}
			return nil
		})
	}
	// Several in one transaction.
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for want := 4; want <= 6; want++ {
			got, err := tx.NextNumber(mamori.KindReport, 2026)
			if err != nil {
				return err
			}
			if got != want {
				t.Errorf("NextNumber in one tx = %d, want %d", got, want)
			}
		}
		return nil
	})
}

func testNextNumberConcurrent(t *testing.T, s mamori.Store) {
	const workers, each = 4, 10
	var (
		mu   sync.Mutex
		got  []int
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			for range each {
				var n int
				err := s.Update(context.Background(), func(tx mamori.Tx) error {
					var err error
					n, err = tx.NextNumber(mamori.KindReport, 2026)
					return err
				})
				if err == nil {
					mu.Lock()
					got = append(got, n)
					mu.Unlock()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	sort.Ints(got)
	var want []int
	for i := 1; i <= workers*each; i++ {
		want = append(want, i)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("numbers from concurrent updates (-want +got):\n%s", diff)
	}
}

func testCaseFilter(t *testing.T, s mamori.Store) {
	a := newCase("KH-2026-0201", alice, t0.Add(2*time.Hour))
	b := newCase("KH-2026-0202", bob, t0)
	b.Department = "other"
	c := newCase("KH-2026-0203", alice, t0.Add(time.Hour))
	c.Status = mamori.StatusJudged
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for _, k := range []mamori.Case{a, b, c} {
			if err := tx.InsertCase(k); err != nil {
				return err
			}
		}
		return nil
	})
	numbers := func(f mamori.CaseFilter) []string {
		var out []string
		MustView(t, s, func(tx mamori.Tx) error {
			cs, err := tx.Cases(f)
			for _, k := range cs {
				out = append(out, k.Number)
			}
			return err
		})
		return out
	}
	for _, tt := range []struct {
		name string
		f    mamori.CaseFilter
		want []string
	}{
		{"all, oldest first", mamori.CaseFilter{}, []string{"KH-2026-0202", "KH-2026-0203", "KH-2026-0201"}},
		{"open", mamori.CaseFilter{Open: true}, []string{"KH-2026-0202", "KH-2026-0201"}},
		{"department", mamori.CaseFilter{Departments: []string{a.Department}}, []string{"KH-2026-0203", "KH-2026-0201"}},
		{"departments", mamori.CaseFilter{Departments: []string{a.Department, "other"}, Open: true}, []string{"KH-2026-0202", "KH-2026-0201"}},
		{"from", mamori.CaseFilter{From: t0.Add(time.Hour)}, []string{"KH-2026-0203", "KH-2026-0201"}},
		{"to", mamori.CaseFilter{To: t0.Add(time.Hour)}, []string{"KH-2026-0202"}},
		{"limit", mamori.CaseFilter{Limit: 1}, []string{"KH-2026-0202"}},
		{"none", mamori.CaseFilter{Departments: []string{"nobody"}}, nil},
	} {
		if diff := cmp.Diff(tt.want, numbers(tt.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func testUpdateCase(t *testing.T, s mamori.Store) {
	c := newCase("KH-2026-0101", alice, t0)
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.InsertCase(c) })
	c.Status = mamori.StatusJudged
	c.Assignee = "slack:U0SUP"
	c.Updated = t0.Add(time.Hour)
	c.CheckinsStopped = true
	c.Taken, c.Judged = t0.Add(10*time.Minute), t0.Add(time.Hour)
	c.Decision = &mamori.Decision{Facts: "録音で確認", Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara,
		Actions: []string{"warn", "police"}, Note: "再発時は出入り禁止", By: "slack:U0SUP", At: t0.Add(time.Hour)}
	// The answers cannot be changed through an update.
	changed := c
	changed.Answers.Narrative = "書き換え"
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.UpdateCase(changed) })
	MustView(t, s, func(tx mamori.Tx) error {
		got, err := tx.Case(c.Number)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("case after update (-want +got):\n%s", diff)
		}
		return nil
	})
	missing := newCase("KH-2026-0999", alice, t0)
	err := s.Update(context.Background(), func(tx mamori.Tx) error { return tx.UpdateCase(missing) })
	if !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("UpdateCase of a missing case: err = %v, want ErrNotFound", err)
	}
}

func testCases(t *testing.T, s mamori.Store) {
	c1 := newCase("KH-2026-0001", alice, t0)
	c2 := newCase("SD-2026-0001", alice, t0.Add(time.Hour))
	c2.Kind = mamori.KindConsult
	c2.Status = mamori.StatusOpen
	c2.Route = mamori.RouteHR
	c2.Crime = false
	c2.Behaviours = nil
	c2.Answers = mamori.Answers{Worry: "相談内容", Contact: "yes"}
	c3 := newCase("KH-2026-0002", alice, t0.Add(2*time.Hour))
	c3.Department = ""
	cb := newCase("KH-2026-0003", bob, t0.Add(30*time.Minute))

	MustUpdate(t, s, func(tx mamori.Tx) error {
		if _, err := tx.Case("KH-2026-0001"); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Case before insert: err = %v, want ErrNotFound", err)
		}
		for _, c := range []mamori.Case{c1, c2, c3, cb} {
			if err := tx.InsertCase(c); err != nil {
				return err
			}
		}
		return nil
	})

	MustView(t, s, func(tx mamori.Tx) error {
		for _, want := range []mamori.Case{c1, c2, c3, cb} {
			got, err := tx.Case(want.Number)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Case(%s) (-want +got):\n%s", want.Number, diff)
			}
		}
		if _, err := tx.Case("KH-2026-9999"); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Case(unknown): err = %v, want ErrNotFound", err)
		}

		got, err := tx.CasesOf(alice.Key())
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]mamori.Case{c3, c2, c1}, got); diff != "" {
			t.Errorf("CasesOf(alice), want newest first (-want +got):\n%s", diff)
		}
		got, err = tx.CasesOf(bob.Key())
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]mamori.Case{cb}, got); diff != "" {
			t.Errorf("CasesOf(bob) (-want +got):\n%s", diff)
		}
		got, err = tx.CasesOf("slack:UNKNOWN")
		if err != nil {
			return err
		}
		if len(got) != 0 {
			t.Errorf("CasesOf(unknown) = %d cases, want none", len(got))
		}
		return nil
	})

	// A duplicate number is a conflict, and the first case stays.
	dup := newCase("KH-2026-0001", bob, t0.Add(3*time.Hour))
	err := s.Update(context.Background(), func(tx mamori.Tx) error { return tx.InsertCase(dup) })
	if !errors.Is(err, mamori.ErrConflict) {
		t.Errorf("InsertCase(duplicate): err = %v, want ErrConflict", err)
	}
	MustView(t, s, func(tx mamori.Tx) error {
		got, err := tx.Case("KH-2026-0001")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(c1, got); diff != "" {
			t.Errorf("Case after duplicate insert (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testRollback(t *testing.T, s mamori.Store) {
	errBoom := errors.New("boom")
	err := s.Update(context.Background(), func(tx mamori.Tx) error {
		if _, err := tx.Seen("Ev01", t0); err != nil {
			return err
		}
		if err := tx.PutConversation(conversation(alice)); err != nil {
			return err
		}
		if _, err := tx.NextNumber(mamori.KindReport, 2026); err != nil {
			return err
		}
		if err := tx.InsertCase(newCase("KH-2026-0001", alice, t0)); err != nil {
			return err
		}
		if err := tx.Enqueue(item("m1", t0)); err != nil {
			return err
		}
		if err := tx.Schedule(mamori.Job{Key: "j1", Kind: "remind", Due: t0}); err != nil {
			return err
		}
		if err := tx.Audit(mamori.AuditEntry{At: t0, Actor: "system", Action: "case.submitted", Subject: "KH-2026-0001"}); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}

	MustUpdate(t, s, func(tx mamori.Tx) error {
		if fresh, err := tx.Seen("Ev01", t0); err != nil || !fresh {
			t.Errorf("Seen after rollback = %v, %v; want fresh", fresh, err)
		}
		if _, err := tx.Conversation(alice.Key()); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Conversation after rollback: err = %v, want ErrNotFound", err)
		}
		if n, err := tx.NextNumber(mamori.KindReport, 2026); err != nil || n != 1 {
			t.Errorf("NextNumber after rollback = %d, %v; want 1", n, err)
		}
		if _, err := tx.Case("KH-2026-0001"); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Case after rollback: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if items := claimOutbox(t, s, t0.Add(time.Hour), time.Minute, 10); len(items) != 0 {
		t.Errorf("ClaimOutbox after rollback = %v, want none", keys(items))
	}
	if jobs := claimJobs(t, s, t0.Add(time.Hour), time.Minute, 10); len(jobs) != 0 {
		t.Errorf("ClaimJobs after rollback = %v, want none", jobKeys(jobs))
	}
}

func testView(t *testing.T, s mamori.Store) {
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.PutConversation(conversation(alice)) })
	MustView(t, s, func(tx mamori.Tx) error {
		_, err := tx.Conversation(alice.Key())
		return err
	})
	errBoom := errors.New("boom")
	if err := s.View(context.Background(), func(tx mamori.Tx) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("View returned %v, want fn's error", err)
	}
	// A View cannot write.
	err := s.View(context.Background(), func(tx mamori.Tx) error { return tx.Enqueue(item("m1", t0)) })
	if err == nil {
		t.Errorf("Enqueue in a View succeeded, want an error")
	}
	if items := claimOutbox(t, s, t0.Add(time.Hour), time.Minute, 10); len(items) != 0 {
		t.Errorf("ClaimOutbox after Enqueue in View = %v, want none", keys(items))
	}
}

func testEnqueue(t *testing.T, s mamori.Store) {
	first := item("reply:Ev01", t0)
	enqueue(t, s, first)
	// The same key again, with another message, is ignored.
	again := item("reply:Ev01", t0.Add(time.Second))
	again.Message = mamori.Message{Text: "other"}
	enqueue(t, s, again)

	got := claimOutbox(t, s, t0.Add(time.Minute), time.Minute, 10)
	want := first
	want.Status = mamori.OutboxPending
	want.Attempts = 1
	if diff := cmp.Diff([]mamori.OutboxItem{want}, got, ignoreID); diff != "" {
		t.Errorf("claimed after enqueueing a key twice (-want +got):\n%s", diff)
	}
	if len(got) == 1 && got[0].ID == 0 {
		t.Errorf("claimed item has no ID")
	}

	if err := s.Update(context.Background(), func(tx mamori.Tx) error { return tx.Enqueue(item("", t0)) }); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("Enqueue without key: err = %v, want ErrInvalid", err)
	}
}

func testClaimOutbox(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	// One target each: the order of messages to one target is
	// testClaimOutboxInOrder's.
	m1, m2, m3 := item("m1", t0), item("m2", t0.Add(time.Second)), item("m3", t0.Add(2*time.Second))
	m2.Target.ID, m3.Target.ID = "U02", "U03"
	enqueue(t, s, m1, m2, m3)

	// Nothing is due before it was created.
	if got := claimOutbox(t, s, t0.Add(-time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim before due = %v, want none", keys(got))
	}
	if got, err := s.ClaimOutbox(ctx, t0.Add(time.Minute), time.Minute, 0); err != nil || len(got) != 0 {
		t.Errorf("claim with limit 0 = %v, %v; want none", keys(got), err)
	}

	now := t0.Add(10 * time.Second)
	got := claimOutbox(t, s, now, time.Minute, 2)
	if diff := cmp.Diff([]string{"m1", "m2"}, keys(got)); diff != "" {
		t.Errorf("first claim, oldest first (-want +got):\n%s", diff)
	}
	for _, m := range got {
		if m.Attempts != 1 {
			t.Errorf("%s: Attempts = %d, want 1", m.Key, m.Attempts)
		}
	}
	// Leased items are not claimed again while the lease holds.
	got = claimOutbox(t, s, now.Add(30*time.Second), time.Minute, 10)
	if diff := cmp.Diff([]string{"m3"}, keys(got)); diff != "" {
		t.Errorf("claim during lease (-want +got):\n%s", diff)
	}
	if got := claimOutbox(t, s, now.Add(59*time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim just before lease end = %v, want none", keys(got))
	}
	// An expired lease (a worker that crashed) frees them again.
	got = claimOutbox(t, s, now.Add(time.Minute), time.Minute, 10)
	if diff := cmp.Diff([]string{"m1", "m2"}, keys(got)); diff != "" {
		t.Errorf("claim after lease expiry (-want +got):\n%s", diff)
	}
	for _, m := range got {
		if m.Attempts != 2 {
			t.Errorf("%s: Attempts after second claim = %d, want 2", m.Key, m.Attempts)
		}
	}
}

// testClaimOutboxInOrder: while an older message to a target waits for a
// retry or is leased, a newer one to the same target is not claimed, so a
// conversation never arrives out of order; other targets go on.
func testClaimOutboxInOrder(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	a1, a2, b1 := item("a1", t0), item("a2", t0), item("b1", t0)
	b1.Target.ID = "U02BOB"
	enqueue(t, s, a1, a2, b1)
	got := claimOutbox(t, s, t0, time.Minute, 1)
	if diff := cmp.Diff([]string{"a1"}, keys(got)); diff != "" {
		t.Fatalf("first claim (-want +got):\n%s", diff)
	}
	if err := s.RetryOutbox(ctx, got[0].ID, t0.Add(time.Hour), "429", false); err != nil {
		t.Fatal(err)
	}
	got = claimOutbox(t, s, t0.Add(time.Second), time.Minute, 10)
	if diff := cmp.Diff([]string{"b1"}, keys(got)); diff != "" {
		t.Errorf("claim while a1 waits (-want +got):\n%s", diff)
	}
	for _, m := range got {
		if err := s.SentOutbox(ctx, m.ID, mamori.Posted{Channel: "D1", TS: "1"}, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	got = claimOutbox(t, s, t0.Add(2*time.Hour), time.Minute, 10)
	if diff := cmp.Diff([]string{"a1", "a2"}, keys(got)); diff != "" {
		t.Errorf("claim after a1 is due (-want +got):\n%s", diff)
	}
}

// testClaimOutboxBacklog: behind a long backlog to one target that waits,
// the few messages to other targets are still found, in order.
func testClaimOutboxBacklog(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	var backlog []mamori.OutboxItem
	for i := range 300 {
		backlog = append(backlog, item(fmt.Sprintf("a%03d", i), t0))
	}
	enqueue(t, s, backlog...)
	others := []mamori.OutboxItem{item("b", t0), item("c", t0), item("b2", t0)}
	others[0].Target.ID, others[1].Target.ID, others[2].Target.ID = "U02BOB", "U03CAROL", "U02BOB"
	enqueue(t, s, others...)
	got := claimOutbox(t, s, t0, time.Minute, 1)
	if diff := cmp.Diff([]string{"a000"}, keys(got)); diff != "" {
		t.Fatalf("first claim (-want +got):\n%s", diff)
	}
	if err := s.RetryOutbox(ctx, got[0].ID, t0.Add(time.Hour), "429", false); err != nil {
		t.Fatal(err)
	}
	got = claimOutbox(t, s, t0.Add(time.Second), time.Minute, 10)
	if diff := cmp.Diff([]string{"b", "c", "b2"}, keys(got)); diff != "" {
		t.Errorf("claim behind the waiting backlog (-want +got):\n%s", diff)
	}
	got = claimOutbox(t, s, t0.Add(2*time.Hour), time.Minute, 3)
	if diff := cmp.Diff([]string{"a000", "a001", "a002"}, keys(got)); diff != "" {
		t.Errorf("claim once the backlog is due (-want +got):\n%s", diff)
	}
}

// testClaimOutboxUrgent: an urgent item (mamori.UrgentKey, an SOS alert)
// is claimed first, ahead of a backlog of older items, even one to its own
// target; urgent items to one target still go in order, and one not yet
// due waits like any other.
func testClaimOutboxUrgent(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	dept := mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetChannel, ID: "C0DEPT"}
	var backlog []mamori.OutboxItem
	for i := range 500 {
		it := item(fmt.Sprintf("campaign:%03d", i), t0)
		it.Target.ID = fmt.Sprintf("U%03d", i)
		if i == 250 {
			it.Key, it.Target = "note:dept", dept // an older message to the alert's channel
		}
		backlog = append(backlog, it)
	}
	enqueue(t, s, backlog...)
	sos := func(key string, to mamori.Target, created time.Time) mamori.OutboxItem {
		it := item(mamori.UrgentKey+key, created)
		it.Target = to
		return it
	}
	other := dept
	other.ID = "C0OTHER"
	later := sos("sos:later:other", other, t0.Add(time.Hour)) // not due until then
	enqueue(t, s, later, sos("sos:1:dept", dept, t0.Add(time.Second)))

	now := t0.Add(2 * time.Second)
	got := claimOutbox(t, s, now, time.Minute, 8)
	want := []string{mamori.UrgentKey + "sos:1:dept"}
	for i := range 7 {
		want = append(want, fmt.Sprintf("campaign:%03d", i))
	}
	if diff := cmp.Diff(want, keys(got)); diff != "" {
		t.Fatalf("claim of 8 behind 500 older items (-want +got):\n%s", diff)
	}
	if got[0].Target != dept || got[0].Attempts != 1 {
		t.Errorf("urgent item claimed = %+v", got[0])
	}

	// A second alert to the same channel waits for the first, still
	// leased; one to another channel goes at once.
	hr := dept
	hr.ID = "C0HR"
	enqueue(t, s, sos("sos:2:dept", dept, now), sos("sos:2:hr", hr, now))
	got = claimOutbox(t, s, now, time.Minute, 2)
	if diff := cmp.Diff([]string{mamori.UrgentKey + "sos:2:hr", "campaign:007"}, keys(got)); diff != "" {
		t.Errorf("claim while the first alert is leased (-want +got):\n%s", diff)
	}
	first, err := s.ListOutbox(ctx, mamori.OutboxPending, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range first {
		if m.Key == mamori.UrgentKey+"sos:1:dept" {
			if err := s.SentOutbox(ctx, m.ID, mamori.Posted{Channel: "C0DEPT", TS: "1"}, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	got = claimOutbox(t, s, now, time.Minute, 1)
	if diff := cmp.Diff([]string{mamori.UrgentKey + "sos:2:dept"}, keys(got)); diff != "" {
		t.Errorf("claim once the first alert is sent (-want +got):\n%s", diff)
	}
	// The alert not yet due is not taken, and holds back no other target.
	got = claimOutbox(t, s, now, time.Minute, 3)
	if diff := cmp.Diff([]string{"campaign:008", "campaign:009", "campaign:010"}, keys(got)); diff != "" {
		t.Errorf("claim with only a later alert left (-want +got):\n%s", diff)
	}
	// Leases long run out: the urgent items, due or leased no more, first.
	got = claimOutbox(t, s, t0.Add(2*time.Hour), time.Minute, 4)
	want = []string{mamori.UrgentKey + "sos:later:other", mamori.UrgentKey + "sos:2:dept", mamori.UrgentKey + "sos:2:hr", "campaign:000"}
	if diff := cmp.Diff(want, keys(got)); diff != "" {
		t.Errorf("claim once the later alert is due (-want +got):\n%s", diff)
	}
}

func testClaimOutboxExclusive(t *testing.T, s mamori.Store) {
	const n, workers = 30, 4
	var items []mamori.OutboxItem
	for i := range n {
		it := item(fmt.Sprintf("m%02d", i), t0)
		it.Target.ID = fmt.Sprintf("U%02d", i) // one target each: order per target is another test
		items = append(items, it)
	}
	enqueue(t, s, items...)

	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			for {
				got, err := s.ClaimOutbox(context.Background(), t0.Add(time.Second), time.Hour, 3)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					claimed[m.Key]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ClaimOutbox: %v", err)
	}
	if len(claimed) != n {
		t.Errorf("claimed %d distinct items, want %d", len(claimed), n)
	}
	for k, c := range claimed {
		if c != 1 {
			t.Errorf("%s claimed %d times, want once", k, c)
		}
	}
}

func testRetryOutbox(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	enqueue(t, s, item("m1", t0), item("m2", t0))
	got := claimOutbox(t, s, t0, time.Minute, 10)
	if len(got) != 2 {
		t.Fatalf("claimed %d items, want 2", len(got))
	}
	m1, m2 := got[0], got[1]

	// A retry releases the lease; the item is due again at next.
	next := t0.Add(10 * time.Second)
	if err := s.RetryOutbox(ctx, m1.ID, next, "rate limited", false); err != nil {
		t.Fatal(err)
	}
	if got := claimOutbox(t, s, next.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim before retry is due = %v, want none", keys(got))
	}
	got = claimOutbox(t, s, next, time.Minute, 10)
	if diff := cmp.Diff([]string{"m1"}, keys(got)); diff != "" {
		t.Fatalf("claim when retry is due (-want +got):\n%s", diff)
	}
	if got[0].Attempts != 2 || got[0].LastErr != "rate limited" || got[0].Status != mamori.OutboxPending {
		t.Errorf("retried item: Attempts %d, LastErr %q, Status %q; want 2, %q, %q",
			got[0].Attempts, got[0].LastErr, got[0].Status, "rate limited", mamori.OutboxPending)
	}

	// Giving up marks it failed; it is never claimed again.
	if err := s.RetryOutbox(ctx, m2.ID, t0, "channel_not_found", true); err != nil {
		t.Fatal(err)
	}
	// m1's lease is long past by then, so it may come back; m2 must not.
	for _, m := range claimOutbox(t, s, t0.Add(24*time.Hour), time.Minute, 10) {
		if m.Key == "m2" {
			t.Errorf("failed item m2 claimed again")
		}
	}
	failed, err := s.ListOutbox(ctx, mamori.OutboxFailed, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Key != "m2" || failed[0].LastErr != "channel_not_found" || failed[0].Status != mamori.OutboxFailed {
		t.Errorf("ListOutbox(failed) = %+v, want m2 failed with channel_not_found", failed)
	}

	if err := s.RetryOutbox(ctx, 999999, t0, "x", false); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("RetryOutbox(unknown): err = %v, want ErrNotFound", err)
	}
}

// testOutboxPending: an item to the target created at or after since
// counts while it is pending — waiting, retried or leased — and no longer
// once sent or failed; older items, other targets and a thread of the
// same target do not count.
func testOutboxPending(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	alice := item("", t0).Target
	bob, thread := alice, alice
	bob.ID = "U02BOB"
	thread.Thread = "case:2026-0001"
	pending := func(to mamori.Target, since time.Time) bool {
		t.Helper()
		var p bool
		MustView(t, s, func(tx mamori.Tx) error {
			var err error
			p, err = tx.OutboxPending(to, since)
			return err
		})
		return p
	}
	if pending(alice, time.Time{}) {
		t.Errorf("OutboxPending on an empty outbox = true")
	}

	// Within the transaction that enqueues it, the item is there.
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.Enqueue(item("old", t0.Add(-time.Hour))); err != nil {
			return err
		}
		if err := tx.Enqueue(item("q1", t0)); err != nil {
			return err
		}
		p, err := tx.OutboxPending(alice, t0)
		if err == nil && !p {
			t.Errorf("OutboxPending in the enqueuing transaction = false, want true")
		}
		return err
	})
	for _, c := range []struct {
		name  string
		to    mamori.Target
		since time.Time
		want  bool
	}{
		{"at its creation", alice, t0, true},
		{"before it", alice, t0.Add(-time.Minute), true},
		{"after it (only an older item pending)", alice, t0.Add(time.Millisecond), false},
		{"another target", bob, t0.Add(-2 * time.Hour), false},
		{"a thread of the target", thread, t0.Add(-2 * time.Hour), false},
	} {
		if got := pending(c.to, c.since); got != c.want {
			t.Errorf("OutboxPending %s = %v, want %v", c.name, got, c.want)
		}
	}

	// Leased and retried, it is still pending; sent, it is not.
	got := claimOutbox(t, s, t0, time.Minute, 10)
	if diff := cmp.Diff([]string{"old", "q1"}, keys(got)); diff != "" {
		t.Fatalf("claim (-want +got):\n%s", diff)
	}
	if !pending(alice, t0) {
		t.Errorf("OutboxPending while leased = false, want true")
	}
	if err := s.RetryOutbox(ctx, got[1].ID, t0.Add(time.Second), "429", false); err != nil {
		t.Fatal(err)
	}
	if !pending(alice, t0) {
		t.Errorf("OutboxPending while waiting for a retry = false, want true")
	}
	if err := s.SentOutbox(ctx, got[1].ID, mamori.Posted{Channel: "D1", TS: "1"}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if pending(alice, t0) {
		t.Errorf("OutboxPending once sent = true, want false")
	}
	if !pending(alice, t0.Add(-time.Hour)) {
		t.Errorf("OutboxPending since the older item = false, want true")
	}

	// Failed for good, it is not pending either.
	enqueue(t, s, item("q2", t0.Add(time.Minute)))
	if err := s.RetryOutbox(ctx, got[0].ID, t0, "channel_not_found", true); err != nil {
		t.Fatal(err)
	}
	q2 := claimOutbox(t, s, t0.Add(time.Minute), time.Minute, 10)
	if diff := cmp.Diff([]string{"q2"}, keys(q2)); diff != "" {
		t.Fatalf("claim q2 (-want +got):\n%s", diff)
	}
	if err := s.RetryOutbox(ctx, q2[0].ID, t0, "channel_not_found", true); err != nil {
		t.Fatal(err)
	}
	if pending(alice, t0.Add(-2*time.Hour)) {
		t.Errorf("OutboxPending with only failed and sent items = true, want false")
	}
}

// testRenewOutbox: a worker renews the leases of what it holds; an item
// whose lease ran out, that another worker claimed since, or that is sent
// is not renewed.
func testRenewOutbox(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	renew := func(items []mamori.OutboxItem, now, until time.Time) []int64 {
		t.Helper()
		kept, err := s.RenewOutbox(ctx, items, now, until)
		if err != nil {
			t.Fatalf("RenewOutbox: %v", err)
		}
		return kept
	}
	if kept := renew(nil, t0, t0.Add(time.Second)); len(kept) != 0 {
		t.Errorf("RenewOutbox(nothing) = %v, want none", kept)
	}
	a, b, c := item("a", t0), item("b", t0), item("c", t0)
	b.Target.ID, c.Target.ID = "U02BOB", "U03CAROL"
	enqueue(t, s, a, b, c)
	held := claimOutbox(t, s, t0, 3*time.Second, 10)
	if diff := cmp.Diff([]string{"a", "b", "c"}, keys(held)); diff != "" {
		t.Fatalf("claim (-want +got):\n%s", diff)
	}
	ids := func(items ...mamori.OutboxItem) []int64 {
		var ids []int64
		for _, m := range items {
			ids = append(ids, m.ID)
		}
		return ids
	}

	// Renewed, the leases outlast the claim's.
	if diff := cmp.Diff(ids(held...), renew(held, t0.Add(2*time.Second), t0.Add(5*time.Second))); diff != "" {
		t.Errorf("renewed (-want +got):\n%s", diff)
	}
	if got := claimOutbox(t, s, t0.Add(4*time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim while renewed = %v, want none", keys(got))
	}

	// Sent, c is not renewed; the others are, once more.
	if err := s.SentOutbox(ctx, held[2].ID, mamori.Posted{Channel: "D3", TS: "1"}, t0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(held[0], held[1]), renew(held, t0.Add(4*time.Second), t0.Add(7*time.Second))); diff != "" {
		t.Errorf("renewed with one sent (-want +got):\n%s", diff)
	}

	// The leases run out; another worker claims b. Neither is renewed:
	// a's lease is over, b is the other worker's.
	other := claimOutbox(t, s, t0.Add(7*time.Second), time.Minute, 1)
	if diff := cmp.Diff([]string{"a"}, keys(other)); diff != "" {
		t.Fatalf("claim after the leases ran out (-want +got):\n%s", diff)
	}
	if err := s.RetryOutbox(ctx, other[0].ID, t0.Add(time.Hour), "429", false); err != nil {
		t.Fatal(err)
	}
	other = claimOutbox(t, s, t0.Add(7*time.Second), time.Minute, 1)
	if diff := cmp.Diff([]string{"b"}, keys(other)); diff != "" {
		t.Fatalf("second claim (-want +got):\n%s", diff)
	}
	if kept := renew(held[:2], t0.Add(8*time.Second), t0.Add(11*time.Second)); len(kept) != 0 {
		t.Errorf("renewed after the leases ran out = %v, want none", kept)
	}
	// The other worker's lease is untouched: b is not claimable until it ends.
	if got := claimOutbox(t, s, t0.Add(7*time.Second+time.Minute-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim during the other worker's lease = %v, want none", keys(got))
	}
	// Its own claim it renews.
	if diff := cmp.Diff(ids(other...), renew(other, t0.Add(8*time.Second), t0.Add(2*time.Minute))); diff != "" {
		t.Errorf("the other worker's renewal (-want +got):\n%s", diff)
	}
}

func testSentOutbox(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	withRef := item("card:KH-2026-0001", t0)
	withRef.Message = message("case:KH-2026-0001")
	withRef.Target = mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetChannel, ID: "C0SUPERVISORS"}
	enqueue(t, s, withRef, item("plain", t0))

	if _, err := s.PostedRef(ctx, "case:KH-2026-0001"); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("PostedRef before sending: err = %v, want ErrNotFound", err)
	}
	got := claimOutbox(t, s, t0, time.Minute, 10)
	if len(got) != 2 {
		t.Fatalf("claimed %d items, want 2", len(got))
	}
	p := mamori.Posted{Channel: "C0SUPERVISORS", TS: "1711962000.000100"}
	if err := s.SentOutbox(ctx, got[0].ID, p, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.SentOutbox(ctx, got[1].ID, mamori.Posted{Channel: "D01", TS: "1.2"}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	posted, err := s.PostedRef(ctx, "case:KH-2026-0001")
	if err != nil {
		t.Fatal(err)
	}
	if posted != p {
		t.Errorf("PostedRef = %+v, want %+v", posted, p)
	}
	if _, err := s.PostedRef(ctx, ""); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("PostedRef(\"\") after sending a message without Ref: err = %v, want ErrNotFound", err)
	}

	// Sent items are never claimed again, even after the lease.
	if got := claimOutbox(t, s, t0.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim after sent = %v, want none", keys(got))
	}
	sent, err := s.ListOutbox(ctx, mamori.OutboxSent, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"card:KH-2026-0001", "plain"}, keys(sent)); diff != "" {
		t.Errorf("ListOutbox(sent) (-want +got):\n%s", diff)
	}

	// A later message with the same Ref, sent elsewhere, moves the ref.
	update := item("card:KH-2026-0001:judged", t0.Add(time.Minute))
	update.Message = message("case:KH-2026-0001")
	enqueue(t, s, update)
	got = claimOutbox(t, s, t0.Add(time.Minute), time.Minute, 10)
	if len(got) != 1 {
		t.Fatalf("claimed %d items, want 1", len(got))
	}
	p2 := mamori.Posted{Channel: "C0SUPERVISORS", TS: "1711962060.000200"}
	if err := s.SentOutbox(ctx, got[0].ID, p2, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if posted, err := s.PostedRef(ctx, "case:KH-2026-0001"); err != nil || posted != p2 {
		t.Errorf("PostedRef after update = %+v, %v; want %+v", posted, err, p2)
	}

	if err := s.SentOutbox(ctx, 999999, p, t0); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("SentOutbox(unknown): err = %v, want ErrNotFound", err)
	}
}

func testListOutbox(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	a, b, c := item("a", t0), item("b", t0.Add(time.Second)), item("c", t0.Add(2*time.Second))
	b.Target = mamori.Target{Platform: mamori.PlatformTeams, Kind: mamori.TargetChannel, ID: "19:abc@thread.tacv2"}
	b.Lang = mamori.EN
	b.Message = message("ref-b")
	enqueue(t, s, a, b, c)

	got, err := s.ListOutbox(ctx, mamori.OutboxPending, 10)
	if err != nil {
		t.Fatal(err)
	}
	var want []mamori.OutboxItem
	for _, m := range []mamori.OutboxItem{a, b, c} {
		m.Status = mamori.OutboxPending
		want = append(want, m)
	}
	if diff := cmp.Diff(want, got, ignoreID); diff != "" {
		t.Errorf("ListOutbox(pending) (-want +got):\n%s", diff)
	}
	got, err = s.ListOutbox(ctx, mamori.OutboxPending, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, keys(got)); diff != "" {
		t.Errorf("ListOutbox(pending, 2) (-want +got):\n%s", diff)
	}
	got, err = s.ListOutbox(ctx, mamori.OutboxSent, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("ListOutbox(sent) = %v, want none", keys(got))
	}
}

func testSchedule(t *testing.T, s mamori.Store) {
	payload := json.RawMessage(`{"case":"KH-2026-0001","note":"秘密のナラティブ"}`)
	first := mamori.Job{Key: "checkin:KH-2026-0001", Kind: "checkin", Due: t0.Add(24 * time.Hour), Payload: payload}
	schedule(t, s, first)
	// The same key while the first is pending is left alone.
	schedule(t, s, mamori.Job{Key: "checkin:KH-2026-0001", Kind: "other", Due: t0.Add(time.Hour)})
	schedule(t, s, mamori.Job{Key: "remind:slack:U01ALICE", Kind: "remind", Due: t0.Add(48 * time.Hour)})

	if got := claimJobs(t, s, t0.Add(2*time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim before due = %v, want none (the duplicate must not change Due)", jobKeys(got))
	}
	got := claimJobs(t, s, t0.Add(72*time.Hour), time.Minute, 10)
	want := []mamori.Job{
		{Key: "checkin:KH-2026-0001", Kind: "checkin", Due: first.Due, Payload: payload, Attempts: 1},
		{Key: "remind:slack:U01ALICE", Kind: "remind", Due: t0.Add(48 * time.Hour), Attempts: 1},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(mamori.Job{}, "ID")); diff != "" {
		t.Errorf("claimed jobs, earliest due first (-want +got):\n%s", diff)
	}

	if err := s.Update(context.Background(), func(tx mamori.Tx) error { return tx.Schedule(mamori.Job{Kind: "x", Due: t0}) }); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("Schedule without key: err = %v, want ErrInvalid", err)
	}
}

func testCancelJobs(t *testing.T, s mamori.Store) {
	schedule(t, s,
		mamori.Job{Key: "remind:a", Kind: "remind", Due: t0},
		mamori.Job{Key: "remind:b", Kind: "remind", Due: t0},
	)
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.CancelJobs("remind:a"); err != nil {
			return err
		}
		return tx.CancelJobs("remind:none")
	})
	got := claimJobs(t, s, t0, 24*time.Hour, 10)
	if diff := cmp.Diff([]string{"remind:b"}, jobKeys(got)); diff != "" {
		t.Errorf("claim after cancel (-want +got):\n%s", diff)
	}
	// A canceled key can be scheduled anew.
	schedule(t, s, mamori.Job{Key: "remind:a", Kind: "remind", Due: t0.Add(time.Hour)})
	got = claimJobs(t, s, t0.Add(time.Hour), time.Minute, 10)
	if diff := cmp.Diff([]string{"remind:a"}, jobKeys(got)); diff != "" {
		t.Errorf("claim after rescheduling a canceled key (-want +got):\n%s", diff)
	}
	// Canceling a leased job stops it coming back after the lease.
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.CancelJobs("remind:a") })
	if got := claimJobs(t, s, t0.Add(3*time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim after canceling a leased job = %v, want none", jobKeys(got))
	}
	got = claimJobs(t, s, t0.Add(25*time.Hour), time.Minute, 10)
	if diff := cmp.Diff([]string{"remind:b"}, jobKeys(got)); diff != "" {
		t.Errorf("claim after remind:b's lease (-want +got):\n%s", diff)
	}
}

func testClaimJobs(t *testing.T, s mamori.Store) {
	schedule(t, s,
		mamori.Job{Key: "late", Kind: "k", Due: t0.Add(time.Hour)},
		mamori.Job{Key: "early", Kind: "k", Due: t0},
		mamori.Job{Key: "mid", Kind: "k", Due: t0.Add(30 * time.Minute)},
	)
	if got := claimJobs(t, s, t0.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim before due = %v, want none", jobKeys(got))
	}
	now := t0.Add(45 * time.Minute)
	got := claimJobs(t, s, now, time.Minute, 1)
	if diff := cmp.Diff([]string{"early"}, jobKeys(got)); diff != "" {
		t.Errorf("claim limit 1 (-want +got):\n%s", diff)
	}
	got = claimJobs(t, s, now, time.Minute, 10)
	if diff := cmp.Diff([]string{"mid"}, jobKeys(got)); diff != "" {
		t.Errorf("second claim, while early is leased (-want +got):\n%s", diff)
	}
	if got := claimJobs(t, s, now.Add(59*time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim during leases = %v, want none", jobKeys(got))
	}
	got = claimJobs(t, s, now.Add(time.Minute), time.Minute, 10)
	if diff := cmp.Diff([]string{"early", "mid"}, jobKeys(got)); diff != "" {
		t.Errorf("claim after lease expiry (-want +got):\n%s", diff)
	}
	for _, j := range got {
		if j.Attempts != 2 {
			t.Errorf("%s: Attempts = %d, want 2", j.Key, j.Attempts)
		}
	}
	if got, err := s.ClaimJobs(context.Background(), now, time.Minute, 0); err != nil || len(got) != 0 {
		t.Errorf("claim with limit 0 = %v, %v; want none", jobKeys(got), err)
	}
}

func testDoneJob(t *testing.T, s mamori.Store) {
	ctx := context.Background()
	schedule(t, s, mamori.Job{Key: "checkin:1", Kind: "checkin", Due: t0})
	got := claimJobs(t, s, t0, time.Minute, 10)
	if len(got) != 1 {
		t.Fatalf("claimed %d jobs, want 1", len(got))
	}
	if err := s.DoneJob(ctx, got[0].ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Done twice is fine (a worker retrying its own bookkeeping).
	if err := s.DoneJob(ctx, got[0].ID, t0.Add(2*time.Second)); err != nil {
		t.Errorf("DoneJob twice: %v", err)
	}
	if got := claimJobs(t, s, t0.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim after done = %v, want none", jobKeys(got))
	}
	// A done key can be scheduled again.
	schedule(t, s, mamori.Job{Key: "checkin:1", Kind: "checkin", Due: t0.Add(time.Hour)})
	if got := claimJobs(t, s, t0.Add(time.Hour), time.Minute, 10); len(got) != 1 {
		t.Errorf("claim after rescheduling a done key = %v, want it", jobKeys(got))
	}
	if err := s.DoneJob(ctx, 999999, t0); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("DoneJob(unknown): err = %v, want ErrNotFound", err)
	}
}

func testAudit(t *testing.T, s mamori.Store) {
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for i, e := range []mamori.AuditEntry{
			{At: t0, Actor: alice.Key(), Action: "case.submitted", Subject: "KH-2026-0001"},
			{At: t0.Add(time.Second), Actor: "system", Action: "case.routed", Subject: "KH-2026-0001", Detail: "department=sales"},
		} {
			if err := tx.Audit(e); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
		return nil
	})
	MustUpdate(t, s, func(tx mamori.Tx) error {
		return tx.Audit(mamori.AuditEntry{At: t0.Add(time.Minute), Actor: "slack:U0SUP", Action: "case.viewed", Subject: "KH-2026-0001"})
	})
}

func testCareTasks(t *testing.T, s mamori.Store) {
	k := newCase("KH-2026-0201", alice, t0)
	task := mamori.CareTask{Number: k.Number, Reporter: alice, Reason: mamori.CareReasonCheckHard, Words: "まだ眠れない", Status: mamori.CareOpen,
		Due: t0.Add(24 * time.Hour), Created: t0}
	var id int64
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.InsertCase(k); err != nil {
			return err
		}
		var fresh bool
		var err error
		if id, fresh, err = tx.InsertCareTask(task); err != nil || !fresh {
			return fmt.Errorf("InsertCareTask = %d, %v, %v; want a fresh task", id, fresh, err)
		}
		// The same case and reason while the first is open: the same task.
		again, fresh, err := tx.InsertCareTask(task)
		if err != nil || fresh || again != id {
			return fmt.Errorf("InsertCareTask again = %d, %v, %v; want %d, not fresh", again, fresh, err, id)
		}
		// Another reason is another task.
		other := task
		other.Reason = mamori.CareReasonCheckTalk
		if _, fresh, err := tx.InsertCareTask(other); err != nil || !fresh {
			return fmt.Errorf("InsertCareTask other reason: %v, %v", fresh, err)
		}
		return nil
	})
	task.ID, task.Updated = id, t0
	MustView(t, s, func(tx mamori.Tx) error {
		got, err := tx.CareTask(id)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(task, got); diff != "" {
			t.Errorf("care task (-want +got):\n%s", diff)
		}
		return nil
	})
	task.Status, task.Assignee, task.Updated = mamori.CareClosed, "slack:U0HR", t0.Add(time.Hour)
	task.Notes = []mamori.CareNote{{At: t0.Add(time.Hour), By: "slack:U0HR", Text: "電話で話した。産業医面談を予約。"},
		{At: t0.Add(2 * time.Hour), By: alice.Key(), Text: mamori.CareReasonCheckHard, Words: "休みたい"}}
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.UpdateCareTask(task) })
	MustView(t, s, func(tx mamori.Tx) error {
		got, err := tx.CareTask(id)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(task, got); diff != "" {
			t.Errorf("care task after update (-want +got):\n%s", diff)
		}
		open, err := tx.CareTasks(true)
		if err != nil {
			return err
		}
		if len(open) != 1 || open[0].Reason != mamori.CareReasonCheckTalk {
			t.Errorf("open care tasks = %+v, want the talk one", open)
		}
		all, err := tx.CareTasks(false)
		if err != nil {
			return err
		}
		if len(all) != 2 || all[0].ID != id {
			t.Errorf("all care tasks = %d, want 2, oldest first", len(all))
		}
		if _, err := tx.CareTask(9999); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("CareTask(9999): err = %v, want ErrNotFound", err)
		}
		return nil
	})
	// A closed task does not stop a new one for the same reason.
	MustUpdate(t, s, func(tx mamori.Tx) error {
		n, fresh, err := tx.InsertCareTask(mamori.CareTask{Number: k.Number, Reporter: alice, Reason: mamori.CareReasonCheckHard,
			Due: t0.Add(48 * time.Hour), Created: t0.Add(2 * time.Hour)})
		if err != nil || !fresh || n == id {
			return fmt.Errorf("InsertCareTask after close = %d, %v, %v; want a new task", n, fresh, err)
		}
		return nil
	})
	missing := task
	missing.ID = 9999
	if err := s.Update(context.Background(), func(tx mamori.Tx) error { return tx.UpdateCareTask(missing) }); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("UpdateCareTask of a missing task: err = %v, want ErrNotFound", err)
	}
}

func testTraining(t *testing.T, s mamori.Store) {
	bob := mamori.User{Platform: mamori.PlatformSlack, ID: "U0BOB", Lang: mamori.EN}
	a := mamori.Assignment{Programme: "basics", User: alice, Department: "sales", Round: 1, Assigned: t0, Due: t0.Add(14 * 24 * time.Hour)}
	b := mamori.Assignment{Programme: "basics", User: bob, Department: "support", Round: 1, Assigned: t0, Due: t0.Add(7 * 24 * time.Hour)}
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for _, x := range []mamori.Assignment{a, b} {
			if fresh, err := tx.Assign(x); err != nil || !fresh {
				return fmt.Errorf("Assign %s: %v, %v", x.User.ID, fresh, err)
			}
		}
		changed := a
		changed.Due = t0
		if fresh, err := tx.Assign(changed); err != nil || fresh {
			return fmt.Errorf("Assign again: fresh=%v, %v; want not fresh", fresh, err)
		}
		next := a
		next.Round = 2
		if fresh, err := tx.Assign(next); err != nil || !fresh {
			return fmt.Errorf("Assign round 2: %v, %v", fresh, err)
		}
		return nil
	})
	a.Done = t0.Add(time.Hour)
	b.Nudged = t0.Add(8 * 24 * time.Hour)
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.PutAssignment(a); err != nil {
			return err
		}
		return tx.PutAssignment(b)
	})
	MustView(t, s, func(tx mamori.Tx) error {
		got, err := tx.Assignment("basics", alice.Key(), 1)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("assignment (-want +got):\n%s", diff)
		}
		if _, err := tx.Assignment("basics", alice.Key(), 3); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Assignment round 3: err = %v, want ErrNotFound", err)
		}
		for _, tt := range []struct {
			f    mamori.AssignmentFilter
			want []string
		}{
			{mamori.AssignmentFilter{Programme: "basics", Round: 1}, []string{"U0BOB", "U01ALICE"}},
			{mamori.AssignmentFilter{Programme: "basics"}, []string{"U0BOB", "U01ALICE", "U01ALICE"}},
			{mamori.AssignmentFilter{Departments: []string{"sales"}, Round: 1}, []string{"U01ALICE"}},
			{mamori.AssignmentFilter{OverdueAt: t0.Add(10 * 24 * time.Hour)}, []string{"U0BOB"}},
			{mamori.AssignmentFilter{Programme: "other"}, nil},
			{mamori.AssignmentFilter{Limit: 1}, []string{"U0BOB"}},
		} {
			list, err := tx.Assignments(tt.f)
			if err != nil {
				return err
			}
			var ids []string
			for _, x := range list {
				ids = append(ids, x.User.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("Assignments(%+v) (-want +got):\n%s", tt.f, diff)
			}
		}
		return nil
	})
	if err := s.Update(context.Background(), func(tx mamori.Tx) error {
		return tx.PutAssignment(mamori.Assignment{Programme: "none", User: alice, Round: 1})
	}); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("PutAssignment of a missing one: err = %v, want ErrNotFound", err)
	}
}

func testCountOutbox(t *testing.T, s mamori.Store) {
	enqueue(t, s, item("training:basics:1:a", t0), item("training:basics:1:b", t0), item("training:basics:1:c", t0),
		item("training:basics:10:a", t0), item("training:basic", t0), item("other", t0))
	claimed := claimOutbox(t, s, t0, time.Minute, 2)
	ctx := context.Background()
	if err := s.SentOutbox(ctx, claimed[0].ID, mamori.Posted{Channel: "D1", TS: "1.1"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryOutbox(ctx, claimed[1].ID, t0, "gone", true); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountOutbox(ctx, "training:basics:1:")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{mamori.OutboxSent: 1, mamori.OutboxFailed: 1, mamori.OutboxPending: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CountOutbox (-want +got):\n%s", diff)
	}
	// Fresh keys (which a store need not index) are counted too.
	enqueue(t, s, item(mamori.FreshKey+"ev1:1", t0), item(mamori.FreshKey+"ev1:2", t0))
	if got, err := s.CountOutbox(ctx, mamori.FreshKey+"ev1:"); err != nil || got[mamori.OutboxPending] != 2 {
		t.Errorf("CountOutbox(fresh) = %v, %v; want 2 pending", got, err)
	}
	if got, err := s.CountOutbox(ctx, ""); err != nil || got[mamori.OutboxPending] != 6 {
		t.Errorf("CountOutbox(all) = %v, %v; want 6 pending", got, err)
	}
}

func testReference(t *testing.T, s mamori.Store) {
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if _, err := tx.Reference("teams:user:29:1abc"); !errors.Is(err, mamori.ErrNotFound) {
			return fmt.Errorf("missing reference: err = %v, want ErrNotFound", err)
		}
		if err := tx.PutReference("teams:user:29:1abc", []byte(`{"v":1}`), t0); err != nil {
			return err
		}
		return tx.PutReference("teams:user:29:1abc", []byte(`{"v":2}`), t0.Add(time.Hour))
	})
	MustView(t, s, func(tx mamori.Tx) error {
		got, err := tx.Reference("teams:user:29:1abc")
		if err != nil || string(got) != `{"v":2}` {
			t.Errorf("Reference = %s, %v; want the latest", got, err)
		}
		return nil
	})
}
