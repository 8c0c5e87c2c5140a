package slack

import (
	"context"
	"time"
)

// RunSocketModeAfter is RunSocketMode waiting out its backoffs through
// after instead of the real clock.
func (a *Adapter) RunSocketModeAfter(ctx context.Context, after func(time.Duration) <-chan time.Time) error {
	return a.runSocketMode(ctx, after)
}

// SetAfter makes g wait out a Retry-After through after instead of the
// real clock.
func (g *UserGroups) SetAfter(after func(time.Duration) <-chan time.Time) { g.after = after }
