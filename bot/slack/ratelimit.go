package slack

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mamori-oss/mamori"
)

// Rate is a token bucket: PerMinute requests a minute on average and up to
// Burst at once. The zero Rate is no limit.
type Rate struct {
	PerMinute float64
	Burst     int
}

// Limits are the Web API rate limits a Sender keeps to, so that Slack
// seldom has to answer 429. Slack applies them per method, per app, per
// workspace (https://docs.slack.dev/apis/web-api/rate-limits).
type Limits struct {
	// Channel paces chat.postMessage to one channel or person: Slack
	// allows about one message a second, with short bursts.
	Channel Rate
	// Workspace is chat.postMessage's budget across the workspace. Slack
	// publishes no number ("several hundred a minute"); an Enterprise Grid
	// or a workspace with an agreed higher limit may raise it.
	Workspace Rate
	// Methods are the other methods' tiers, by method name. A method not
	// listed is not limited here.
	Methods map[string]Rate
	// MaxWait is the longest a send waits for the workspace or a method
	// budget before handing its message back to the worker for later
	// (default 2 s). A channel's pace is never waited for: another
	// recipient's message may go meanwhile.
	MaxWait time.Duration
}

// Slack's tiers: Tier 2 is 20+ requests a minute, Tier 3 50+, Tier 4 100+,
// each with some bursts. The bursts here are smaller than Slack's so that
// jitter on the way never tips a call over.
var (
	tier2 = Rate{PerMinute: 20, Burst: 3}
	tier3 = Rate{PerMinute: 50, Burst: 5}
	tier4 = Rate{PerMinute: 100, Burst: 10}
)

// DefaultLimits returns the limits Slack documents for the methods a Sender
// calls: chat.postMessage one a second per channel (bursts of 3) and 300 a
// minute across the workspace; chat.update and users.lookupByEmail Tier 3;
// files.getUploadURLExternal and files.completeUploadExternal Tier 4.
func DefaultLimits() Limits {
	return Limits{
		Channel:   Rate{PerMinute: 60, Burst: 3},
		Workspace: Rate{PerMinute: 300, Burst: 10},
		Methods: map[string]Rate{
			"chat.update":                  tier3,
			"chat.delete":                  tier3,
			"chat.postEphemeral":           tier4,
			"conversations.open":           tier3,
			"users.info":                   tier4,
			"users.lookupByEmail":          tier3,
			"views.open":                   tier4,
			"views.publish":                tier4,
			"views.update":                 tier4,
			"views.push":                   tier4,
			"files.upload":                 tier2,
			"files.info":                   tier4,
			"files.getUploadURLExternal":   tier4,
			"files.completeUploadExternal": tier4,
		},
		MaxWait: 2 * time.Second,
	}
}

const postMessage = "chat.postMessage"

// limiter keeps a Sender within its Limits. It runs on the wall clock,
// not an injected one: it paces real requests to a real server, and a
// demo clock that jumps ahead must not let a burst through.
type limiter struct {
	limits Limits
	now    func() time.Time

	mu        sync.Mutex
	workspace *rate.Limiter
	methods   map[string]*rate.Limiter
	channels  map[string]*channelBucket
	paused    map[string]time.Time // method, or method+" "+channel → until (a 429's Retry-After)
	waiting   map[*rate.Limiter][]*waiter
}

// waiter is an ordinary call that holds a shared budget's token due later
// and sleeps until then. An urgent call takes the earliest such token and
// moves each waiter one token later (bump): at is when its token is due
// now, and rs the reservation it holds.
type waiter struct {
	rs     *rate.Reservation
	at     time.Time
	rc     *rate.Reservation // the channel's token, or nil
	bumped chan struct{}     // closed when it lost its token
	lost   bool              // bumped, under the limiter's lock
}

type channelBucket struct {
	*rate.Limiter
	used time.Time
}

func newLimiter(l Limits) *limiter {
	if l.MaxWait <= 0 {
		l.MaxWait = 2 * time.Second
	}
	lim := &limiter{limits: l, now: time.Now, workspace: bucket(l.Workspace),
		methods: map[string]*rate.Limiter{}, channels: map[string]*channelBucket{}, paused: map[string]time.Time{},
		waiting: map[*rate.Limiter][]*waiter{}}
	for m, r := range l.Methods {
		if b := bucket(r); b != nil {
			lim.methods[m] = b
		}
	}
	return lim
}

func bucket(r Rate) *rate.Limiter {
	if r.PerMinute <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r.PerMinute/60), max(r.Burst, 1))
}

// paced is the error for a call held back for d.
func paced(d time.Duration) error {
	return &mamori.RetryAfterError{After: max(d, time.Millisecond), Paced: true}
}

// take waits for the budget of one call of method (to channel, for
// chat.postMessage). When the channel is not yet due, or the wait for a
// shared budget would be longer than MaxWait or than ctx allows, it
// returns a paced RetryAfterError at once and uses no budget.
//
// An urgent call (an SOS alert, mamori.UrgentKey) goes ahead of the calls
// waiting for the shared budget (see bump): it takes the next token, not
// one after theirs, and the budget is kept all the same. Its channel and a
// 429's Retry-After hold it back like any other call.
func (l *limiter) take(ctx context.Context, method, channel string, urgent bool) error {
	now := l.now()
	l.mu.Lock()
	for _, key := range []string{method, method + " " + channel} {
		if until, ok := l.paused[key]; ok {
			if now.Before(until) {
				l.mu.Unlock()
				return paced(until.Sub(now))
			}
			delete(l.paused, key)
		}
	}
	shared := l.methods[method]
	var ch *channelBucket
	if method == postMessage {
		shared = l.workspace
		ch = l.channel(channel, now)
	}
	var rs *rate.Reservation
	wait := time.Duration(0)
	if urgent && shared != nil {
		// Only for a call that will go: not one its own channel holds
		// back anyway.
		if ch != nil {
			if tokens := ch.TokensAt(now); tokens < 1 {
				l.mu.Unlock()
				return paced(time.Duration((1 - tokens) / float64(ch.Limit()) * float64(time.Second)))
			}
		}
		deadline, ok := ctx.Deadline()
		var at time.Time
		if rs, at = l.bump(shared, now, deadline, ok); rs != nil {
			wait = at.Sub(now)
		}
	}
	if shared != nil && rs == nil {
		rs = shared.ReserveN(now, 1)
		wait = rs.DelayFrom(now)
		deadline, ok := ctx.Deadline()
		if wait > l.limits.MaxWait || (ok && now.Add(wait).After(deadline)) {
			rs.CancelAt(now)
			l.mu.Unlock()
			return paced(wait)
		}
	}
	var rc *rate.Reservation
	if ch != nil {
		// The channel's token is taken for when the message will go.
		at := now.Add(wait)
		rc = ch.ReserveN(at, 1)
		if d := rc.DelayFrom(at); d > 0 {
			rc.CancelAt(at)
			if rs != nil {
				rs.CancelAt(now)
			}
			l.mu.Unlock()
			return paced(wait + d)
		}
		ch.used = at
	}
	if wait <= 0 {
		l.mu.Unlock()
		return nil
	}
	w := &waiter{rs: rs, at: now.Add(wait), rc: rc, bumped: make(chan struct{})}
	if !urgent {
		l.waiting[shared] = append(l.waiting[shared], w)
	}
	l.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.mu.Lock()
			if w.lost {
				l.mu.Unlock()
				return paced(wait)
			}
			if d := w.at.Sub(l.now()); d > 0 {
				// Moved a token later by an urgent call.
				l.mu.Unlock()
				t.Reset(d)
				continue
			}
			l.unwait(shared, w)
			l.mu.Unlock()
			return nil
		case <-w.bumped:
			// Its token went to an urgent call: the worker sends it
			// again after about the wait it had.
			return paced(wait)
		case <-ctx.Done():
			l.mu.Lock()
			if !w.lost {
				l.unwait(shared, w)
				w.rs.CancelAt(l.now())
				if w.rc != nil {
					w.rc.CancelAt(w.at)
				}
			}
			l.mu.Unlock()
			return ctx.Err()
		}
	}
}

// unwait removes w from the calls waiting for shared. Callers hold l.mu.
func (l *limiter) unwait(shared *rate.Limiter, w *waiter) {
	ws := l.waiting[shared]
	if i := slices.Index(ws, w); i >= 0 {
		ws = slices.Delete(ws, i, i+1)
	}
	if len(ws) == 0 {
		delete(l.waiting, shared)
	} else {
		l.waiting[shared] = ws
	}
}

// bump gives an urgent call the earliest token that the calls waiting for
// shared hold, due later than now (and before deadline, if set), and
// returns it and when it is due; nil when none waits. Each waiter moves
// to the token of the one after it, and the last is woken to hand its
// message back: no token is given back or made, so the budget is what it
// was. Callers hold l.mu.
func (l *limiter) bump(shared *rate.Limiter, now, deadline time.Time, hasDeadline bool) (*rate.Reservation, time.Time) {
	var ws []*waiter
	for _, w := range l.waiting[shared] {
		if w.at.After(now) { // one due now goes as it is
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil, time.Time{}
	}
	slices.SortFunc(ws, func(a, b *waiter) int { return a.at.Compare(b.at) })
	rs, at := ws[0].rs, ws[0].at
	if hasDeadline && at.After(deadline) {
		return nil, time.Time{}
	}
	for i := range len(ws) - 1 {
		ws[i].rs, ws[i].at = ws[i+1].rs, ws[i+1].at
	}
	last := ws[len(ws)-1]
	if last.rc != nil {
		last.rc.CancelAt(last.at)
	}
	last.lost = true
	close(last.bumped)
	l.unwait(shared, last)
	return rs, at
}

// maxChannels is how many channel buckets are kept before idle ones are
// dropped; an idle bucket is full, the same as a new one.
const maxChannels = 4096

// channel returns the bucket of channel. Callers hold l.mu.
func (l *limiter) channel(channel string, now time.Time) *channelBucket {
	if l.limits.Channel.PerMinute <= 0 || channel == "" {
		return nil
	}
	if b, ok := l.channels[channel]; ok {
		return b
	}
	if len(l.channels) >= maxChannels {
		full := time.Duration(float64(max(l.limits.Channel.Burst, 1)) / l.limits.Channel.PerMinute * float64(time.Minute))
		for k, b := range l.channels {
			if now.Sub(b.used) > full {
				delete(l.channels, k)
			}
		}
	}
	b := &channelBucket{Limiter: bucket(l.limits.Channel), used: now}
	l.channels[channel] = b
	return b
}

// pause holds back calls of method (to channel, when set) for d after
// Slack answered 429 with Retry-After: d.
func (l *limiter) pause(method, channel string, d time.Duration) {
	key := method
	if channel != "" {
		key += " " + channel
	}
	until := l.now().Add(d)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.paused) >= maxChannels {
		now := l.now()
		for k, u := range l.paused {
			if !now.Before(u) {
				delete(l.paused, k)
			}
		}
	}
	if until.After(l.paused[key]) {
		l.paused[key] = until
	}
}
