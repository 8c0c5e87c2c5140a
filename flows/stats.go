package flows

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
)

// The monthly summary for HR: how many reports, of what, how fast they
// were answered, how fast an SOS reached someone, what care and training
// is still open. It holds counts and times only, so it may go to the HR
// channel: never a narrative, a customer, a place or a name.

const jobStats = "stats.monthly"

// Ids the summary uses for what a case does not say.
const (
	statsUndecided = "undecided" // no standing decision
	statsUnknown   = "unknown"   // no department or contact channel
	statsNone      = "none"      // no behaviour chosen
)

// Summary is the statistics of the reports created in [From, To).
type Summary struct {
	From, To time.Time
	// Reports and Consultations count the cases created in the period;
	// everything below up to SOS is about the reports.
	Reports, Consultations int
	// Counts, most first. A report with several behaviours counts once
	// under each.
	Departments, Behaviours, Channels, Outcomes []Count
	// FirstResponse runs from a report's creation to its first taking,
	// Judgement to its last decision, over the reports that have one.
	FirstResponse, Judgement Durations
	// SOS is about the SOS raised in the period, which count nowhere
	// else: an emergency is not a report until the employee makes one.
	SOS SOSSummary
	// OpenCare counts the care tasks open when the summary was made,
	// OverdueCare those of them past due.
	OpenCare, OverdueCare int
	// Training is each programme's latest round, by programme.
	Training []Training
	// Customers counts repeat customers and refusals of service.
	Customers CustomerSummary
}

// Count is how many reports have one value (a department id, a behaviour
// id, a contact channel id, an outcome).
type Count struct {
	ID string
	N  int
}

// Durations sums up N waits.
type Durations struct {
	N                   int
	Median, Mean, Worst time.Duration
}

// SOSSummary is the figure that tells a company whether its people are
// safe: how fast an SOS reached the platform and how fast someone said
// "I'm on it".
type SOSSummary struct {
	// Raised counts the SOS created in the period.
	Raised int
	// ToAlert runs from an SOS to its first alert reaching the platform,
	// over those where that was recorded; ToAck from that alert (from the
	// SOS when the alert's time is unknown) to the first "I'm on it".
	ToAlert, ToAck Durations
	// Unacknowledged counts those nobody acknowledged (the employee said
	// they were safe first, or it is still waiting); Escalated those
	// alerted along the chain at least once for want of an answer.
	Unacknowledged, Escalated int
}

// Training is the completion of one round of a training programme.
type Training struct {
	Programme      string
	Round          int
	Assigned, Done int
}

// TrainingTotal adds up the completion of every programme's latest round.
func (s Summary) TrainingTotal() (done, assigned int) {
	for _, t := range s.Training {
		done, assigned = done+t.Done, assigned+t.Assigned
	}
	return done, assigned
}

// Stats sums up the reports created in [from, to), with the care tasks
// and training as they are now.
func (s *Service) Stats(ctx context.Context, from, to time.Time) (Summary, error) {
	var sum Summary
	err := s.Store.View(ctx, func(tx mamori.Tx) error {
		var err error
		sum, err = s.stats(tx, from, to, s.Clock())
		return err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("stats: %w", err)
	}
	return sum, nil
}

func (s *Service) stats(tx mamori.Tx, from, to, now time.Time) (Summary, error) {
	sum := Summary{From: from, To: to}
	cases, err := tx.Cases(mamori.CaseFilter{From: from, To: to})
	if err != nil {
		return Summary{}, err
	}
	departments, behaviours, channels, decided := counter{}, counter{}, counter{}, counter{}
	var first, judged, alerted, acked []time.Duration
	for _, k := range cases {
		switch k.Kind {
		case mamori.KindConsult:
			sum.Consultations++
			continue
		case mamori.KindSOS:
			sum.SOS.Raised++
			var e mamori.Emergency
			if k.Decision != nil && k.Decision.Emergency != nil {
				e = *k.Decision.Emergency
			}
			if !e.Posted.IsZero() {
				alerted = append(alerted, max(0, e.Posted.Sub(k.Created)))
			}
			if k.Taken.IsZero() {
				sum.SOS.Unacknowledged++
			} else {
				acked = append(acked, max(0, k.Taken.Sub(cmp.Or(e.Posted, k.Created))))
			}
			if e.Rounds > 0 {
				sum.SOS.Escalated++
			}
			continue
		case mamori.KindReport:
		default:
			continue // a kind this summary does not know yet counts nowhere
		}
		sum.Reports++
		departments.add(cmp.Or(k.Department, statsUnknown))
		channels.add(cmp.Or(k.Answers.Channel, statsUnknown))
		if len(k.Behaviours) == 0 {
			behaviours.add(statsNone)
		}
		for _, b := range k.Behaviours {
			behaviours.add(b)
		}
		decided.add(outcome(k))
		if !k.Taken.IsZero() {
			first = append(first, k.Taken.Sub(k.Created))
		}
		if !k.Judged.IsZero() {
			judged = append(judged, k.Judged.Sub(k.Created))
		}
	}
	sum.Departments, sum.Behaviours, sum.Channels, sum.Outcomes = departments.sorted(), behaviours.sorted(), channels.sorted(), decided.sorted()
	sum.FirstResponse, sum.Judgement = spread(first), spread(judged)
	sum.SOS.ToAlert, sum.SOS.ToAck = spread(alerted), spread(acked)
	if sum.Customers, err = s.customerStats(tx, cases, from, to, now); err != nil {
		return Summary{}, err
	}

	care, err := tx.CareTasks(true)
	if err != nil {
		return Summary{}, err
	}
	for _, c := range care {
		sum.OpenCare++
		if c.Due.Before(now) {
			sum.OverdueCare++
		}
	}

	as, err := tx.Assignments(mamori.AssignmentFilter{})
	if err != nil {
		return Summary{}, err
	}
	// Only a programme's latest round counts: earlier rounds are history,
	// and adding them up would blur this year's completion.
	latest := map[string]*Training{}
	for _, a := range as {
		t := latest[a.Programme]
		if t == nil || a.Round > t.Round {
			t = &Training{Programme: a.Programme, Round: a.Round}
			latest[a.Programme] = t
		}
		if a.Round < t.Round {
			continue
		}
		t.Assigned++
		if !a.Done.IsZero() {
			t.Done++
		}
	}
	for _, t := range latest {
		sum.Training = append(sum.Training, *t)
	}
	slices.SortFunc(sum.Training, func(a, b Training) int { return cmp.Compare(a.Programme, b.Programme) })
	return sum, nil
}

// outcome is a report's standing decision: a reopened case has none,
// whatever it was decided before.
func outcome(k mamori.Case) string {
	if k.Decision == nil || k.Decision.Outcome == "" || (k.Status != mamori.StatusJudged && k.Status != mamori.StatusMoreInfo) {
		return statsUndecided
	}
	return k.Decision.Outcome
}

type counter map[string]int

func (c counter) add(id string) { c[id]++ }

// sorted lists the counts, most first, then by id so that the order is
// the same every month.
func (c counter) sorted() []Count {
	out := make([]Count, 0, len(c))
	for id, n := range c {
		out = append(out, Count{ID: id, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if a.N != b.N {
			return cmp.Compare(b.N, a.N)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

func spread(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	n := len(ds)
	median := ds[n/2]
	if n%2 == 0 {
		median = (ds[n/2-1] + ds[n/2]) / 2
	}
	return Durations{N: n, Median: median, Mean: total / time.Duration(n), Worst: ds[n-1]}
}

// StatsMessage is the summary for the HR channel in l, with a bar chart
// by behaviour and by decision, labelled with the policy's names in l
// (the image's alternative text says the same).
func (s *Service) StatsMessage(sum Summary, l mamori.Lang) (mamori.Message, error) {
	t := func(key string) string { return s.Policy.T(l, key) }
	env := s.env(s.Clock())
	period := s.period(sum, l)
	m := mamori.Message{Header: fmt.Sprintf(t("stats.header"), period), Text: fmt.Sprintf(t("stats.text"), period), Note: t("stats.note")}
	count := func(n int) string { return fmt.Sprintf(t("stats.count"), n) }
	m.Fields = []mamori.Field{
		{Label: t("stats.reports"), Value: count(sum.Reports)},
		{Label: t("stats.consultations"), Value: count(sum.Consultations)},
	}
	if sum.Reports == 0 {
		m.Text += "\n" + t("stats.empty")
	} else {
		m.Fields = append(m.Fields,
			mamori.Field{Label: t("stats.by_department"), Value: s.lines(sum.Departments, l, func(id string) string { return departmentName(env, id, l) })},
			mamori.Field{Label: t("stats.by_behaviour"), Value: s.lines(sum.Behaviours, l, func(id string) string { return s.behaviourName(id, l) })},
			mamori.Field{Label: t("stats.by_channel"), Value: s.lines(sum.Channels, l, func(id string) string { return s.channelName(id, l) })},
			mamori.Field{Label: t("stats.by_outcome"), Value: s.lines(sum.Outcomes, l, func(id string) string { return s.outcomeName(id, l) })},
			mamori.Field{Label: t("stats.first_response"), Value: s.durations(sum.FirstResponse, l)},
			mamori.Field{Label: t("stats.judgement"), Value: s.durations(sum.Judgement, l)},
		)
	}
	m.Fields = append(m.Fields, s.sosFields(sum.SOS, l)...)
	m.Fields = append(m.Fields, s.customerFields(sum.Customers, l)...)
	m.Fields = append(m.Fields, mamori.Field{Label: t("stats.care"), Value: fmt.Sprintf(t("stats.care.value"), sum.OpenCare, sum.OverdueCare)})
	training := t("stats.training.none")
	if done, assigned := sum.TrainingTotal(); assigned > 0 {
		lines := []string{fmt.Sprintf(t("stats.training.value"), done, assigned, percent(done, assigned))}
		for _, p := range sum.Training {
			name := p.Programme
			if prog, ok := s.programme(p.Programme); ok {
				name = prog.Name.In(l)
				if _, number, ok := strings.Cut(p.Programme, ":"); ok {
					name += " (" + number + ")"
				}
			}
			lines = append(lines, fmt.Sprintf(t("stats.training.programme"), name, p.Round, p.Done, p.Assigned, percent(p.Done, p.Assigned)))
		}
		training = strings.Join(lines, "\n")
	}
	m.Fields = append(m.Fields, mamori.Field{Label: t("stats.training"), Value: training})

	if sum.Reports == 0 {
		return m, nil // nothing to draw
	}
	month := s.local(sum.From).Format("2006-01")
	png, err := chart(fmt.Sprintf(t("stats.chart.title"), period),
		panel{Title: t("stats.by_behaviour"), Bars: bars(sum.Behaviours, func(id string) string { return s.behaviourName(id, l) }, nil)},
		panel{Title: t("stats.by_outcome"), Bars: bars(sum.Outcomes, func(id string) string { return s.outcomeName(id, l) }, outcomeColours)})
	if err != nil {
		return mamori.Message{}, fmt.Errorf("stats chart: %w", err)
	}
	m.Image = &mamori.Image{Name: "kasuhara-" + month + ".png", PNG: png,
		Alt: fmt.Sprintf(t("stats.chart.alt"), period,
			s.items(sum.Behaviours, l, func(id string) string { return s.behaviourName(id, l) }),
			s.items(sum.Outcomes, l, func(id string) string { return s.outcomeName(id, l) }))}
	return m, nil
}

// sosFields are the summary's SOS lines, when there was any: how many,
// the time to the alert and to the acknowledgement (median and worst:
// the worst is what a company must know about) and how many nobody
// answered or went up the chain.
func (s *Service) sosFields(sum SOSSummary, l mamori.Lang) []mamori.Field {
	if sum.Raised == 0 {
		return nil
	}
	t := func(key string) string { return s.Policy.T(l, key) }
	out := []mamori.Field{{Label: t("stats.sos"), Value: fmt.Sprintf(t("stats.count"), sum.Raised)}}
	times := func(d Durations) string {
		if d.N == 0 {
			return t("stats.sos.not_recorded")
		}
		return fmt.Sprintf(t("stats.sos.times"), s.shortDuration(d.Median, l), s.shortDuration(d.Worst, l), d.N)
	}
	return append(out,
		mamori.Field{Label: t("stats.sos.to_alert"), Value: times(sum.ToAlert)},
		mamori.Field{Label: t("stats.sos.to_ack"), Value: times(sum.ToAck)},
		mamori.Field{Label: t("stats.sos.unanswered"), Value: fmt.Sprintf(t("stats.sos.unanswered.value"), sum.Unacknowledged, sum.Escalated)})
}

// shortDuration says a wait of seconds or minutes as a person would:
// tenths of a second under ten seconds (the alert's target is one),
// then seconds, minutes and seconds, hours and minutes; days as
// duration does.
func (s *Service) shortDuration(d time.Duration, l mamori.Lang) string {
	t := func(key string) string { return s.Policy.T(l, key) }
	if tenths := d.Round(100 * time.Millisecond); tenths < 10*time.Second {
		v := strings.TrimSuffix(fmt.Sprintf("%.1f", tenths.Seconds()), ".0")
		return fmt.Sprintf(t("stats.sos.seconds"), v)
	}
	if secs := d.Round(time.Second); secs < time.Minute {
		return fmt.Sprintf(t("stats.sos.seconds"), fmt.Sprint(int(secs/time.Second)))
	} else if secs < time.Hour {
		m, sec := int(secs/time.Minute), int(secs%time.Minute/time.Second)
		if sec == 0 {
			return fmt.Sprintf(t("stats.minutes"), m)
		}
		return fmt.Sprintf(t("stats.sos.min_sec"), m, sec)
	}
	if mins := d.Round(time.Minute); mins < 72*time.Hour {
		h, m := int(mins/time.Hour), int(mins%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf(t("stats.hours"), h)
		}
		return fmt.Sprintf(t("stats.sos.hour_min"), h, m)
	}
	return s.duration(d, l)
}

// period names the summary's period: a month when it is one, the first
// and last day otherwise.
func (s *Service) period(sum Summary, l mamori.Lang) string {
	from, to := s.local(sum.From), s.local(sum.To)
	if from.Day() == 1 && from.Hour() == 0 && from.Minute() == 0 && to.Equal(from.AddDate(0, 1, 0)) {
		return from.Format(s.Policy.T(l, "stats.month"))
	}
	date := s.Policy.T(l, "stats.date")
	return from.Format(date) + " – " + to.Add(-time.Nanosecond).Format(date)
}

func (s *Service) behaviourName(id string, l mamori.Lang) string {
	if b, ok := s.Policy.Behaviour(id); ok {
		return b.Label.In(l)
	}
	if id == statsNone {
		return s.Policy.T(l, "stats.no_behaviour")
	}
	return id
}

func (s *Service) channelName(id string, l mamori.Lang) string {
	if id == statsUnknown {
		return s.Policy.T(l, "stats.unknown")
	}
	return mamori.Label(s.Policy.Channels, id, l)
}

func (s *Service) outcomeName(id string, l mamori.Lang) string {
	if id == statsUndecided {
		return s.Policy.T(l, "stats.undecided")
	}
	return s.Policy.T(l, "decision."+id)
}

// lines puts one count a line, for a field.
func (s *Service) lines(cs []Count, l mamori.Lang, name func(string) string) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf(s.Policy.T(l, "stats.item"), name(c.ID), c.N)
	}
	return strings.Join(out, "\n")
}

// items puts the counts in one sentence, for the chart's alternative text.
func (s *Service) items(cs []Count, l mamori.Lang, name func(string) string) string {
	return strings.ReplaceAll(s.lines(cs, l, name), "\n", s.Policy.T(l, "stats.list_sep"))
}

func (s *Service) durations(d Durations, l mamori.Lang) string {
	if d.N == 0 {
		return s.Policy.T(l, "stats.none")
	}
	key := "stats.times"
	if d.N == 1 {
		key = "stats.times.one" // "(1 case)"
	}
	return fmt.Sprintf(s.Policy.T(l, key), s.duration(d.Median, l), s.duration(d.Mean, l), d.N)
}

// duration says a wait in the unit a person would: minutes under an
// hour, hours under three days, days after.
func (s *Service) duration(d time.Duration, l mamori.Lang) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf(s.Policy.T(l, "stats.minutes"), int(d.Round(time.Minute)/time.Minute))
	case d < 72*time.Hour:
		return fmt.Sprintf(s.Policy.T(l, "stats.hours"), int(d.Round(time.Hour)/time.Hour))
	}
	return fmt.Sprintf(s.Policy.T(l, "stats.days"), int(d.Round(24*time.Hour)/(24*time.Hour)))
}

func percent(n, of int) int {
	if of == 0 {
		return 0
	}
	return (200*n + of) / (2 * of) // rounded half up
}

type statsPayload struct {
	Month string `json:"month"` // the month summed up, "2006-01"
}

// statsJob is the job that sums up the month that begins at month: due
// at the start of the first working day of the month after.
func (s *Service) statsJob(month time.Time) mamori.Job {
	key := month.Format("2006-01")
	p, _ := json.Marshal(statsPayload{Month: key})
	due := s.Care.WorkingTime(month.AddDate(0, 1, 0), s.Location)
	return mamori.Job{Key: jobStats + ":" + key, Kind: jobStats, Due: due, Payload: p}
}

// ScheduleStats makes sure the next monthly summary is scheduled. It is
// idempotent, so every start may call it. A summary whose time has come
// is left alone: it is pending and runs, or it ran and its job is done,
// and a new job with the same key would run it again.
func (s *Service) ScheduleStats(ctx context.Context) error {
	now := s.local(s.Clock())
	month := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, now.Location())
	j := s.statsJob(month)
	if !j.Due.After(now) {
		j = s.statsJob(month.AddDate(0, 1, 0))
	}
	if err := s.Store.Update(ctx, func(tx mamori.Tx) error { return tx.Schedule(j) }); err != nil {
		return fmt.Errorf("schedule stats: %w", err)
	}
	return nil
}

// runStats sends the summary of the job's month to the HR channel and
// schedules next month's. A run twice sends once: the outbox key is the
// month.
func (s *Service) runStats(ctx context.Context, j mamori.Job, now time.Time) error {
	var p statsPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	from, err := time.ParseInLocation("2006-01", p.Month, s.local(now).Location())
	if err != nil {
		return fmt.Errorf("job %d: month %q: %w", j.ID, p.Month, err)
	}
	to := from.AddDate(0, 1, 0)
	return s.Store.Update(ctx, func(tx mamori.Tx) error {
		sum, err := s.stats(tx, from, to, now)
		if err != nil {
			return err
		}
		l := s.orgLang()
		m, err := s.StatsMessage(sum, l)
		if err != nil {
			return err
		}
		if s.Org.HRChannel == "" {
			s.Log.Warn("no HR channel: monthly summary not sent", "month", p.Month)
		} else {
			hr := s.channel(s.platform(), s.Org.HRChannel)
			if err := tx.Enqueue(mamori.OutboxItem{Key: "stats:" + p.Month, Target: hr, Message: m, Lang: l, Created: now}); err != nil {
				return err
			}
		}
		if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: jobStats, Subject: p.Month,
			Detail: fmt.Sprintf("reports=%d consultations=%d sos=%d", sum.Reports, sum.Consultations, sum.SOS.Raised)}); err != nil {
			return err
		}
		return tx.Schedule(s.statsJob(to))
	})
}
