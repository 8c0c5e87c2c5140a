// Package flowstest has helpers for testing code that uses flows: a fake
// clock (after tailscale's tstest.Clock) that a test moves by hand, so
// retries, pacing and leases of minutes run in milliseconds.
package flowstest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/mamori-oss/mamori/flows"
)

// Clock is a fake flows.Timers whose time moves only when the test says
// (Advance, AdvanceTo). Its Now can be a Worker's Clock too. It is safe
// for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer  // armed ones
	armed  chan struct{} // closed when a waiting timer is armed (see Idle)
	idle   bool          // a waiting timer was armed since the last move
}

var _ flows.Timers = (*Clock)(nil)

// NewClock returns a Clock at start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, armed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since returns how far the clock is past t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Advance moves the clock d ahead and fires what falls due on the way, in
// order, each at its own time.
func (c *Clock) Advance(d time.Duration) { c.AdvanceTo(c.Now().Add(d)) }

// AdvanceTo moves the clock to t (never back) and fires what falls due on
// the way, in order, each at its own time. A timer's channel holds one
// tick, as time.Timer's does; a missed tick is dropped.
func (c *Clock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	c.idle = false
	for {
		i := c.earliest()
		if i < 0 || c.timers[i].when.After(t) {
			break
		}
		ft := c.timers[i]
		c.now = ft.when
		if ft.period > 0 {
			ft.when = ft.when.Add(ft.period)
		} else {
			c.timers = slices.Delete(c.timers, i, i+1)
		}
		if ft.f != nil {
			// Run without the lock: f may use the clock.
			c.mu.Unlock()
			ft.f()
			c.mu.Lock()
			continue
		}
		select {
		case ft.ch <- c.now:
		default:
		}
	}
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
}

// Next returns when the earliest armed timer fires, if any is armed.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := c.earliest(); i >= 0 {
		return c.timers[i].when, true
	}
	return time.Time{}, false
}

// Idle waits until a timer from NewTimer is armed (made or Reset) after
// the clock last moved, and returns when the earliest armed timer fires.
// A loop that waits on one Timer between passes, like a flows.Worker, is
// then idle: its pass is over, and the test may look and move the clock.
func (c *Clock) Idle(ctx context.Context) (time.Time, error) {
	for {
		c.mu.Lock()
		idle, armed := c.idle, c.armed
		c.mu.Unlock()
		if idle {
			next, _ := c.Next()
			return next, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-armed:
		}
	}
}

// earliest returns the index of the earliest armed timer, or -1. c.mu is
// held.
func (c *Clock) earliest() int {
	i := -1
	for j, t := range c.timers {
		if i < 0 || t.when.Before(c.timers[i].when) {
			i = j
		}
	}
	return i
}

// arm arms t to fire d from now; c.mu is held. It reports whether t was
// armed already.
func (c *Clock) arm(t *fakeTimer, d time.Duration) bool {
	was := c.disarm(t)
	t.when = c.now.Add(max(d, 0))
	c.timers = append(c.timers, t)
	if t.waits {
		c.idle = true
		close(c.armed)
		c.armed = make(chan struct{})
	}
	return was
}

// disarm takes t off the armed timers; c.mu is held. It reports whether
// t was armed.
func (c *Clock) disarm(t *fakeTimer) bool {
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return true
}

type fakeTimer struct {
	c      *Clock
	when   time.Time
	period time.Duration // a ticker's
	ch     chan time.Time
	f      func() // AfterFunc's
	waits  bool   // from NewTimer: a loop waits on it (Idle)
}

// NewTimer returns a fake time.Timer.
func (c *Clock) NewTimer(d time.Duration) (flows.TimerController, <-chan time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), waits: true}
	c.arm(t, d)
	return t, t.ch
}

// NewTicker returns a fake time.Ticker.
func (c *Clock) NewTicker(d time.Duration) (flows.TickerController, <-chan time.Time) {
	if d <= 0 {
		panic("flowstest: non-positive interval for NewTicker")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), period: d}
	c.arm(t, d)
	return fakeTicker{t}, t.ch
}

// AfterFunc calls f in the goroutine that moves the clock past d from now.
func (c *Clock) AfterFunc(d time.Duration, f func()) flows.TimerController {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, f: f}
	c.arm(t, d)
	return t
}

// Reset arms the timer to fire d from now; it reports whether it was
// armed, as time.Timer's Reset does. A tick not yet received is dropped,
// as with time.Timer since Go 1.23.
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.drain()
	return t.c.arm(t, d)
}

// Stop disarms the timer; it reports whether it was armed.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.drain()
	return t.c.disarm(t)
}

func (t *fakeTimer) drain() {
	if t.ch == nil {
		return
	}
	select {
	case <-t.ch:
	default:
	}
}

type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) Reset(d time.Duration) {
	if d <= 0 {
		panic("flowstest: non-positive interval for Ticker.Reset")
	}
	k.t.c.mu.Lock()
	defer k.t.c.mu.Unlock()
	k.t.period = d
	k.t.c.arm(k.t, d)
}

func (k fakeTicker) Stop() { k.t.Stop() }
