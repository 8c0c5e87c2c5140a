package slacktest

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: PerMinute requests a minute on average and up to
// Burst at once. The zero Rate is no limit.
type Rate struct {
	PerMinute float64
	Burst     int
}

// PerSecond returns a Rate of n requests a second with burst b.
func PerSecond(n float64, b int) Rate { return Rate{PerMinute: n * 60, Burst: b} }

// Limits are the rate limits the fake enforces when asked (Enforce).
// Slack applies them per method, per app, per workspace; chat.postMessage
// is special: about one message a second to a channel, and a
// workspace-wide budget Slack does not publish.
type Limits struct {
	// Methods are per-method budgets (Slack's tiers). chat.postMessage is
	// limited by Channel and Workspace instead.
	Methods map[string]Rate
	// Channel limits chat.postMessage to one channel (a user id and the
	// DM channel with that user are one channel).
	Channel Rate
	// Workspace limits chat.postMessage across the workspace.
	Workspace Rate
}

// Slack's tiers (https://docs.slack.dev/apis/web-api/rate-limits): Tier 2
// 20+ a minute, Tier 3 50+, Tier 4 100+, each "with bursts".
var (
	tier2 = Rate{PerMinute: 20, Burst: 5}
	tier3 = Rate{PerMinute: 50, Burst: 10}
	tier4 = Rate{PerMinute: 100, Burst: 20}
)

// SlackLimits returns the limits Slack documents for the methods the fake
// knows, and a workspace-wide chat.postMessage budget of 600 a minute
// ("several hundred"; Slack publishes no number).
func SlackLimits() Limits {
	return Limits{
		Methods: map[string]Rate{
			"auth.test":                    tier4,
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
			"usergroups.list":              tier2,
			"usergroups.users.list":        tier2,
		},
		Channel:   Rate{PerMinute: 60, Burst: 5},
		Workspace: Rate{PerMinute: 600, Burst: 30},
	}
}

// Enforce makes the fake keep to l: a call over a limit is answered HTTP
// 429 with Retry-After, as Slack does, and counted as a violation.
// Enforce(Limits{}) stops enforcing.
func (s *Server) Enforce(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = &enforcer{limits: l, methods: map[string]*rate.Limiter{}, channels: map[string]*rate.Limiter{},
		workspace: newLimiter(l.Workspace)}
	for m, r := range l.Methods {
		s.limits.methods[m] = newLimiter(r)
	}
}

// Violations returns how many calls went over the enforced limits, by
// method.
func (s *Server) Violations() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for m, n := range s.violations {
		out[m] = n
	}
	return out
}

// SetLatency makes every Web API call answer d later, like Slack across
// the internet (a round trip of 100 ms or more) rather than loopback.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func (s *Server) delay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

// Storm makes a share of calls fail before the fake acts on them, as
// during an incident at Slack: nothing is posted by a call that fails.
type Storm struct {
	// Methods are the methods hit; every method when empty.
	Methods []string
	// RateLimited is the share of calls answered HTTP 429 with
	// Retry-After: RetryAfter seconds (default 1).
	RateLimited float64
	RetryAfter  int
	// ServerErrors is the share answered HTTP 500 or 503.
	ServerErrors float64
	// Drops is the share whose connection is closed without an answer.
	Drops float64
	// For is how long the storm lasts from SetStorm; for ever when 0.
	For time.Duration
	// Seed makes the storm repeatable.
	Seed uint64
}

// SetStorm starts st; SetStorm(Storm{}) ends it.
func (s *Server) SetStorm(st Storm) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.RateLimited+st.ServerErrors+st.Drops <= 0 {
		s.storm = nil
		return
	}
	if st.RetryAfter <= 0 {
		st.RetryAfter = 1
	}
	s.storm = &storm{Storm: st, rnd: rand.New(rand.NewPCG(st.Seed, st.Seed^0x9e3779b97f4a7c15))}
	if st.For > 0 {
		s.storm.until = time.Now().Add(st.For)
	}
}

type storm struct {
	Storm
	rnd   *rand.Rand
	until time.Time
}

// stormHit is what the storm does to a call: 0 (nothing), 429 (with
// Retry-After seconds), 500, 503 or -1 (drop the connection).
func (s *Server) stormHit(method string) (hit, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.storm
	if st == nil || (len(st.Methods) > 0 && !contains(st.Methods, method)) {
		return 0, 0
	}
	if !st.until.IsZero() && time.Now().After(st.until) {
		s.storm = nil
		return 0, 0
	}
	x := st.rnd.Float64()
	switch {
	case x < st.RateLimited:
		return http.StatusTooManyRequests, st.RetryAfter
	case x < st.RateLimited+st.ServerErrors:
		if st.rnd.IntN(2) == 0 {
			return http.StatusInternalServerError, 0
		}
		return http.StatusServiceUnavailable, 0
	case x < st.RateLimited+st.ServerErrors+st.Drops:
		return -1, 0
	}
	return 0, 0
}

type enforcer struct {
	limits    Limits
	methods   map[string]*rate.Limiter
	channels  map[string]*rate.Limiter
	workspace *rate.Limiter
}

func newLimiter(r Rate) *rate.Limiter {
	if r.PerMinute <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r.PerMinute/60), max(r.Burst, 1))
}

// overLimit takes a token for c and returns how long the caller must wait
// when it is over a limit, or 0.
func (s *Server) overLimit(c *Call, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.limits
	if e == nil {
		return 0
	}
	var ls []*rate.Limiter
	if c.Method == "chat.postMessage" {
		ch := s.channelOf(c.Get("channel"))
		if e.limits.Channel.PerMinute > 0 && ch != "" {
			l := e.channels[ch]
			if l == nil {
				l = newLimiter(e.limits.Channel)
				e.channels[ch] = l
			}
			ls = append(ls, l)
		}
		ls = append(ls, e.workspace)
	} else {
		ls = append(ls, e.methods[c.Method])
	}
	var rs []*rate.Reservation
	wait := time.Duration(0)
	for _, l := range ls {
		if l == nil {
			continue
		}
		r := l.ReserveN(now, 1)
		rs = append(rs, r)
		wait = max(wait, r.DelayFrom(now))
	}
	if wait == 0 {
		return 0
	}
	// A refused call uses no budget.
	for _, r := range rs {
		r.CancelAt(now)
	}
	if s.violations == nil {
		s.violations = map[string]int{}
	}
	s.violations[c.Method]++
	return wait
}

// channelOf returns the channel a post to ch lands in: a user's id stands
// for the DM channel with that user. Callers hold s.mu.
func (s *Server) channelOf(ch string) string {
	if isUserID(ch) {
		if _, ok := s.users[ch]; ok {
			return "D" + ch
		}
	}
	return ch
}

func isUserID(s string) bool { return strings.HasPrefix(s, "U") || strings.HasPrefix(s, "W") }

// retryAfter is d as Slack's Retry-After: whole seconds, at least one.
func retryAfter(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }
