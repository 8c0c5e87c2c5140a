package slack

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
)

// TestLimiterUrgentGoesFirst: an urgent call takes the earliest token of
// those the calls waiting for the workspace budget hold; each of them
// moves one token later, and the last, left without one, is handed back
// (paced). No token is made, so the budget holds. It checks the order,
// not how long anything took.
func TestLimiterUrgentGoesFirst(t *testing.T) {
	ctx := context.Background()
	l := newLimiter(Limits{Workspace: Rate{PerMinute: 300, Burst: 1}, Channel: Rate{PerMinute: 60, Burst: 1}})
	if err := l.take(ctx, postMessage, "DU0", false); err != nil {
		t.Fatal(err) // the burst
	}
	type result struct {
		name string
		err  error
	}
	done := make(chan result, 4)
	for _, ch := range []string{"DU1", "DU2", "DU3"} {
		go func() { done <- result{ch, l.take(ctx, postMessage, ch, false)} }()
	}
	// Wait until the three hold tokens due later.
	for deadline := time.Now().Add(5 * time.Second); ; {
		l.mu.Lock()
		n := len(l.waiting[l.workspace])
		l.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls waiting, want 3", n)
		}
		time.Sleep(time.Millisecond)
	}
	go func() { done <- result{"urgent", l.take(ctx, postMessage, "C0DEPT", true)} }()
	var order []string
	handedBack := 0
	for i := range 4 {
		r := <-done
		order = append(order, r.name)
		var ra *mamori.RetryAfterError
		switch {
		case i == 0 && r.name != "urgent" && errors.As(r.err, &ra) && ra.Paced:
			handedBack++ // the last in line, at once
		case r.err != nil:
			t.Errorf("%s: %v", r.name, r.err)
		}
	}
	if handedBack != 1 || order[1] != "urgent" {
		t.Errorf("order %v, %d handed back: want the last in line handed back, then the urgent call, then the other two",
			order, handedBack)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.waiting); n != 0 {
		t.Errorf("%d budgets still have waiting calls", n)
	}
}

// TestLimiterUrgentKeepsItsChannel: an urgent call to a channel not yet
// due is handed back like any other, and takes no one's token.
func TestLimiterUrgentKeepsItsChannel(t *testing.T) {
	ctx := context.Background()
	l := newLimiter(Limits{Workspace: Rate{PerMinute: 6000, Burst: 10}, Channel: Rate{PerMinute: 60, Burst: 1}})
	if err := l.take(ctx, postMessage, "C0DEPT", true); err != nil {
		t.Fatal(err)
	}
	var ra *mamori.RetryAfterError
	if err := l.take(ctx, postMessage, "C0DEPT", true); !errors.As(err, &ra) || !ra.Paced || ra.After > time.Second {
		t.Errorf("second urgent call to the channel: err = %v, want paced for at most 1s", err)
	}
}
