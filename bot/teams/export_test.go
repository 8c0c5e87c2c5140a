package teams

import "time"

// SetAfter makes g wait out a Retry-After through after instead of the
// real clock.
func (g *Groups) SetAfter(after func(time.Duration) <-chan time.Time) { g.after = after }
