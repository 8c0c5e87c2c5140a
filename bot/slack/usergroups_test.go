package slack_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// TestUserGroups reads user groups from the loopback Web API: by handle
// (one usergroups.list for several groups) or by id; a member removed is
// gone at the next read; an unknown handle or id is ErrNotFound; a 429
// is waited out for its Retry-After and the call made again; a 500 is an
// error for the sync to keep the last good membership.
func TestUserGroups(t *testing.T) {
	ctx := context.Background()
	api := slacktest.New(t, "xoxb-groups")
	api.SetUserGroup(slacktest.UserGroup{ID: "S0STAFF", Handle: "store-staff", Name: "Store staff", Users: []string{"U0TANAKA", "U0KOBAYASHI"}})
	api.SetUserGroup(slacktest.UserGroup{ID: "S0LEADS", Handle: "store-leads", Name: "Store leads", Users: []string{"U0SATO"}})
	api.SetUserGroup(slacktest.UserGroup{ID: "S0OLD", Handle: "old-team", Users: []string{"U0GONE"}, Disabled: true})
	g := slack.NewUserGroups(slack.Config{BotToken: "xoxb-groups", APIURL: api.URL})
	waits := &waits{}
	g.SetAfter(waits.after)

	ids := func(ms []mamori.Member) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	for _, tc := range []struct {
		group string
		want  []string
	}{
		{"@store-staff", []string{"U0TANAKA", "U0KOBAYASHI"}},
		{"store-leads", []string{"U0SATO"}},
		{"S0LEADS", []string{"U0SATO"}},
	} {
		ms, err := g.Members(ctx, tc.group)
		if err != nil || !slices.Equal(ids(ms), tc.want) {
			t.Errorf("Members(%s) = %v, %v; want %v", tc.group, ids(ms), err, tc.want)
		}
	}
	if n := len(api.Calls("usergroups.list")); n != 1 {
		t.Errorf("usergroups.list called %d times for two handles, want 1", n)
	}
	for _, c := range api.Calls("usergroups.users.list") {
		if c.Get("usergroup") == "" || c.Status != 200 {
			t.Errorf("usergroups.users.list call %+v", c)
		}
	}

	api.SetUserGroup(slacktest.UserGroup{ID: "S0STAFF", Handle: "store-staff", Users: []string{"U0KOBAYASHI"}})
	if ms, err := g.Members(ctx, "@store-staff"); err != nil || !slices.Equal(ids(ms), []string{"U0KOBAYASHI"}) {
		t.Errorf("after a removal: %v, %v", ids(ms), err)
	}

	for _, group := range []string{"@old-team", "@nobody", "S0MISSING"} {
		if _, err := g.Members(ctx, group); !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Members(%s) = %v, want ErrNotFound", group, err)
		}
	}

	api.RateLimit("usergroups.users.list", 1, 1)
	calls := len(api.Calls("usergroups.users.list"))
	ms, err := g.Members(ctx, "@store-leads")
	if err != nil || !slices.Equal(ids(ms), []string{"U0SATO"}) {
		t.Errorf("after a 429: %v, %v", ids(ms), err)
	}
	if w := waits.took(); !slices.Equal(w, []time.Duration{time.Second}) {
		t.Errorf("waited %v before the call was made again, want the Retry-After of 1 s", w)
	}
	if c := api.Calls("usergroups.users.list")[calls:]; len(c) != 2 || c[0].Status != 429 || c[1].Status != 200 {
		t.Errorf("calls after a 429: %+v, want the 429 and the call made again", c)
	}

	api.ServerError("usergroups.users.list", 1)
	if _, err := g.Members(ctx, "@store-leads"); err == nil || errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("Members during a 500 = %v, want an error other than ErrNotFound", err)
	}
}

// waits stands in for time.After: it notes each wait asked for and ends
// it at once, or never when hold is set (the caller's context ends it).
type waits struct {
	hold bool

	mu     sync.Mutex
	asked  []time.Duration
	signal chan struct{} // closed and renewed at each wait
}

func (w *waits) after(d time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked = append(w.asked, d)
	if w.signal != nil {
		close(w.signal)
		w.signal = nil
	}
	if !w.hold || d == 0 {
		c <- time.Time{}
	}
	return c
}

// took returns the waits asked for so far, but for those of nothing.
func (w *waits) took() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tookLocked()
}

func (w *waits) tookLocked() []time.Duration {
	var out []time.Duration
	for _, d := range w.asked {
		if d != 0 {
			out = append(out, d)
		}
	}
	return out
}

// next waits until a wait of more than nothing is asked for beyond the
// n already seen, and returns it.
func (w *waits) next(tb testing.TB, n int) time.Duration {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		if got := w.tookLocked(); len(got) > n {
			w.mu.Unlock()
			return got[n]
		}
		if w.signal == nil {
			w.signal = make(chan struct{})
		}
		signal := w.signal
		w.mu.Unlock()
		select {
		case <-signal:
		case <-deadline:
			tb.Fatalf("no wait asked for after %d in 10 s", n)
		}
	}
}
