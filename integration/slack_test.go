package integration_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/flows/flowstest"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/sqlite"
)

// load runs the tests that take real time: Slack's limits and a storm's
// Retry-After are enforced on the wall clock by the fake and the sender.
var load = flag.Bool("load", false, "run the real-time load tests (tens of seconds)")

func needLoad(tb testing.TB) {
	tb.Helper()
	if !*load {
		tb.Skip("a real-time load test: run with -load")
	}
}

// These tests run the outbox worker with the real Slack sender against
// the loopback fake of Slack's Web API, on a real SQLite file: the whole
// way a message takes, with Slack misbehaving or enforcing its limits.
// They live here rather than in bot/slack or flows because an adapter's
// tests may not reach a store and the flows' tests may not reach a
// platform (deps_test.go). flows' worker tests run the same storms and
// campaigns on a fake clock against a fake at the Sender boundary.

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

// campToken is the bot token the fake accepts.
const campToken = "xoxb-campaign"

// campItem is an outbox item to user.
func campItem(key, user, text string, created time.Time) mamori.OutboxItem {
	return mamori.OutboxItem{Key: key, Target: mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: user},
		Message: mamori.Message{Header: "カスハラ研修のお願い", Text: text}, Lang: mamori.JA, Created: created}
}

// campGaveUp records what the worker gave up on: the HR alert.
type campGaveUp struct {
	mu    sync.Mutex
	items []mamori.OutboxItem
}

func (g *campGaveUp) add(_ context.Context, it mamori.OutboxItem, _ error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.items = append(g.items, it)
}

func (g *campGaveUp) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.items)
}

func campWorker(db *sqlite.DB, s flows.Sender, g *campGaveUp) *flows.Worker {
	return (&flows.Worker{Store: db, Senders: map[string]flows.Sender{mamori.PlatformSlack: s}, Clock: time.Now,
		Log: slog.New(slog.DiscardHandler), Poll: 20 * time.Millisecond, GaveUp: g.add}).Init()
}

// campDrain runs w until every item whose key starts with prefix is sent or
// failed, and returns how long that took.
func campDrain(tb testing.TB, db *sqlite.DB, w *flows.Worker, prefix string, n int, timeout time.Duration) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(timeout)
	for {
		c, err := db.CountOutbox(ctx, prefix)
		if err != nil {
			tb.Fatal(err)
		}
		if c[mamori.OutboxSent]+c[mamori.OutboxFailed] >= n {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %v of %d", timeout, c, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// campDelivered returns the texts posted to each channel, in order.
func campDelivered(api *slacktest.Server) map[string][]string {
	out := map[string][]string{}
	for _, c := range api.Calls("chat.postMessage") {
		if c.Status == 200 && c.Error == "" {
			out[c.Channel()] = append(out[c.Channel()], c.Get("text"))
		}
	}
	return out
}

func TestSlackStorms(t *testing.T) {
	needLoad(t)
	tests := []struct {
		name  string
		storm slacktest.Storm
	}{
		{"429", slacktest.Storm{Methods: []string{"chat.postMessage"}, RateLimited: 0.4, RetryAfter: 1, For: 3 * time.Second, Seed: 1}},
		{"5xx and dropped connections", slacktest.Storm{Methods: []string{"chat.postMessage"}, ServerErrors: 0.3, Drops: 0.05,
			For: 3 * time.Second, Seed: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const users, each = 20, 4
			db := wkStore(t)
			api := slacktest.New(t, campToken)
			now := time.Now()
			var items []mamori.OutboxItem
			for i := range each {
				for u := range users {
					id := fmt.Sprintf("U%04d", u)
					if i == 0 {
						api.AddUser(slacktest.User{ID: id, Name: id})
					}
					items = append(items, campItem(fmt.Sprintf("storm:%s:%d", id, i), id, fmt.Sprintf("%d/%d", i+1, each), now))
				}
			}
			wkEnqueue(t, db, items...)
			api.SetStorm(tt.storm)
			var g campGaveUp
			limits := slack.DefaultLimits()
			limits.Channel.Burst = each
			limits.Workspace = slack.Rate{PerMinute: 6000, Burst: 50}
			w := campWorker(db, slack.NewSender(slack.Config{BotToken: campToken, APIURL: api.URL}, slack.WithLimits(limits)), &g)
			campDrain(t, db, w, "storm:", users*each, 60*time.Second)

			got := campDelivered(api)
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
			last := map[string]slacktest.Call{}
			failures := 0
			for _, c := range api.Calls("chat.postMessage") {
				ch := "D" + c.Get("channel")
				if prev, ok := last[ch]; ok && prev.Error != "" {
					if gap := c.At.Sub(prev.At); gap < time.Second {
						t.Errorf("%s retried %s after %d %q", ch, gap, prev.Status, prev.Error)
					}
				}
				if c.Error != "" || c.Status != 200 {
					failures++
					if c.Error == "" {
						c.Error = "http"
					}
				}
				last[ch] = c
			}
			if failures == 0 {
				t.Error("the storm failed no call")
			}
			t.Logf("%d calls failed", failures)
		})
	}
}

// campaignLimits are Slack's limits scaled up to a test's time: the fake
// enforces posting at perSecond across the workspace, one a second per
// channel; the sender keeps to the same rates with smaller bursts.
func campaignLimits(perSecond float64) (slacktest.Limits, slack.Limits) {
	fake := slacktest.SlackLimits()
	fake.Workspace = slacktest.PerSecond(perSecond, int(perSecond/5))
	sender := slack.DefaultLimits()
	sender.Workspace = slack.Rate{PerMinute: perSecond * 60, Burst: int(perSecond / 20)}
	return fake, sender
}

// runCampaign sends one DM to each of n people at the enforced rate, each
// call answered after latency, and returns how long that took.
func runCampaign(tb testing.TB, n int, perSecond float64, latency time.Duration) (time.Duration, *slacktest.Server, *campGaveUp) {
	tb.Helper()
	db := wkStore(tb)
	api := slacktest.New(tb, campToken)
	api.SetLatency(latency)
	fake, limits := campaignLimits(perSecond)
	api.Enforce(fake)
	now := time.Now()
	items := make([]mamori.OutboxItem, n)
	for i := range items {
		id := fmt.Sprintf("U%07d", i)
		api.AddUser(slacktest.User{ID: id, Name: id})
		items[i] = campItem(fmt.Sprintf("campaign:training-2026:%s", id), id, "金曜日までに研修を受けてください。", now)
	}
	wkEnqueue(tb, db, items...)
	var g campGaveUp
	w := campWorker(db, slack.NewSender(slack.Config{BotToken: campToken, APIURL: api.URL}, slack.WithLimits(limits)), &g)
	d := campDrain(tb, db, w, "campaign:", n, time.Duration(float64(n)/perSecond*float64(time.Second))*3+10*time.Second)
	return d, api, &g
}

func TestSlackCampaign(t *testing.T) {
	needLoad(t)
	n, perSecond := 10000, 1000.0
	if testing.Short() {
		n = 1000
	}
	d, api, g := runCampaign(t, n, perSecond, 0)
	got := campDelivered(api)
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
	// The sender keeps to the limits, so the fake should refuse nothing;
	// a stalled machine may bunch a few requests up on the way.
	v, refused := api.Violations(), 0
	for _, k := range v {
		refused += k
	}
	if refused > n/1000 {
		t.Errorf("the fake refused %v calls over Slack's limits", v)
	} else if refused > 0 {
		t.Logf("the fake refused %v calls over Slack's limits", v)
	}
	t.Logf("%d messages in %s: %.0f/s against a limit of %.0f/s", n, d.Round(time.Millisecond), float64(n)/d.Seconds(), perSecond)
}

// BenchmarkCampaignDrain measures how fast a campaign drains against the
// fake enforcing a workspace-wide limit, and reports the ratio of the two:
// 1 means the worker and sender use all the budget Slack gives. On
// loopback the limit is high (1000/s) to find what the worker and the
// SQLite store can do; with a round trip like Slack's (100 ms) the 8
// sends at once cap the rate near 80/s (one at a time: 10/s), well above
// Slack's real workspace budget of a few a second.
func BenchmarkCampaignDrain(b *testing.B) {
	for _, bc := range []struct {
		name      string
		n         int
		perSecond float64
		latency   time.Duration
	}{
		{"loopback", 5000, 1000, 0},
		{"rtt=100ms", 1000, 100, 100 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				d, api, _ := runCampaign(b, bc.n, bc.perSecond, bc.latency)
				rate := float64(bc.n) / d.Seconds()
				b.ReportMetric(rate, "msgs/s")
				b.ReportMetric(rate/bc.perSecond, "ratio")
				b.ReportMetric(float64(api.Violations()["chat.postMessage"]), "violations")
			}
		})
	}
}

func TestSlackGiveUpAlertsHR(t *testing.T) {
	db := wkStore(t)
	api := slacktest.New(t, campToken)
	api.AddUser(slacktest.User{ID: "UGONE", Name: "gone"})
	api.SetStorm(slacktest.Storm{Methods: []string{"chat.postMessage"}, ServerErrors: 1})
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	wkEnqueue(t, db, campItem("giveup:1", "UGONE", "hello", t0))
	var g campGaveUp
	w := campWorker(db, slack.NewSender(slack.Config{BotToken: campToken, APIURL: api.URL}), &g)
	w.GiveUpAfter = 1500 * time.Millisecond
	// On a fake clock: the retries' backoff passes at once. The sender's
	// own pace (one a second per channel, bursts of 3) is on the wall
	// clock; the two attempts here fit in its burst.
	clock := flowstest.NewClock(t0)
	w.Clock, w.Timers = clock.Now, clock
	for range 10 {
		if _, err := w.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		if g.len() > 0 {
			break
		}
		clock.Advance(2 * time.Second) // past any backoff of the first attempts (1-1.5 s, 2-3 s)
	}
	if g.len() != 1 {
		t.Fatalf("gave up on %d messages, want 1", g.len())
	}
	if n := len(api.Calls("chat.postMessage")); n < 2 {
		t.Errorf("gave up after %d attempts, want retries first", n)
	}
}

func TestSlackCrashBetweenClaimAndSend(t *testing.T) {
	db := wkStore(t)
	api := slacktest.New(t, campToken)
	api.AddUser(slacktest.User{ID: "UME", Name: "me"})
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	wkEnqueue(t, db, campItem("crash:1", "UME", "hello", t0))
	ctx := context.Background()

	// A worker claims the item and dies before it sends.
	if items, err := db.ClaimOutbox(ctx, t0, time.Minute, 32); err != nil || len(items) != 1 {
		t.Fatalf("claim: %v, %v", items, err)
	}
	now := t0
	var g campGaveUp
	w := campWorker(db, slack.NewSender(slack.Config{BotToken: campToken, APIURL: api.URL}), &g)
	w.Lease = time.Minute
	w.Clock = func() time.Time { return now }

	// While its lease lasts nobody else sends it...
	now = t0.Add(59 * time.Second)
	if n, err := w.Drain(ctx); err != nil || n != 0 {
		t.Fatalf("within the lease: sent %d, %v", n, err)
	}
	// ...and after it, another worker does, once.
	now = t0.Add(61 * time.Second)
	if n, err := w.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("after the lease: sent %d, %v", n, err)
	}
	now = t0.Add(10 * time.Minute)
	if n, err := w.Drain(ctx); err != nil || n != 0 {
		t.Fatalf("later: sent %d, %v", n, err)
	}
	if got := campDelivered(api); len(got["DUME"]) != 1 {
		t.Errorf("delivered %v, want one message to DUME", got)
	}
}
