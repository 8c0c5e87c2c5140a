package flows_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// heldSender holds every ordinary send until release is closed, as a
// rate-limited platform holds a campaign's; urgent ones go at once.
type heldSender struct {
	release chan struct{}

	mu      sync.Mutex
	order   []string // keys, as sends began
	held    int      // ordinary sends waiting for release
	targets map[string]int
	overlap bool
	changed chan struct{}
}

func (s *heldSender) Concurrency() int { return 2 }

func (s *heldSender) Send(ctx context.Context, it mamori.OutboxItem, _ *mamori.Posted) (mamori.Posted, error) {
	urgent := strings.HasPrefix(it.Key, mamori.UrgentKey)
	s.mu.Lock()
	s.order = append(s.order, it.Key)
	if s.targets[it.Target.ID]++; s.targets[it.Target.ID] > 1 {
		s.overlap = true
	}
	if !urgent {
		s.held++
	}
	s.mu.Unlock()
	s.notify()
	var err error
	if !urgent {
		select {
		case <-s.release:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.mu.Lock()
	s.targets[it.Target.ID]--
	if !urgent {
		s.held--
	}
	s.mu.Unlock()
	s.notify()
	return mamori.Posted{Channel: it.Target.ID, TS: it.Key}, err
}

func (s *heldSender) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds of the sender; the timeout only keeps a
// broken worker from hanging the test.
func (s *heldSender) waitFor(t *testing.T, what string, cond func(order []string, held int) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		ok := cond(s.order, s.held)
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-s.changed:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatalf("never: %s", what)
		}
	}
}

// TestWorkerUrgentBesideBatch: while a batch of campaign messages fills
// every slot of the platform and is held there (as a rate limit would), an
// urgent message enqueued and kicked is claimed and sent beside it, not
// after it.
func TestWorkerUrgentBesideBatch(t *testing.T) {
	db := wkStore(t)
	now := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	var items []mamori.OutboxItem
	for i := range 10 {
		items = append(items, wkItem(fmt.Sprintf("campaign:%02d", i), fmt.Sprintf("U%02d", i), "研修", now))
	}
	wkEnqueue(t, db, items...)
	s := &heldSender{release: make(chan struct{}), targets: map[string]int{}, changed: make(chan struct{}, 1)}
	w := flows.NewWorker(db, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	w.Senders[mamori.PlatformSlack] = s
	w.Poll = time.Hour // only the kick finds the alert
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(ctx) }()
	defer func() { cancel(); <-stopped }()

	s.waitFor(t, "both slots held by the campaign", func(_ []string, held int) bool { return held == 2 })
	alert := wkItem(mamori.UrgentKey+"sos:1:dept", "C0DEPT", "SOS", now)
	alert.Target.Kind = mamori.TargetChannel
	wkEnqueue(t, db, alert)
	w.Kick()
	s.waitFor(t, "the alert sent while the campaign is held", func(order []string, _ int) bool {
		return slices.Contains(order, alert.Key)
	})
	s.mu.Lock()
	before := slices.Index(s.order, alert.Key)
	s.mu.Unlock()
	if before != 2 {
		t.Errorf("the alert was send number %d, want 2: after the two held, before the rest of the batch", before)
	}
	close(s.release)
	s.waitFor(t, "the campaign sent", func(order []string, held int) bool { return len(order) == 11 && held == 0 })
	if s.overlap {
		t.Error("two sends to one target ran at once")
	}
}
