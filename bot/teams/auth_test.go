package teams_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
)

const appID = "11111111-2222-4333-8444-555555555555"

// clock is a test clock that moves only when told.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newValidator(f *teamstest.Fake, c *clock) *teams.Validator {
	return &teams.Validator{AppID: appID, MetadataURL: f.MetadataURL, Clock: c.now, Client: &http.Client{Timeout: 5 * time.Second}}
}

func TestValidator(t *testing.T) {
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	c := newClock()
	v := newValidator(f, c)
	ctx := context.Background()
	header := func(tok string) string { return "Bearer " + tok }
	valid := f.Claims()
	unendorsed := f.UnpublishedKey("webchat")
	f.Publish(unendorsed)

	for _, tc := range []struct {
		name    string
		auth    string
		channel string
		service string
		want    error
	}{
		{"valid", header(f.Sign(valid)), "msteams", f.ServiceURL, nil},
		{"lower-case scheme", "bearer " + f.Sign(valid), "msteams", f.ServiceURL, nil},
		{"missing", "", "msteams", f.ServiceURL, teams.ErrNoToken},
		{"not bearer", "Basic " + f.Sign(valid), "msteams", f.ServiceURL, teams.ErrNoToken},
		{"garbage", "Bearer not.a.jwt", "msteams", f.ServiceURL, teams.ErrBadToken},
		{"bad signature", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.ForgeKey = true }))), "msteams", f.ServiceURL, teams.ErrBadToken},
		{"wrong issuer", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.Issuer = "https://sts.windows.net/evil/" }))), "msteams", f.ServiceURL, teams.ErrBadToken},
		{"wrong audience", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.Audience = "another-bot" }))), "msteams", f.ServiceURL, teams.ErrBadToken},
		{"expired", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.Expires = time.Now().Add(-6 * time.Minute) }))), "msteams", f.ServiceURL, teams.ErrBadToken},
		{"expired within skew", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.Expires = time.Now().Add(-4 * time.Minute) }))), "msteams", f.ServiceURL, nil},
		{"not yet valid", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.NotBefore = time.Now().Add(6 * time.Minute) }))), "msteams", f.ServiceURL, teams.ErrBadToken},
		{"wrong serviceUrl", header(f.Sign(valid)), "msteams", "https://evil.example/", teams.ErrNotAllowed},
		{"no serviceurl claim", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.ServiceURL = "" }))), "msteams", f.ServiceURL, teams.ErrNotAllowed},
		{"key not endorsed for the channel", header(f.Sign(valid)), "webchat", f.ServiceURL, teams.ErrNotAllowed},
		{"key endorsed for another channel", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.Kid = unendorsed }))), "msteams", f.ServiceURL, teams.ErrNotAllowed},
		{"unknown kid", header(f.Sign(with(valid, func(c *teamstest.Claims) { c.Kid = "nobody" }))), "msteams", f.ServiceURL, teams.ErrBadToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Validate(ctx, tc.auth, tc.channel, tc.service)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Validate: %v, want %v", err, tc.want)
			}
		})
	}
	// The keys were fetched once; forged kids do not make it fetch again.
	if n := f.Calls("keys"); n != 1 {
		t.Errorf("the keys were fetched %d times, want 1", n)
	}
}

func with(c teamstest.Claims, change func(*teamstest.Claims)) teamstest.Claims {
	change(&c)
	return c
}

// A key Microsoft starts signing with is fetched when a token first names
// it (at most once per MinRefetch), and the keys are refreshed daily.
func TestValidatorKeyRotation(t *testing.T) {
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	c := newClock()
	v := newValidator(f, c)
	ctx := context.Background()
	if err := v.Validate(ctx, "Bearer "+f.Token(), "msteams", f.ServiceURL); err != nil {
		t.Fatal(err)
	}
	next := f.UnpublishedKey("msteams")
	tok := f.Sign(with(f.Claims(), func(cl *teamstest.Claims) { cl.Kid = next }))
	c.add(10 * time.Minute)
	if err := v.Validate(ctx, "Bearer "+tok, "msteams", f.ServiceURL); !errors.Is(err, teams.ErrBadToken) {
		t.Fatalf("a token signed with an unpublished key: %v", err)
	}
	f.Publish(next)
	if err := v.Validate(ctx, "Bearer "+tok, "msteams", f.ServiceURL); !errors.Is(err, teams.ErrBadToken) {
		t.Fatalf("refetched within MinRefetch: %v", err)
	}
	c.add(5 * time.Minute)
	if err := v.Validate(ctx, "Bearer "+tok, "msteams", f.ServiceURL); err != nil {
		t.Fatalf("after the key was published, the unknown kid was not refetched: %v", err)
	}
	if n := f.Calls("keys"); n != 3 {
		t.Errorf("keys fetched %d times, want 3 (first use, unknown kid, unknown kid after MinRefetch)", n)
	}
	c.add(25 * time.Hour)
	later := f.Sign(with(f.Claims(), func(cl *teamstest.Claims) { cl.Expires = c.now().Add(time.Hour) }))
	if err := v.Validate(ctx, "Bearer "+later, "msteams", f.ServiceURL); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("keys"); n != 4 {
		t.Errorf("keys fetched %d times, want a daily refresh (4)", n)
	}
}

// When Microsoft's keys cannot be had, nothing is accepted, nothing
// panics, and the cached keys keep serving once known.
func TestValidatorKeysUnavailable(t *testing.T) {
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	v := &teams.Validator{AppID: appID, MetadataURL: "http://127.0.0.1:1/v1/.well-known/openidconfiguration"}
	err := v.Validate(context.Background(), "Bearer "+f.Token(), "msteams", f.ServiceURL)
	if !errors.Is(err, teams.ErrKeysUnavailable) {
		t.Fatalf("metadata unreachable: %v", err)
	}
}

// Many bad and good tokens, concurrently: no panic, no race (go test
// -race), and no goroutine left behind.
func TestValidatorConcurrentNoLeak(t *testing.T) {
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	v := newValidator(f, newClock())
	ctx := context.Background()
	good := "Bearer " + f.Token()
	bad := []string{"", "Bearer", "Bearer x.y.z", "Bearer " + f.Sign(with(f.Claims(), func(c *teamstest.Claims) { c.Kid = "x" })),
		"Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", "Bearer " + f.Sign(with(f.Claims(), func(c *teamstest.Claims) { c.Audience = "" }))}
	if err := v.Validate(ctx, good, "msteams", f.ServiceURL); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				auth := good
				if (i+j)%2 == 1 {
					auth = bad[(i+j)%len(bad)]
				}
				err := v.Validate(ctx, auth, "msteams", f.ServiceURL)
				if (auth == good) != (err == nil) {
					t.Errorf("%q: %v", auth, err)
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Errorf("goroutines grew from %d to %d", before, after)
	}
}

// A token checked once is not checked again with RSA at each activity,
// but every claim still is: an expired one is refused though remembered,
// another serviceUrl is refused, and a token differing by one character
// is checked as a new one.
func TestValidatorRemembersTokens(t *testing.T) {
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	c := newClock()
	v := newValidator(f, c)
	ctx := context.Background()
	tok := f.Sign(with(f.Claims(), func(cl *teamstest.Claims) { cl.Expires = c.now().Add(time.Hour) }))
	for range 3 {
		if err := v.Validate(ctx, "Bearer "+tok, "msteams", f.ServiceURL); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Validate(ctx, "Bearer "+tok, "msteams", "https://evil.example/"); !errors.Is(err, teams.ErrNotAllowed) {
		t.Errorf("a remembered token for another serviceUrl: %v", err)
	}
	if err := v.Validate(ctx, "Bearer "+tok, "webchat", f.ServiceURL); !errors.Is(err, teams.ErrNotAllowed) {
		t.Errorf("a remembered token from a channel its key is not endorsed for: %v", err)
	}
	forged := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[tok[len(tok)-2:] != "AA"]
	if err := v.Validate(ctx, "Bearer "+forged, "msteams", f.ServiceURL); !errors.Is(err, teams.ErrBadToken) {
		t.Errorf("a remembered token with its signature changed: %v", err)
	}
	c.add(time.Hour + MaxSkewAndAMinute)
	if err := v.Validate(ctx, "Bearer "+tok, "msteams", f.ServiceURL); !errors.Is(err, teams.ErrBadToken) {
		t.Errorf("a remembered token, expired: %v", err)
	}
}

const MaxSkewAndAMinute = teams.MaxClockSkew + time.Minute
