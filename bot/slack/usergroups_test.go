package slack_test

import (
	"context"
	"errors"
	"slices"
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
	start := time.Now()
	ms, err := g.Members(ctx, "@store-leads")
	if err != nil || !slices.Equal(ids(ms), []string{"U0SATO"}) {
		t.Errorf("after a 429: %v, %v", ids(ms), err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("the call was made again after %s, before the Retry-After of 1 s", waited)
	}

	api.ServerError("usergroups.users.list", 1)
	if _, err := g.Members(ctx, "@store-leads"); err == nil || errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("Members during a 500 = %v, want an error other than ErrNotFound", err)
	}
}
