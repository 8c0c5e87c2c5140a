package flows_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/flows/flowstest"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/sqlite"
)

// wkStore opens a store on a new SQLite file.
func wkStore(tb testing.TB) *sqlite.DB {
	tb.Helper()
	s, err := seal.New(make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "mamori.db"), s, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func wkEnqueue(tb testing.TB, db *sqlite.DB, items ...mamori.OutboxItem) {
	tb.Helper()
	err := db.Update(context.Background(), func(tx mamori.Tx) error {
		for _, it := range items {
			if err := tx.Enqueue(it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func wkItem(key, to, text string, created time.Time) mamori.OutboxItem {
	return mamori.OutboxItem{Key: key, Target: mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: to},
		Message: mamori.Message{Text: text}, Created: created}
}

// laneSender stands in for a platform at the Sender boundary. It takes a
// while per message and records what arrived where, and how many sends
// ran at once.
type laneSender struct {
	concurrency int // 0: a plain Sender
	took        time.Duration
	fail        func(mamori.OutboxItem) error

	mu       sync.Mutex
	got      map[string][]string
	order    []string // keys, in the order sends began
	inFlight map[string]int
	now, max int
	overlap  bool // two sends to one target at once
}

func (s *laneSender) Send(_ context.Context, it mamori.OutboxItem, _ *mamori.Posted) (mamori.Posted, error) {
	s.mu.Lock()
	if s.got == nil {
		s.got, s.inFlight = map[string][]string{}, map[string]int{}
	}
	s.order = append(s.order, it.Key)
	s.inFlight[it.Target.ID]++
	if s.inFlight[it.Target.ID] > 1 {
		s.overlap = true
	}
	s.now++
	s.max = max(s.max, s.now)
	s.mu.Unlock()
	time.Sleep(s.took)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[it.Target.ID]--
	s.now--
	if s.fail != nil {
		if err := s.fail(it); err != nil {
			return mamori.Posted{}, err
		}
	}
	s.got[it.Target.ID] = append(s.got[it.Target.ID], it.Message.Text)
	return mamori.Posted{Channel: it.Target.ID, TS: it.Key}, nil
}

// concurrentSender is a laneSender that may be called for several
// targets at once.
type concurrentSender struct{ *laneSender }

func (s concurrentSender) Concurrency() int { return s.concurrency }

var _ flows.ConcurrentSender = concurrentSender{}

func TestWorkerSendsTargetsSideBySide(t *testing.T) {
	const targets, each = 6, 5
	now := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		sender  flows.Sender
		maxWant int
	}{
		{"concurrent", concurrentSender{&laneSender{concurrency: 3, took: 20 * time.Millisecond}}, 3},
		{"one at a time", &laneSender{took: time.Millisecond}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := wkStore(t)
			var items []mamori.OutboxItem
			for i := range each {
				for u := range targets {
					items = append(items, wkItem(fmt.Sprintf("k%d-%d", i, u), fmt.Sprintf("U%d", u), fmt.Sprint(i), now))
				}
			}
			wkEnqueue(t, db, items...)
			w := &flows.Worker{Store: db, Senders: map[string]flows.Sender{mamori.PlatformSlack: tt.sender},
				Clock: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}
			n, err := w.Drain(context.Background())
			if err != nil || n != targets*each {
				t.Fatalf("sent %d, %v", n, err)
			}
			var ls *laneSender
			switch s := tt.sender.(type) {
			case concurrentSender:
				ls = s.laneSender
			case *laneSender:
				ls = s
			}
			for u := range targets {
				if got := strings.Join(ls.got[fmt.Sprintf("U%d", u)], ""); got != "01234" {
					t.Errorf("U%d got %q, want 01234", u, got)
				}
			}
			if ls.overlap {
				t.Error("two sends to one target ran at once")
			}
			if ls.max != tt.maxWant {
				t.Errorf("at most %d sends at once, want %d", ls.max, tt.maxWant)
			}
			if tt.maxWant == 1 {
				// A plain sender gets the outbox in its order.
				for i, k := range ls.order {
					if want := items[i].Key; k != want {
						t.Fatalf("send %d was %s, want %s", i, k, want)
					}
				}
			}
		})
	}
}

func TestWorkerFailedTargetHoldsItsLaterMessages(t *testing.T) {
	now := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	db := wkStore(t)
	wkEnqueue(t, db, wkItem("a1", "UA", "a1", now), wkItem("b1", "UB", "b1", now), wkItem("a2", "UA", "a2", now), wkItem("b2", "UB", "b2", now))
	calls := 0
	s := concurrentSender{&laneSender{concurrency: 4, fail: func(it mamori.OutboxItem) error {
		if it.Key == "a1" {
			calls++
			if calls == 1 {
				return fmt.Errorf("503 service unavailable")
			}
		}
		return nil
	}}}
	clock := now
	w := &flows.Worker{Store: db, Senders: map[string]flows.Sender{mamori.PlatformSlack: s},
		Clock: func() time.Time { return clock }, Log: slog.New(slog.DiscardHandler)}
	if n, err := w.Drain(context.Background()); err != nil || n != 2 {
		t.Fatalf("first pass sent %d, %v; want UB's two", n, err)
	}
	if got := s.got["UA"]; len(got) != 0 {
		t.Fatalf("UA got %q while its first message failed", got)
	}
	clock = now.Add(2 * time.Second) // past the first backoff (1-1.5 s)
	if n, err := w.Drain(context.Background()); err != nil || n != 2 {
		t.Fatalf("second pass sent %d, %v", n, err)
	}
	if got := strings.Join(s.got["UA"], " "); got != "a1 a2" {
		t.Errorf("UA got %q", got)
	}
}

func TestWorkerPacingIsNotAWarning(t *testing.T) {
	now := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	db := wkStore(t)
	wkEnqueue(t, db, wkItem("p1", "UA", "hello", now))
	paced := true
	s := &laneSender{fail: func(mamori.OutboxItem) error {
		if paced {
			paced = false
			return &mamori.RetryAfterError{After: 700 * time.Millisecond, Paced: true}
		}
		return nil
	}}
	var logs bytes.Buffer
	clock := now
	w := &flows.Worker{Store: db, Senders: map[string]flows.Sender{mamori.PlatformSlack: s}, Clock: func() time.Time { return clock },
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if n, _ := w.Drain(context.Background()); n != 0 {
		t.Fatal("sent while paced")
	}
	if strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "level=DEBUG") {
		t.Errorf("logs:\n%s", logs.String())
	}
	clock = now.Add(600 * time.Millisecond)
	if n, _ := w.Drain(context.Background()); n != 0 {
		t.Fatal("sent before the pace allowed")
	}
	clock = now.Add(700 * time.Millisecond)
	if n, _ := w.Drain(context.Background()); n != 1 {
		t.Fatal("not sent when due")
	}
}

// TestWorkerStopHandsBack: a send cut short by the worker stopping is no
// failure: nothing is logged as a warning, and the message is due again
// at once rather than after its lease.
func TestWorkerStopHandsBack(t *testing.T) {
	now := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	db := wkStore(t)
	wkEnqueue(t, db, wkItem("s1", "UA", "hello", now))
	ctx, cancel := context.WithCancel(context.Background())
	s := &laneSender{fail: func(mamori.OutboxItem) error { cancel(); return ctx.Err() }}
	var logs bytes.Buffer
	w := &flows.Worker{Store: db, Senders: map[string]flows.Sender{mamori.PlatformSlack: s}, Clock: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	w.Drain(ctx)
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("a stop was logged as a failure:\n%s", logs.String())
	}
	items, err := db.ClaimOutbox(context.Background(), now, time.Minute, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("after the stop, claim = %v, %v; want the message back at once", items, err)
	}
}

// A message held back many times (each claim counts as an attempt) is
// retried after a failure no later than its age allows, not minutes later.
func TestWorkerBackoffFollowsAge(t *testing.T) {
	now := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	db := wkStore(t)
	wkEnqueue(t, db, wkItem("b1", "UA", "hello", now))
	n := 0
	s := &laneSender{fail: func(mamori.OutboxItem) error {
		n++
		switch {
		case n <= 8:
			return &mamori.RetryAfterError{After: 100 * time.Millisecond, Paced: true}
		case n == 9:
			return fmt.Errorf("502 bad gateway")
		}
		return nil
	}}
	clock := now
	w := &flows.Worker{Store: db, Senders: map[string]flows.Sender{mamori.PlatformSlack: s}, Clock: func() time.Time { return clock },
		Log: slog.New(slog.DiscardHandler)}
	for range 9 {
		w.Drain(context.Background())
		clock = clock.Add(100 * time.Millisecond)
	}
	// The failure came at an age of 0.8 s, after 9 attempts: the wait is
	// 1-1.5 s, not Backoff(9) (over four minutes).
	clock = now.Add(800*time.Millisecond + 1500*time.Millisecond)
	if sent, err := w.Drain(context.Background()); err != nil || sent != 1 {
		t.Fatalf("sent %d, %v after the capped backoff", sent, err)
	}
}

// TestWorkerWakesWhenPacedMessageIsDue: a message the sender hands back
// for a short pace goes when it is due, not at the next poll (here an
// hour away): a conversation's next question must not wait for a poll.
func TestWorkerWakesWhenPacedMessageIsDue(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	clock := flowstest.NewClock(t0)
	db := wkStore(t)
	wkEnqueue(t, db, wkItem("w1", "UA", "next question", t0))
	var mu sync.Mutex
	paced := 0
	s := &laneSender{fail: func(mamori.OutboxItem) error {
		mu.Lock()
		defer mu.Unlock()
		if paced < 2 {
			paced++
			return &mamori.RetryAfterError{After: 50 * time.Millisecond, Paced: true}
		}
		return nil
	}}
	w := flows.NewWorker(db, clock.Now, nil)
	w.Timers, w.Senders[mamori.PlatformSlack], w.Poll = clock, s, time.Hour
	sent := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return strings.Join(s.got["UA"], " ") == "next question"
	}
	if d := runOnClock(t, w, clock, sent, time.Minute); d > 200*time.Millisecond {
		t.Errorf("sent after %s, want about 100 ms (twice 50 ms)", d)
	}
}

// TestDefaults: a Worker or Service given no clock and no logger works on
// the wall clock and logs nowhere; neither panics.
func TestDefaults(t *testing.T) {
	db := wkStore(t)
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	svc := flows.NewService(db, p, org(), nil, nil)
	if svc.Clock == nil || svc.Log == nil || svc.Location == nil {
		t.Fatalf("NewService left a default unset: %+v", svc)
	}
	if err := svc.Handle(context.Background(), mamori.Input{User: user("UME"), Kind: mamori.InputStart, Value: mamori.StartReport}); err != nil {
		t.Fatal(err)
	}
	s := &laneSender{fail: func(mamori.OutboxItem) error { return errors.New("502 bad gateway") }}
	for _, tt := range []struct {
		name string
		w    *flows.Worker
	}{
		{"NewWorker", flows.NewWorker(db, nil, nil)},
		{"a literal", &flows.Worker{Store: db}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Each finds a message due (the service's, then one of its
			// own), and logs its failure.
			if tt.name != "NewWorker" {
				wkEnqueue(t, db, wkItem("d1", "UA", "hello", time.Now()))
			}
			before := len(s.order)
			tt.w.Senders = map[string]flows.Sender{mamori.PlatformSlack: s}
			tt.w.Kick() // no panic, made ready or not
			if _, err := tt.w.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(s.order) == before {
				t.Error("no message reached the sender")
			}
		})
	}
}
