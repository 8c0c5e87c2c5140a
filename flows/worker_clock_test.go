package flows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/flows/flowstest"
)

// These tests run the outbox worker's Run loop on a fake clock
// (flowstest.Clock) against fakeSlack, a fake of Slack at the Sender
// boundary that keeps Slack's limits and storms on that clock: seconds of
// retries and pacing take milliseconds. integration/ runs the same with
// the real Slack sender and the loopback Web API, in real time (-load).

// fakeSlack stands in for the Slack sender and Slack behind it, on a
// fake clock. Like the real sender it paces chat.postMessage per channel
// and across the workspace, handing a message back (a paced
// RetryAfterError) when it is not yet due; a message held back for the
// workspace keeps the slot it was given. Slack's side enforces its own
// limits (counted as violations) and may be in a storm.
type fakeSlack struct {
	clock *flowstest.Clock

	mu         sync.Mutex
	channel    map[string]*rate.Limiter // the sender's pace per channel
	chanRate   rate.Limit
	chanBurst  int
	workspace  *rate.Limiter        // the sender's workspace budget
	slots      map[string]time.Time // item key → its booked workspace slot
	enforce    *fakeLimits          // Slack's limits, or nil
	storm      fakeStorm
	calls      []fakeCall
	got        map[string][]string
	violations int
}

type fakeLimits struct {
	channel   map[string]*rate.Limiter
	chanRate  rate.Limit
	chanBurst int
	workspace *rate.Limiter
}

// fakeStorm fails a share of calls until Until, as an incident at Slack.
type fakeStorm struct {
	Until        time.Time
	RateLimited  float64 // answered 429 with Retry-After: 1 s
	ServerErrors float64 // answered 500 or 503
	Drops        float64 // connection closed without an answer
	rnd          *rand.Rand
}

// fakeCall is one chat.postMessage that reached Slack.
type fakeCall struct {
	At      time.Time
	Channel string
	Err     string // "" when it was posted
}

var _ flows.ConcurrentSender = (*fakeSlack)(nil)

// newFakeSlack paces at perSecond across the workspace (bursts of burst)
// and one a second per channel (bursts of chanBurst).
func newFakeSlack(clock *flowstest.Clock, perSecond float64, burst, chanBurst int) *fakeSlack {
	return &fakeSlack{clock: clock, channel: map[string]*rate.Limiter{}, chanRate: 1, chanBurst: chanBurst,
		workspace: rate.NewLimiter(rate.Limit(perSecond), burst), slots: map[string]time.Time{}, got: map[string][]string{}}
}

// Enforce makes Slack refuse calls over perSecond (bursts of burst) and
// one a second per channel (bursts of chanBurst).
func (s *fakeSlack) Enforce(perSecond float64, burst, chanBurst int) {
	s.enforce = &fakeLimits{channel: map[string]*rate.Limiter{}, chanRate: 1, chanBurst: chanBurst,
		workspace: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

func (s *fakeSlack) Concurrency() int { return 8 }

func (s *fakeSlack) Send(_ context.Context, it mamori.OutboxItem, _ *mamori.Posted) (mamori.Posted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, ch := s.clock.Now(), "D"+it.Target.ID
	// The sender's pace: a channel not yet due is handed back at once.
	cl := s.channel[ch]
	if cl == nil {
		cl = rate.NewLimiter(s.chanRate, s.chanBurst)
		s.channel[ch] = cl
	}
	r := cl.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return mamori.Posted{}, &mamori.RetryAfterError{After: d, Paced: true}
	}
	slot, booked := s.slots[it.Key]
	if !booked {
		slot = now.Add(s.workspace.ReserveN(now, 1).DelayFrom(now))
	}
	if slot.After(now) {
		s.slots[it.Key] = slot
		r.CancelAt(now)
		return mamori.Posted{}, &mamori.RetryAfterError{After: slot.Sub(now), Paced: true}
	}
	delete(s.slots, it.Key)

	// Slack's side.
	call := fakeCall{At: now, Channel: ch}
	if e := s.enforce; e != nil {
		el := e.channel[ch]
		if el == nil {
			el = rate.NewLimiter(e.chanRate, e.chanBurst)
			e.channel[ch] = el
		}
		if !el.AllowN(now, 1) || !e.workspace.AllowN(now, 1) {
			s.violations++
			call.Err = "ratelimited"
			s.calls = append(s.calls, call)
			return mamori.Posted{}, &mamori.RetryAfterError{After: time.Second}
		}
	}
	if st := &s.storm; now.Before(st.Until) {
		x, err := st.rnd.Float64(), error(nil)
		switch {
		case x < st.RateLimited:
			err = &mamori.RetryAfterError{After: time.Second}
		case x < st.RateLimited+st.ServerErrors:
			err = errors.New("slack chat.postMessage: 503 service unavailable")
		case x < st.RateLimited+st.ServerErrors+st.Drops:
			err = errors.New("slack chat.postMessage: connection reset by peer")
		}
		if err != nil {
			call.Err = err.Error()
			s.calls = append(s.calls, call)
			return mamori.Posted{}, err
		}
	}
	s.calls = append(s.calls, call)
	s.got[ch] = append(s.got[ch], it.Message.Header+"\n"+it.Message.Text)
	return mamori.Posted{Channel: ch, TS: it.Key}, nil
}

// delivered returns the texts posted to each channel, in order, and the
// calls that reached Slack.
func (s *fakeSlack) delivered() (map[string][]string, []fakeCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := map[string][]string{}
	for ch, texts := range s.got {
		got[ch] = append([]string(nil), texts...)
	}
	return got, append([]fakeCall(nil), s.calls...)
}

// clockItem is an outbox item to user.
func clockItem(key, user, text string, created time.Time) mamori.OutboxItem {
	return mamori.OutboxItem{Key: key, Target: mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: user},
		Message: mamori.Message{Header: "カスハラ研修のお願い", Text: text}, Lang: mamori.JA, Created: created}
}

// gaveUp counts what the worker gave up on: the HR alert.
type gaveUp struct {
	mu sync.Mutex
	n  int
}

func (g *gaveUp) add(context.Context, mamori.OutboxItem, error) { g.mu.Lock(); g.n++; g.mu.Unlock() }
func (g *gaveUp) len() int                                      { g.mu.Lock(); defer g.mu.Unlock(); return g.n }

// clockWorker is a worker on clock sending to s.
func clockWorker(db mamori.Store, clock *flowstest.Clock, s flows.Sender, g *gaveUp) *flows.Worker {
	w := flows.NewWorker(db, clock.Now, slog.New(slog.DiscardHandler))
	w.Timers, w.Senders[mamori.PlatformSlack] = clock, s
	w.Poll, w.GaveUp = 20*time.Millisecond, g.add
	return w
}

// runOnClock runs w on clock until done holds between two passes, and
// returns how much time the clock took. It fails after limit on the
// clock, or 30 s of real time.
func runOnClock(tb testing.TB, w *flows.Worker, clock *flowstest.Clock, done func() bool, limit time.Duration) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(ctx) }()
	defer func() { cancel(); <-stopped }()
	idleCtx, cancelIdle := context.WithTimeout(ctx, 30*time.Second)
	defer cancelIdle()
	start := clock.Now()
	for {
		next, err := clock.Idle(idleCtx)
		if err != nil {
			tb.Fatalf("the worker never went idle after %s on the clock: %v", clock.Since(start), err)
		}
		if done() {
			return clock.Since(start)
		}
		if clock.Since(start) > limit {
			tb.Fatalf("not done after %s on the clock", limit)
		}
		clock.AdvanceTo(next)
	}
}

// outboxDone reports whether n items with keys starting with prefix are
// sent or failed.
func outboxDone(tb testing.TB, db mamori.Store, prefix string, n int) func() bool {
	return func() bool {
		c, err := db.CountOutbox(context.Background(), prefix)
		if err != nil {
			tb.Fatal(err)
		}
		return c[mamori.OutboxSent]+c[mamori.OutboxFailed] >= n
	}
}

// TestWorkerStorms: Slack failing a share of calls for 3 s (429s, 5xx,
// dropped connections) delays messages but loses, repeats and reorders
// none, and every retry waits for Retry-After or the backoff.
func TestWorkerStorms(t *testing.T) {
	tests := []struct {
		name  string
		storm fakeStorm
	}{
		{"429", fakeStorm{RateLimited: 0.4, rnd: rand.New(rand.NewPCG(1, 1))}},
		{"5xx and dropped connections", fakeStorm{ServerErrors: 0.3, Drops: 0.05, rnd: rand.New(rand.NewPCG(2, 2))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const users, each = 20, 4
			t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
			clock := flowstest.NewClock(t0)
			db := wkStore(t)
			var items []mamori.OutboxItem
			for i := range each {
				for u := range users {
					id := fmt.Sprintf("U%04d", u)
					items = append(items, clockItem(fmt.Sprintf("storm:%s:%d", id, i), id, fmt.Sprintf("%d/%d", i+1, each), t0))
				}
			}
			wkEnqueue(t, db, items...)
			slack := newFakeSlack(clock, 100, 50, each)
			slack.storm = tt.storm
			slack.storm.Until = t0.Add(3 * time.Second)
			var g gaveUp
			w := clockWorker(db, clock, slack, &g)
			d := runOnClock(t, w, clock, outboxDone(t, db, "storm:", users*each), 10*time.Minute)

			got, calls := slack.delivered()
			for u := range users {
				ch := fmt.Sprintf("DU%04d", u)
				want := []string{}
				for i := range each {
					want = append(want, fmt.Sprintf("カスハラ研修のお願い\n%d/%d", i+1, each))
				}
				if fmt.Sprint(got[ch]) != fmt.Sprint(want) {
					t.Errorf("%s got %q, want each message once, in order", ch, got[ch])
				}
			}
			if g.len() != 0 {
				t.Errorf("gave up on %d messages", g.len())
			}
			// A failed call is retried no sooner than Retry-After (429) or
			// the first backoff (1 s) allow.
			last := map[string]fakeCall{}
			failures := 0
			for _, c := range calls {
				if prev, ok := last[c.Channel]; ok && prev.Err != "" {
					if gap := c.At.Sub(prev.At); gap < time.Second {
						t.Errorf("%s retried %s after %q", c.Channel, gap, prev.Err)
					}
				}
				if c.Err != "" {
					failures++
				}
				last[c.Channel] = c
			}
			if failures == 0 {
				t.Error("the storm failed no call")
			}
			t.Logf("%d calls failed; all delivered after %s on the clock", failures, d)
		})
	}
}

// TestWorkerCampaign: a DM to each of n people goes once each, within
// Slack's limits, and the worker uses the budget.
func TestWorkerCampaign(t *testing.T) {
	const n, perSecond = 1000, 1000.0
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	clock := flowstest.NewClock(t0)
	db := wkStore(t)
	items := make([]mamori.OutboxItem, n)
	for i := range items {
		id := fmt.Sprintf("U%07d", i)
		items[i] = clockItem(fmt.Sprintf("campaign:training-2026:%s", id), id, "金曜日までに研修を受けてください。", t0)
	}
	wkEnqueue(t, db, items...)
	// The sender keeps to smaller bursts than Slack enforces, as the
	// real one does (integration's campaignLimits).
	slack := newFakeSlack(clock, perSecond, int(perSecond/20), 3)
	slack.Enforce(perSecond, int(perSecond/5), 5)
	var g gaveUp
	w := clockWorker(db, clock, slack, &g)
	d := runOnClock(t, w, clock, outboxDone(t, db, "campaign:", n), time.Duration(n/perSecond*3)*time.Second+10*time.Second)

	got, _ := slack.delivered()
	if len(got) != n {
		t.Errorf("%d recipients got a message, want %d", len(got), n)
	}
	for ch, texts := range got {
		if len(texts) != 1 {
			t.Errorf("%s got %d messages", ch, len(texts))
		}
	}
	if g.len() != 0 {
		t.Errorf("gave up on %d messages", g.len())
	}
	if slack.violations > 0 {
		t.Errorf("Slack refused %d calls over its limits", slack.violations)
	}
	// The budget allows n/perSecond.
	if ratio := float64(n) / d.Seconds() / perSecond; ratio < 0.5 {
		t.Errorf("%d messages in %s on the clock: %.2f of the budget used, want at least half", n, d, ratio)
	}
	t.Logf("%d messages in %s on the clock: %.0f/s against a limit of %.0f/s", n, d, float64(n)/d.Seconds(), perSecond)
}
