package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mamori-oss/mamori"
)

// UserGroups reads the members of Slack user groups for the directory
// (issue 17): usergroups.list finds a group by its handle ("@store-staff"),
// usergroups.users.list gives its members' user ids. Both need the bot
// scope usergroups:read and are Tier 2 (about 20 calls a minute): the
// handles are listed once for a sync of many groups, and a call Slack
// throttles waits the Retry-After it gives and is made again.
type UserGroups struct {
	api *slackapi.Client
	now mamori.Clock
	// after is time.After, or a test's that shows a wait without waiting.
	after func(time.Duration) <-chan time.Time
	// MaxWait is the longest one throttled call waits before it is made
	// again; a longer Retry-After fails the read (the group keeps its
	// members until the next sync). Zero means a minute.
	MaxWait time.Duration

	mu      sync.Mutex
	handles map[string]string // handle (without @) → group id, from usergroups.list
	listed  time.Time
}

var _ mamori.Directory = (*UserGroups)(nil)

// How long a usergroups.list answer names the groups: a sync of every
// group lists them once. A handle it does not have (a group just made,
// or a typo) lists them again, but not within missTTL of the last list,
// so a sync with several unknown handles lists once.
const (
	handlesTTL = 5 * time.Minute
	missTTL    = 2 * time.Second
)

// NewUserGroups returns the user-group reader of the workspace whose bot
// token cfg holds (cfg.APIURL for a test's fake).
func NewUserGroups(cfg Config) *UserGroups {
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	return &UserGroups{api: newClient(cfg), now: now, after: time.After}
}

// IsGroupID reports whether s has the shape of a user group's id
// (S0614TZR7) rather than a handle.
func IsGroupID(s string) bool {
	if len(s) < 3 || len(s) > 32 || s[0] != 'S' {
		return false
	}
	for _, c := range s[1:] {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Members returns the members of group, named by its handle ("@store-staff")
// or its id ("S0614TZR7"). A handle no enabled group has, or an id Slack
// does not know (no_such_subteam), is mamori.ErrNotFound.
func (g *UserGroups) Members(ctx context.Context, group string) ([]mamori.Member, error) {
	id, err := g.id(ctx, group)
	if err != nil {
		return nil, err
	}
	var users []string
	err = g.retry(ctx, func() (err error) {
		users, err = g.api.GetUserGroupMembersContext(ctx, id)
		return err
	})
	if err != nil {
		var se slackapi.SlackErrorResponse
		if errors.As(err, &se) && se.Err == "no_such_subteam" {
			g.mu.Lock()
			g.listed = time.Time{} // the handle may name another group now
			g.mu.Unlock()
			return nil, fmt.Errorf("slack user group %s: %w", group, mamori.ErrNotFound)
		}
		return nil, fmt.Errorf("slack usergroups.users.list %s: %w", group, err)
	}
	out := make([]mamori.Member, 0, len(users))
	for _, u := range users {
		out = append(out, mamori.Member{ID: u})
	}
	return out, nil
}

// id returns the id of the group named by handle or id, listing the
// groups when the handle is not known from a recent list.
func (g *UserGroups) id(ctx context.Context, group string) (string, error) {
	if IsGroupID(group) {
		return group, nil
	}
	handle := strings.TrimPrefix(group, "@")
	g.mu.Lock()
	id, ok := g.handles[handle]
	age := g.now().Sub(g.listed)
	g.mu.Unlock()
	if ok && age < handlesTTL && age >= 0 {
		return id, nil
	}
	if ok || age >= missTTL || age < 0 {
		var list []slackapi.UserGroup
		err := g.retry(ctx, func() (err error) {
			list, err = g.api.GetUserGroupsContext(ctx)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("slack usergroups.list: %w", err)
		}
		handles := make(map[string]string, len(list))
		for _, ug := range list {
			handles[ug.Handle] = ug.ID
		}
		g.mu.Lock()
		g.handles, g.listed = handles, g.now()
		g.mu.Unlock()
		id, ok = handles[handle]
	}
	if !ok {
		return "", fmt.Errorf("slack user group @%s: no enabled group has that handle: %w", handle, mamori.ErrNotFound)
	}
	return id, nil
}

// retry makes call, and again after the wait Slack asks for when it
// answers 429, up to three times.
func (g *UserGroups) retry(ctx context.Context, call func() error) error {
	maxWait := g.MaxWait
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	for attempt := 0; ; attempt++ {
		err := call()
		var rl *slackapi.RateLimitedError
		if !errors.As(err, &rl) || attempt == 3 {
			return err
		}
		wait := rl.RetryAfter
		if wait > maxWait {
			return fmt.Errorf("throttled for %s: %w", wait, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (throttled: %w)", ctx.Err(), err)
		case <-g.after(wait):
		}
	}
}
