package storetest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
)

// Retention runs the conformance tests of retention and bounded growth
// (issue 15): a case purged to its tombstone, with its care tasks and
// what the outbox holds of it; a care task purged alone; and the pruning
// of delivery ids, sent messages and finished jobs. open returns a new,
// empty store for one subtest; Retention closes it when the subtest ends.
func Retention(t *testing.T, open func(t *testing.T) mamori.Store) {
	each(t, open, []subtest{
		{"PurgeCase", testPurgeCase},
		{"PurgeCareTask", testPurgeCareTask},
		{"PruneSeen", testPruneSeen},
		{"PruneOutbox", testPruneOutbox},
		{"PruneJobs", testPruneJobs},
	})
}

// to is a target of its own for each item, so that one claim takes them
// all (a target gets its messages one after the other).
func to(id string) mamori.Target {
	return mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetChannel, ID: id}
}

// settle claims every due item at now and marks those in sent sent and
// the others failed for good.
func settle(tb testing.TB, s mamori.Store, now time.Time, sent ...string) {
	tb.Helper()
	ctx := context.Background()
	for _, it := range claimOutbox(tb, s, now, time.Minute, 100) {
		var err error
		if slices.Contains(sent, it.Key) {
			err = s.SentOutbox(ctx, it.ID, mamori.Posted{Channel: it.Target.ID, TS: "1.0"}, now)
		} else {
			err = s.RetryOutbox(ctx, it.ID, now, "channel_not_found", true)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func listKeys(tb testing.TB, s mamori.Store, status string) []string {
	tb.Helper()
	items, err := s.ListOutbox(context.Background(), status, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return keys(items)
}

func prune(tb testing.TB, s mamori.Store, p mamori.Prune) mamori.Pruned {
	tb.Helper()
	var n mamori.Pruned
	MustUpdate(tb, s, func(tx mamori.Tx) error {
		var err error
		n, err = tx.Prune(p)
		return err
	})
	return n
}

func testPurgeCase(t *testing.T, s mamori.Store) {
	// KH-2026-1000 goes; KH-2026-10000, whose number begins with it, stays.
	k := newCase("KH-2026-1000", alice, t0)
	near := newCase("KH-2026-10000", alice, t0.Add(time.Second))
	k.Status, k.Assignee, k.Updated, k.Taken, k.Judged = mamori.StatusJudged, "slack:U0BOSS", t0.Add(48*time.Hour), t0.Add(time.Hour), t0.Add(48*time.Hour)
	k.Decision = &mamori.Decision{Facts: "録音で確認", Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara,
		Note: "秘密のメモ", By: "slack:U0BOSS", At: t0.Add(48 * time.Hour),
		Questions: []mamori.Question{{By: "slack:U0BOSS", Text: "相手の名前は？", At: t0, Answer: "顧客 太郎", Answered: t0}}}
	var task, nearTask int64
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for _, c := range []mamori.Case{k, near} {
			if err := tx.InsertCase(c); err != nil {
				return err
			}
		}
		if err := tx.UpdateCase(k); err != nil {
			return err
		}
		var err error
		c := mamori.CareTask{Number: k.Number, Reporter: alice, Reason: mamori.CareReasonTalk, Due: t0.Add(time.Hour), Created: t0,
			Notes: []mamori.CareNote{{At: t0, By: "slack:U0HR", Text: "眠れないとのこと"}}}
		if task, _, err = tx.InsertCareTask(c); err != nil {
			return err
		}
		c.Number = near.Number
		nearTask, _, err = tx.InsertCareTask(c)
		return err
	})
	mention := func(key, target, text, ref string) mamori.OutboxItem {
		m := item(key, t0)
		m.Target, m.Message.Text, m.Message.Ref = to(target), text, ref
		return m
	}
	careKey := "care:" + itoa(task) + ":in:x:0"
	enqueue(t, s,
		mention("card:KH-2026-1000", "C1", "", "card:KH-2026-1000"),
		mention("card:KH-2026-10000", "C2", "", "card:KH-2026-10000"),
		mention("in:a:closed:KH-2026-1000:0", "C3", "", ""),
		mention("job:77", "C4", "KH-2026-1000 の判断期限です", ""),
		mention("job:78", "C5", "KH-2026-10000 の判断期限です", ""),
		mention(careKey, "C6", "", ""),
	)
	settle(t, s, t0.Add(time.Minute), "card:KH-2026-1000", "card:KH-2026-10000", careKey)
	enqueue(t, s, mention("in:b:reply:KH-2026-1000:1", "C7", "", ""))

	tomb := k
	tomb.Reporter, tomb.Answers, tomb.Assignee = mamori.User{}, mamori.Answers{Channel: "phone"}, ""
	tomb.Decision = &mamori.Decision{Outcome: mamori.OutcomeKasuhara, At: k.Decision.At, Purged: t0.Add(5 * 365 * 24 * time.Hour)}
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.PurgeCase(tomb) })

	MustView(t, s, func(tx mamori.Tx) error {
		got, err := tx.Case(k.Number)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(tomb, got); diff != "" {
			t.Errorf("tombstone (-want +got):\n%s", diff)
		}
		if !got.Purged() {
			t.Error("Purged() = false after PurgeCase")
		}
		mine, err := tx.CasesOf(alice.Key())
		if err != nil {
			return err
		}
		if len(mine) != 1 || mine[0].Number != near.Number {
			t.Errorf("CasesOf(alice) after the purge = %d cases, want only %s", len(mine), near.Number)
		}
		if all, err := tx.Cases(mamori.CaseFilter{}); err != nil || len(all) != 2 {
			t.Errorf("Cases = %d, %v; want both: a purged case stays as a row", len(all), err)
		}
		c, err := tx.CareTask(task)
		if err != nil {
			return err
		}
		if c.Reporter != (mamori.User{}) || c.Reason != "" || len(c.Notes) != 0 || c.Status != mamori.CareClosed || c.Number != k.Number {
			t.Errorf("care task after the purge = %+v, want closed, no reporter, reason or notes", c)
		}
		if c, err := tx.CareTask(nearTask); err != nil || len(c.Notes) != 1 || c.Reporter != alice {
			t.Errorf("the other case's care task = %+v, %v; want it untouched", c, err)
		}
		if open, err := tx.CareTasks(true); err != nil || len(open) != 1 || open[0].ID != nearTask {
			t.Errorf("open care tasks = %+v, %v; want only the other case's", open, err)
		}
		return nil
	})
	if got, want := listKeys(t, s, mamori.OutboxSent), []string{"card:KH-2026-10000"}; !slices.Equal(got, want) {
		t.Errorf("sent after the purge = %q, want %q", got, want)
	}
	if got, want := listKeys(t, s, mamori.OutboxFailed), []string{"job:78"}; !slices.Equal(got, want) {
		t.Errorf("failed after the purge = %q, want %q (job:77 mentions the case)", got, want)
	}
	if got, want := listKeys(t, s, mamori.OutboxPending), []string{"in:b:reply:KH-2026-1000:1"}; !slices.Equal(got, want) {
		t.Errorf("pending after the purge = %q, want %q: a pending message goes out first", got, want)
	}
	ctx := context.Background()
	if _, err := s.PostedRef(ctx, "card:KH-2026-1000"); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("PostedRef of the purged card: err = %v, want ErrNotFound", err)
	}
	if _, err := s.PostedRef(ctx, "card:KH-2026-10000"); err != nil {
		t.Errorf("PostedRef of the other card: %v", err)
	}
	for name, fn := range map[string]func(mamori.Tx) error{
		"PurgeCase":     func(tx mamori.Tx) error { return tx.PurgeCase(newCase("KH-2026-9999", alice, t0)) },
		"PurgeCareTask": func(tx mamori.Tx) error { return tx.PurgeCareTask(9999) },
	} {
		if err := s.Update(ctx, fn); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("%s of nothing: err = %v, want ErrNotFound", name, err)
		}
	}
}

func testPurgeCareTask(t *testing.T, s mamori.Store) {
	k := newCase("SD-2026-0001", alice, t0)
	var id int64
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if err := tx.InsertCase(k); err != nil {
			return err
		}
		var err error
		id, _, err = tx.InsertCareTask(mamori.CareTask{Number: k.Number, Reporter: alice, Reason: mamori.CareReasonContact,
			Due: t0.Add(time.Hour), Created: t0, Notes: []mamori.CareNote{{At: t0, By: "slack:U0HR", Text: "折り返し電話"}}})
		return err
	})
	ref := "care:" + itoa(id)
	m := item(ref+":in:y:0", t0)
	m.Message.Ref = ref
	enqueue(t, s, m)
	settle(t, s, t0, m.Key)
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.PurgeCareTask(id) })
	MustView(t, s, func(tx mamori.Tx) error {
		c, err := tx.CareTask(id)
		if err != nil {
			return err
		}
		if c.Reporter != (mamori.User{}) || c.Reason != "" || len(c.Notes) != 0 || c.Status != mamori.CareClosed {
			t.Errorf("care task after PurgeCareTask = %+v", c)
		}
		// The case itself is not touched.
		got, err := tx.Case(k.Number)
		if err != nil || got.Reporter != alice || got.Answers.Narrative == "" {
			t.Errorf("case after PurgeCareTask = %+v, %v; want it whole", got.Reporter, err)
		}
		return nil
	})
	// A new task for the same reason may open: the purged one is closed.
	MustUpdate(t, s, func(tx mamori.Tx) error {
		if _, fresh, err := tx.InsertCareTask(mamori.CareTask{Number: k.Number, Reporter: alice, Reason: mamori.CareReasonContact,
			Due: t0, Created: t0}); err != nil || !fresh {
			t.Errorf("InsertCareTask after the purge: fresh %v, %v", fresh, err)
		}
		return nil
	})
	if got := listKeys(t, s, mamori.OutboxSent); len(got) != 0 {
		t.Errorf("sent after PurgeCareTask = %q, want none", got)
	}
	if _, err := s.PostedRef(context.Background(), ref); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("PostedRef(%s) after PurgeCareTask: err = %v, want ErrNotFound", ref, err)
	}
}

func testPruneSeen(t *testing.T, s mamori.Store) {
	day := 24 * time.Hour
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for i, key := range []string{"old1", "old2", "old3"} {
			if _, err := tx.Seen(key, t0.Add(time.Duration(i)*time.Minute)); err != nil {
				return err
			}
		}
		_, err := tx.Seen("new", t0.Add(2*day))
		return err
	})
	if n := prune(t, s, mamori.Prune{}); n != (mamori.Pruned{}) {
		t.Errorf("Prune{} = %+v, want nothing deleted", n)
	}
	// Two at a time, as Limit says, until none is left.
	for i, want := range []int{2, 1, 0} {
		if n := prune(t, s, mamori.Prune{Seen: t0.Add(day), Limit: 2}); n != (mamori.Pruned{Seen: want}) {
			t.Errorf("Prune #%d = %+v, want %d seen", i+1, n, want)
		}
	}
	MustUpdate(t, s, func(tx mamori.Tx) error {
		for key, want := range map[string]bool{"old1": true, "new": false} {
			if fresh, err := tx.Seen(key, t0.Add(3*day)); err != nil || fresh != want {
				t.Errorf("Seen(%s) after the prune = %v, %v; want fresh %v", key, fresh, err, want)
			}
		}
		return nil
	})
}

func testPruneOutbox(t *testing.T, s mamori.Store) {
	day := 24 * time.Hour
	at := func(key, target string, created time.Time) mamori.OutboxItem {
		m := item(key, created)
		m.Target = to(target)
		return m
	}
	enqueue(t, s, at("old-sent", "C1", t0), at("old-failed", "C2", t0))
	settle(t, s, t0.Add(time.Minute), "old-sent")
	enqueue(t, s, at("new-sent", "C3", t0.Add(10*day)))
	settle(t, s, t0.Add(10*day), "new-sent")
	enqueue(t, s, at("pending", "C4", t0))

	if n := prune(t, s, mamori.Prune{Sent: t0.Add(5 * day)}); n != (mamori.Pruned{Outbox: 1}) {
		t.Errorf("Prune = %+v, want 1 outbox item", n)
	}
	for status, want := range map[string][]string{
		mamori.OutboxSent:    {"new-sent"},
		mamori.OutboxFailed:  {"old-failed"},
		mamori.OutboxPending: {"pending"},
	} {
		if got := listKeys(t, s, status); !slices.Equal(got, want) {
			t.Errorf("%s after the prune = %q, want %q", status, got, want)
		}
	}
	// Failed for good, last tried before Failed: it goes too.
	if n := prune(t, s, mamori.Prune{Failed: t0.Add(5 * day)}); n != (mamori.Pruned{Outbox: 1}) {
		t.Errorf("Prune of the failed = %+v, want 1 outbox item", n)
	}
	if got := listKeys(t, s, mamori.OutboxFailed); len(got) != 0 {
		t.Errorf("failed after the prune = %q, want none", got)
	}
	// The newest item stays, however old: its id must not come again.
	settle(t, s, t0.Add(11*day), "pending")
	if n := prune(t, s, mamori.Prune{Sent: t0.Add(100 * day)}); n != (mamori.Pruned{Outbox: 1}) {
		t.Errorf("Prune of everything = %+v, want 1 (new-sent; the newest stays)", n)
	}
	if got, want := listKeys(t, s, mamori.OutboxSent), []string{"pending"}; !slices.Equal(got, want) {
		t.Errorf("sent after pruning everything = %q, want %q", got, want)
	}
	// A non-fresh key pruned may be enqueued again.
	enqueue(t, s, at("old-sent", "C1", t0.Add(100*day)))
	if got, want := listKeys(t, s, mamori.OutboxPending), []string{"old-sent"}; !slices.Equal(got, want) {
		t.Errorf("pending after enqueueing a pruned key again = %q, want %q", got, want)
	}
}

func testPruneJobs(t *testing.T, s mamori.Store) {
	day := 24 * time.Hour
	ctx := context.Background()
	schedule(t, s, mamori.Job{Key: "done", Kind: "k", Due: t0}, mamori.Job{Key: "canceled", Kind: "k", Due: t0})
	jobs := claimJobs(t, s, t0, time.Minute, 10)
	for _, j := range jobs {
		if j.Key == "done" {
			if err := s.DoneJob(ctx, j.ID, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	MustUpdate(t, s, func(tx mamori.Tx) error { return tx.CancelJobs("canceled") })
	schedule(t, s, mamori.Job{Key: "later", Kind: "k", Due: t0.Add(10 * day)})
	if n := prune(t, s, mamori.Prune{Jobs: t0.Add(5 * day)}); n != (mamori.Pruned{Jobs: 2}) {
		t.Errorf("Prune = %+v, want 2 jobs (done, canceled)", n)
	}
	later := claimJobs(t, s, t0.Add(11*day), time.Minute, 10)
	if got := jobKeys(later); !slices.Equal(got, []string{"later"}) {
		t.Fatalf("jobs claimed after the prune = %q, want the pending one", got)
	}
	// Done, but the newest: it stays.
	if err := s.DoneJob(ctx, later[0].ID, t0.Add(11*day)); err != nil {
		t.Fatal(err)
	}
	if n := prune(t, s, mamori.Prune{Jobs: t0.Add(100 * day)}); n != (mamori.Pruned{}) {
		t.Errorf("Prune of the newest job = %+v, want nothing", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Waiting checks a store's count of the outbox items that wait (pending
// and failed), which /metrics reads at every scrape: the same as
// CountOutbox's, the sent ones left out.
func Waiting(t *testing.T, s mamori.Store, waiting func(context.Context) (map[string]int, error)) {
	t.Helper()
	enqueue(t, s, item("a", t0), item("b", t0))
	a := item("c", t0)
	a.Target = to("C1")
	enqueue(t, s, a)
	settle(t, s, t0, "a") // a sent, the others failed
	enqueue(t, s, item("d", t0))
	got, err := waiting(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.CountOutbox(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got[mamori.OutboxPending] != all[mamori.OutboxPending] || got[mamori.OutboxFailed] != all[mamori.OutboxFailed] ||
		got[mamori.OutboxFailed] == 0 || got[mamori.OutboxPending] == 0 || got[mamori.OutboxSent] != 0 {
		t.Errorf("waiting = %v, want the pending and failed of %v", got, all)
	}
}
