package flows

import (
	"fmt"
	"time"

	"github.com/mamori-oss/mamori"
)

// An SOS in App Home. It is in the employee's own list and, until the
// employee says they are safe, in the open cases of the department's
// supervisors and HR; but the report deadlines (take, judge, overdue)
// mean nothing to it: what matters is whether someone is on it.

// sosNext tells the employee where their SOS k stands.
func (s *Service) sosNext(k mamori.Case, l mamori.Lang) string {
	t := s.Policy.T
	switch {
	case k.Status == mamori.StatusClosed && k.Decision != nil && k.Decision.Emergency != nil && k.Decision.Emergency.Report != "":
		return fmt.Sprintf(t(l, "home.next.sos.report"), k.Decision.Emergency.Report)
	case k.Status == mamori.StatusClosed && sosRecord(&k).SafeBy != "":
		return fmt.Sprintf(t(l, "home.next.sos.closed_by"), mention(sosRecord(&k).SafeBy))
	case k.Status == mamori.StatusClosed:
		return t(l, "home.next.sos.safe")
	case k.Assignee != "":
		return fmt.Sprintf(t(l, "home.next.sos.acked"), mention(k.Assignee))
	}
	return t(l, "home.next.sos.waiting")
}

// sosOpenLine is SOS k in the open cases of a supervisor or HR: when it
// was raised, to the minute, and whether anyone is on it — as its alert
// card says.
func (s *Service) sosOpenLine(k mamori.Case, l mamori.Lang) string {
	t := s.Policy.T
	at := func(x time.Time) string { return s.local(x).Format("15:04") }
	status := t(l, "sos.status.waiting")
	switch {
	case k.Assignee != "":
		status = fmt.Sprintf(t(l, "sos.status.acked"), mention(k.Assignee), at(k.Taken))
	case k.Decision != nil && k.Decision.Emergency != nil && k.Decision.Emergency.Rounds > 0:
		status = fmt.Sprintf(t(l, "sos.status.escalated"), k.Decision.Emergency.Rounds)
	}
	return s.local(k.Created).Format("2006-01-02 15:04") + " · " + t(l, "urgency."+k.Urgency) + " · " + status
}
