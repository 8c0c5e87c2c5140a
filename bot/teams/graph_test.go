package teams_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
)

const (
	graphApp    = "11111111-2222-4333-8444-555555555555"
	graphSecret = "graph-secret"
	staffGroup  = "6f1c2a9e-0b3d-4c5e-8f7a-1b2c3d4e5f60"
)

func objectID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// TestGraphGroups reads an Entra group from the loopback Graph: an
// app-only token for Graph from the tenant, used for every page; the
// pages followed by @odata.nextLink; users kept, a nested group left out;
// a member removed gone at the next read; a 429 waited out for its
// Retry-After; an unknown group ErrNotFound; a 500 and an unreachable
// Graph errors for the sync to keep the last good membership.
func TestGraphGroups(t *testing.T) {
	ctx := context.Background()
	g := teamstest.NewGraph(t, teamstest.Options{AppID: graphApp, Password: graphSecret})
	g.SetPageSize(2)
	var people []teamstest.GraphMember
	for i := range 5 {
		people = append(people, teamstest.GraphMember{ID: objectID(i), DisplayName: fmt.Sprint("社員", i),
			Mail: fmt.Sprintf("staff%d@example.co.jp", i), UserPrincipalName: fmt.Sprintf("staff%d@example.onmicrosoft.com", i)})
	}
	people[3].Mail = "" // no mailbox: the UPN stands for the email
	people[4].Mail, people[4].UserPrincipalName = "", "guest_example.com#EXT#@example.onmicrosoft.com"
	nested := teamstest.GraphMember{Type: "#microsoft.graph.group", ID: objectID(99), DisplayName: "店舗リーダー"}
	g.SetGroup(staffGroup, append(slices.Clone(people[:3]), nested, people[3], people[4])...)

	groups, err := teams.NewGroups(teams.GraphConfig{AppID: graphApp, Password: graphSecret, TenantID: teamstest.Tenant,
		TokenURL: g.TokenURL, URL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := groups.Members(ctx, staffGroup)
	if err != nil {
		t.Fatal(err)
	}
	want := []mamori.Member{
		{ID: objectID(0), Email: "staff0@example.co.jp", Name: "社員0"},
		{ID: objectID(1), Email: "staff1@example.co.jp", Name: "社員1"},
		{ID: objectID(2), Email: "staff2@example.co.jp", Name: "社員2"},
		{ID: objectID(3), Email: "staff3@example.onmicrosoft.com", Name: "社員3"},
		{ID: objectID(4), Name: "社員4"},
	}
	if !slices.Equal(ms, want) {
		t.Errorf("Members = %+v\nwant %+v", ms, want)
	}
	reqs := g.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests for 6 members in pages of 2, want 3: %+v", len(reqs), reqs)
	}
	if q := reqs[0].Query; !strings.Contains(q, "%24top=999") || !strings.Contains(q, "%24select=") || strings.Contains(q, "skiptoken") {
		t.Errorf("first request's query %q", q)
	}
	if !strings.Contains(reqs[1].Query, "skiptoken") || !strings.Contains(reqs[2].Query, "skiptoken") {
		t.Errorf("the next pages were not asked by @odata.nextLink: %+v", reqs)
	}
	if n := g.Tokens(); n != 1 {
		t.Errorf("%d tokens for one read, want 1", n)
	}

	g.SetGroup(staffGroup, people[1])
	if ms, err := groups.Members(ctx, staffGroup); err != nil || len(ms) != 1 || ms[0].ID != objectID(1) {
		t.Errorf("after removals: %+v, %v", ms, err)
	}

	g.Throttle(1, 1)
	var waits []time.Duration
	groups.SetAfter(func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		return time.After(0)
	})
	if ms, err := groups.Members(ctx, staffGroup); err != nil || len(ms) != 1 {
		t.Errorf("after a 429: %+v, %v", ms, err)
	}
	if !slices.Equal(waits, []time.Duration{time.Second}) {
		t.Errorf("waited %v before asking again, want the Retry-After of 1 s", waits)
	}
	reqs = g.Requests()
	if n := len(reqs); reqs[n-2].Status != 429 || reqs[n-1].Status != 200 {
		t.Errorf("requests %+v: want a 429 then a 200", reqs[n-2:])
	}

	if _, err := groups.Members(ctx, objectID(7)); !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("an unknown group: %v, want ErrNotFound", err)
	}
	if _, err := groups.Members(ctx, "store-staff"); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("a name for an object id: %v, want ErrInvalid", err)
	}
	g.Fail(500, 1)
	if _, err := groups.Members(ctx, staffGroup); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("a 500: %v", err)
	}
	g.SetDown(true)
	if _, err := groups.Members(ctx, staffGroup); err == nil {
		t.Error("an unreachable Graph gave no error")
	}
}

// TestGraphThrottledTooLong: a Retry-After beyond MaxWait fails the read
// at once instead of holding the sync.
func TestGraphThrottledTooLong(t *testing.T) {
	g := teamstest.NewGraph(t, teamstest.Options{AppID: graphApp, Password: graphSecret})
	g.SetGroup(staffGroup, teamstest.GraphMember{ID: objectID(1)})
	g.Throttle(120, 1)
	groups, err := teams.NewGroups(teams.GraphConfig{AppID: graphApp, Password: graphSecret, TenantID: teamstest.Tenant,
		TokenURL: g.TokenURL, URL: g.URL, MaxWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = groups.Members(context.Background(), staffGroup)
	var ge *teams.GraphError
	if !errors.As(err, &ge) || ge.Status != 429 || time.Since(start) > 2*time.Second {
		t.Errorf("Members = %v after %s; want the 429 at once", err, time.Since(start))
	}
}

func TestIsObjectID(t *testing.T) {
	for s, want := range map[string]bool{
		staffGroup: true, strings.ToUpper(staffGroup): true, "6f1c2a9e0b3d4c5e8f7a1b2c3d4e5f60": false,
		"6f1c2a9e-0b3d-4c5e-8f7a-1b2c3d4e5f6g": false, "@store-staff": false, "": false,
	} {
		if got := teams.IsObjectID(s); got != want {
			t.Errorf("IsObjectID(%q) = %v", s, got)
		}
	}
}
