package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
)

// Training: programmes from the configuration are assigned to their
// audience, reminded by DM with a "done" button, and nudged when overdue.
// One daily job does it all, so a restart, a new member or a new round
// needs nothing else; every step is idempotent (one assignment per person
// and round, one outbox key per message).

const (
	jobTraining = "training.daily"
	jobProgress = "training.progress"
	// stepTraining is the Step of training reminders' buttons; their
	// values are "done:<programme>:<round>:<user id>".
	stepTraining = "training"
)

// Programme is one training programme.
type Programme struct {
	ID   string
	Name mamori.Text
	Link string
	// Audience: everyone in the directory, or the members of Departments,
	// or (also) the supervisors.
	Everyone    bool
	Departments []string
	Supervisors bool
	// Every is the cadence (e.g. 6 months); zero means once, and people
	// who join later get it when they appear in the directory.
	Every time.Duration
	// Start is when round 1 begins.
	Start time.Time
	// Due is how long people have (default 14 days); NudgeEvery is how
	// often the overdue are nudged (default 3 days).
	Due, NudgeEvery time.Duration
	// Response marks the customer-harassment response training, which a
	// case judged カスハラ recommends to its department.
	Response bool
}

func (p Programme) due() time.Duration {
	if p.Due > 0 {
		return p.Due
	}
	return 14 * 24 * time.Hour
}

func (p Programme) nudgeEvery() time.Duration {
	if p.NudgeEvery > 0 {
		return p.NudgeEvery
	}
	return 3 * 24 * time.Hour
}

// round returns the round running at now and when it began.
func (p Programme) round(now time.Time) (int, time.Time) {
	if p.Every <= 0 || now.Before(p.Start) {
		return 1, p.Start
	}
	n := int(now.Sub(p.Start) / p.Every)
	return n + 1, p.Start.Add(time.Duration(n) * p.Every)
}

// member is one person of an audience.
type member struct {
	user mamori.User
	dept string
}

// audience lists who a programme is for, each person once, from the
// directory: ids or emails.
func (s *Service) audience(p Programme) []member {
	seen := map[string]bool{}
	var out []member
	add := func(id, dept string) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		u := mamori.User{Platform: s.platform(), ID: id, Lang: s.orgLang()}
		if strings.Contains(id, "@") {
			u.Email = id
		}
		out = append(out, member{user: u, dept: dept})
	}
	// The directory's people too: those its groups give.
	for _, d := range s.Org.Current().Departments {
		if p.Everyone || contains(p.Departments, d.ID) {
			for _, id := range d.Supervisors {
				add(id, d.ID)
			}
			for _, id := range d.Members {
				add(id, d.ID)
			}
		} else if p.Supervisors {
			for _, id := range d.Supervisors {
				add(id, d.ID)
			}
		}
	}
	return out
}

// platform is where proactive messages to people go.
func (s *Service) platform() string {
	if s.Platform != "" {
		return s.Platform
	}
	return mamori.PlatformSlack
}

// ScheduleTraining makes sure today's training pass is scheduled, in
// working hours. Call it at start.
func (s *Service) ScheduleTraining(ctx context.Context) error {
	if len(s.Training) == 0 {
		return nil
	}
	due := s.firstPass()
	return s.Store.Update(ctx, func(tx mamori.Tx) error {
		return tx.Schedule(mamori.Job{Key: jobTraining + ":" + s.local(due).Format("2006-01-02"), Kind: jobTraining, Due: due})
	})
}

// startGrace is how long after a start the day's passes (training,
// retention, the audit checkpoint) wait: a new installation can be
// checked before everyone is messaged, and a server restarting in a loop
// does not post them again and again.
const startGrace = time.Hour

// firstPass is when a pass scheduled at start runs: after startGrace, in
// working hours.
func (s *Service) firstPass() time.Time {
	return s.Care.WorkingTime(s.Clock().Add(startGrace), s.Location)
}

// batch is how many people one transaction assigns: a campaign to
// thousands is many short transactions, not one long one.
const batch = 500

// runTraining is the daily pass: it assigns each programme's current
// round to whoever has not got it (a campaign on the first day of a
// round, newcomers later), nudges the overdue, and schedules tomorrow's.
func (s *Service) runTraining(ctx context.Context, j mamori.Job, now time.Time) error {
	if w := s.Care.WorkingTime(now, s.Location); w.After(now) {
		// Out of working hours (the first run, at a start at night): the
		// training DMs wait for the morning, like every reminder.
		return s.Store.Update(ctx, func(tx mamori.Tx) error {
			return tx.Schedule(mamori.Job{Key: jobTraining + ":" + s.local(w).Format("2006-01-02"), Kind: jobTraining, Due: w})
		})
	}
	for _, p := range s.Training {
		if now.Before(p.Start) {
			continue
		}
		round, began := p.round(now)
		people := s.audience(p)
		fresh, err := s.assign(ctx, p, p.ID, round, began, people, now)
		if err != nil {
			return err
		}
		if fresh > 0 {
			if err := s.startProgress(ctx, p.ID, round, now); err != nil {
				return err
			}
		}
	}
	if err := s.nudge(ctx, now); err != nil {
		return err
	}
	next := s.Care.WorkingTime(s.startOfNextDay(now), s.Location)
	return s.Store.Update(ctx, func(tx mamori.Tx) error {
		return tx.Schedule(mamori.Job{Key: jobTraining + ":" + s.local(next).Format("2006-01-02"), Kind: jobTraining, Due: next})
	})
}

func (s *Service) startOfNextDay(t time.Time) time.Time {
	l := s.local(t)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, l.Location())
}

// assign gives round of programme key (a programme id, or
// "<id>:<case>" for one recommended by a case) to people, with a reminder
// each, in batches; it returns how many were new.
func (s *Service) assign(ctx context.Context, p Programme, key string, round int, began time.Time, people []member, now time.Time) (int, error) {
	// Late joiners get the full period from when they are assigned.
	from := began
	if now.After(from) {
		from = now
	}
	due := from.Add(p.due())
	fresh := 0
	for start := 0; start < len(people); start += batch {
		part := people[start:min(start+batch, len(people))]
		n := 0
		err := s.Store.Update(ctx, func(tx mamori.Tx) error {
			n = 0
			for _, m := range part {
				a := mamori.Assignment{Programme: key, User: m.user, Department: m.dept, Round: round, Assigned: now, Due: due}
				ok, err := tx.Assign(a)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				n++
				if a.User.Lang, err = s.personLang(tx, a.User); err != nil {
					return err
				}
				if err := tx.Enqueue(s.TrainingReminder(p, a, false, now)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fresh, fmt.Errorf("assign %s: %w", key, err)
		}
		fresh += n
	}
	if fresh > 0 {
		s.Log.Info("training assigned", "programme", key, "round", round, "people", fresh)
		if s.Kick != nil {
			s.Kick()
		}
	}
	return fresh, nil
}

// trainingKey is the outbox key prefix of a programme round's messages.
func trainingKey(key string, round int) string { return fmt.Sprintf("training:%s:%d:", key, round) }

// TrainingReminder is the DM asking a to do the training, or, as a
// nudge, reminding that it is overdue.
func (s *Service) TrainingReminder(p Programme, a mamori.Assignment, nudge bool, now time.Time) mamori.OutboxItem {
	l := a.User.Lang
	t := func(k string) string { return s.Policy.T(l, k) }
	ref := trainingKey(a.Programme, a.Round) + a.User.ID
	m := mamori.Message{Ref: ref, Step: stepTraining, Header: fmt.Sprintf(t("training.header"), p.Name.In(l)),
		Text: fmt.Sprintf(t("training.text"), s.local(a.Due).Format("2006-01-02")),
		Choices: []mamori.Choice{{Value: fmt.Sprintf("done:%s:%d:%s", a.Programme, a.Round, a.User.ID),
			Label: t("training.done"), Style: mamori.StylePrimary}},
		Note: t("training.note")}
	if p.Link != "" {
		m.Fields = []mamori.Field{{Label: t("training.link"), Value: p.Link}}
	}
	key := ref
	if nudge {
		m.Header = fmt.Sprintf(t("training.nudge.header"), p.Name.In(l))
		m.Text = fmt.Sprintf(t("training.nudge.text"), s.local(a.Due).Format("2006-01-02"))
		key = ref + ":nudge:" + s.local(now).Format("2006-01-02")
	}
	return mamori.OutboxItem{Key: key, Target: mamori.Target{Platform: a.User.Platform, Kind: mamori.TargetUser, ID: a.User.ID},
		Message: m, Lang: l, Created: now}
}

// personLang is the language to write to u in unasked (a reminder, a
// nudge): the one they last used with Mamori — in a conversation still
// going, else in their latest report — else the directory's, else the
// organisation's. It is looked up when the message is made, so a nudge
// follows a language changed since the assignment.
func (s *Service) personLang(tx mamori.Tx, u mamori.User) (mamori.Lang, error) {
	key := u.Key()
	c, err := tx.Conversation(key)
	switch {
	case err == nil && c.User.Lang != "":
		return c.User.Lang, nil
	case err != nil && !errors.Is(err, mamori.ErrNotFound):
		return "", err
	}
	cases, err := tx.CasesOf(key)
	if err != nil {
		return "", err
	}
	if len(cases) > 0 && cases[0].Reporter.Lang != "" {
		return cases[0].Reporter.Lang, nil
	}
	if l, ok := s.Org.LangOf(u); ok {
		return l, nil
	}
	return s.orgLang(), nil
}

// programme finds the programme of an assignment key.
func (s *Service) programme(key string) (Programme, bool) {
	id, _, _ := strings.Cut(key, ":")
	for _, p := range s.Training {
		if p.ID == id {
			return p, true
		}
	}
	return Programme{}, false
}

// nudge reminds, in working hours, everyone overdue who was not nudged
// within their programme's interval.
func (s *Service) nudge(ctx context.Context, now time.Time) error {
	if s.Care.WorkingTime(now, s.Location).After(now) {
		return nil
	}
	for {
		var list []mamori.Assignment
		if err := s.Store.View(ctx, func(tx mamori.Tx) error {
			var err error
			list, err = tx.Assignments(mamori.AssignmentFilter{OverdueAt: now})
			return err
		}); err != nil {
			return fmt.Errorf("nudge: %w", err)
		}
		var todo []mamori.Assignment
		for _, a := range list {
			// The pass is daily: half a day early is on time.
			if p, ok := s.programme(a.Programme); ok && now.Add(12*time.Hour).Sub(a.Nudged) >= p.nudgeEvery() {
				todo = append(todo, a)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		todo = todo[:min(len(todo), batch)]
		err := s.Store.Update(ctx, func(tx mamori.Tx) error {
			for _, a := range todo {
				p, _ := s.programme(a.Programme)
				a.Nudged = now
				if err := tx.PutAssignment(a); err != nil {
					return err
				}
				var err error
				if a.User.Lang, err = s.personLang(tx, a.User); err != nil {
					return err
				}
				if err := tx.Enqueue(s.TrainingReminder(p, a, true, now)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("nudge: %w", err)
		}
		if s.Kick != nil {
			s.Kick()
		}
	}
}

type progressPayload struct {
	Key   string `json:"key"`
	Round int    `json:"round"`
}

// startProgress posts the campaign's progress card in the HR channel and
// keeps it up to date each minute until every reminder is delivered.
func (s *Service) startProgress(ctx context.Context, key string, round int, now time.Time) error {
	return s.Store.Update(ctx, func(tx mamori.Tx) error {
		return s.scheduleProgress(tx, key, round, now)
	})
}

func (s *Service) scheduleProgress(tx mamori.Tx, key string, round int, due time.Time) error {
	p, _ := json.Marshal(progressPayload{Key: key, Round: round})
	return tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:%d:%d", jobProgress, key, round, due.UnixNano()), Kind: jobProgress, Due: due, Payload: p})
}

func (s *Service) runProgress(ctx context.Context, j mamori.Job, now time.Time) error {
	var p progressPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	counts, err := s.Store.CountOutbox(ctx, trainingKey(p.Key, p.Round))
	if err != nil {
		return err
	}
	prog, ok := s.programme(p.Key)
	if !ok || s.Org.HRChannel == "" {
		return nil
	}
	var assigned, done int
	if err := s.Store.View(ctx, func(tx mamori.Tx) error {
		list, err := tx.Assignments(mamori.AssignmentFilter{Programme: p.Key, Round: p.Round})
		for _, a := range list {
			if !a.Done.IsZero() {
				done++
			}
		}
		assigned = len(list)
		return err
	}); err != nil {
		return err
	}
	l := s.orgLang()
	t := func(k string) string { return s.Policy.T(l, k) }
	name := prog.Name.In(l)
	if _, number, ok := strings.Cut(p.Key, ":"); ok {
		name += " (" + number + ")"
	}
	pending := counts[mamori.OutboxPending]
	m := mamori.Message{Ref: "progress:" + trainingKey(p.Key, p.Round), Header: fmt.Sprintf(t("training.progress.header"), name),
		Text: t("training.progress.sending"),
		Fields: []mamori.Field{
			{Label: t("training.progress.assigned"), Value: strconv.Itoa(assigned)},
			{Label: t("training.progress.sent"), Value: strconv.Itoa(counts[mamori.OutboxSent])},
			{Label: t("training.progress.pending"), Value: strconv.Itoa(pending)},
			{Label: t("training.progress.failed"), Value: strconv.Itoa(counts[mamori.OutboxFailed])},
			{Label: t("training.progress.done"), Value: fmt.Sprintf("%d / %d", done, assigned)},
		}}
	if pending == 0 {
		m.Text = t("training.progress.finished")
	}
	return s.Store.Update(ctx, func(tx mamori.Tx) error {
		if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("job:%d", j.ID), Target: s.channel(s.platform(), s.Org.HRChannel),
			Message: m, Lang: l, Created: now}); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		return s.scheduleProgress(tx, p.Key, p.Round, now.Add(time.Minute))
	})
}

// trainingDone records a click on "done". Only the person assigned can
// mark it; the reminder is replaced by a thank-you.
func (s *Service) trainingDone(ctx context.Context, in mamori.Input) (bool, error) {
	rest, ok := strings.CutPrefix(in.Value, "done:")
	if !ok || in.Kind != mamori.InputChoice || in.Step != stepTraining {
		return false, nil
	}
	now := s.Clock()
	// "<programme>[:<case>]:<round>:<user id>": programme ids and case
	// numbers hold no colon and are not numbers; a user id may hold colons
	// (Teams "29:…").
	parts := strings.SplitN(rest, ":", 4)
	if len(parts) >= 3 {
		if _, err := strconv.Atoi(parts[1]); err == nil {
			parts = append(parts[:1], strings.SplitN(strings.Join(parts[1:], ":"), ":", 2)...)
		}
	}
	if len(parts) < 3 {
		return true, fmt.Errorf("training done %q: %w", in.Value, mamori.ErrInvalid)
	}
	id := parts[len(parts)-1]
	round, err := strconv.Atoi(parts[len(parts)-2])
	key := strings.Join(parts[:len(parts)-2], ":")
	if err != nil {
		return true, fmt.Errorf("training done %q: %w", in.Value, mamori.ErrInvalid)
	}
	if id != in.User.ID && !strings.EqualFold(id, in.User.Email) {
		return true, fmt.Errorf("training done: %w", mamori.ErrForbidden)
	}
	l := in.User.Lang
	err = s.Store.Update(ctx, func(tx mamori.Tx) error {
		if in.Delivery != "" {
			if fresh, err := tx.Seen(in.Delivery, now); err != nil || !fresh {
				return err
			}
		}
		a, err := tx.Assignment(key, in.User.Platform+":"+id, round)
		if err != nil {
			return err
		}
		if !a.Done.IsZero() {
			return nil
		}
		a.Done = now
		if err := tx.PutAssignment(a); err != nil {
			return err
		}
		p, _ := s.programme(key)
		ref := trainingKey(key, round) + id
		m := mamori.Message{Ref: ref, Header: fmt.Sprintf(s.Policy.T(l, "training.header"), p.Name.In(l)), Text: s.Policy.T(l, "training.thanks")}
		if err := tx.Enqueue(mamori.OutboxItem{Key: ref + ":done", Target: mamori.Target{Platform: in.User.Platform, Kind: mamori.TargetUser, ID: in.User.ID},
			Message: m, Lang: l, Created: now}); err != nil {
			return err
		}
		return tx.Audit(mamori.AuditEntry{At: now, Actor: in.User.Key(), Action: "training.done", Subject: key, Detail: fmt.Sprintf("round=%d", round)})
	})
	if err == nil && s.Kick != nil {
		s.Kick()
	}
	return true, err
}

// responseProgramme is the programme a カスハラ judgement recommends.
func (s *Service) responseProgramme() (Programme, bool) {
	for _, p := range s.Training {
		if p.Response {
			return p, true
		}
	}
	return Programme{}, false
}

// recommendTraining tells HR, after a case is judged カスハラ, that the
// department should take the response training, with a button that
// assigns it.
func (s *Service) recommendTraining(tx mamori.Tx, now time.Time, k mamori.Case) error {
	p, ok := s.responseProgramme()
	if !ok || s.Org.HRChannel == "" || k.Department == "" {
		return nil
	}
	l := s.orgLang()
	t := func(key string) string { return s.Policy.T(l, key) }
	m := mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(t("training.recommend.header"), k.Number),
		Text:    fmt.Sprintf(t("training.recommend.text"), departmentName(s.env(now), k.Department, l), p.Name.In(l)),
		Note:    t("training.recommend.note"),
		Choices: []mamori.Choice{{Value: mamori.CardTrain + ":" + k.Number, Label: t("training.recommend.assign"), Style: mamori.StylePrimary}}}
	return s.tellHR(tx, k, "recommend:"+k.Number+":"+replyKey(mamori.Input{}, 0), m, now)
}

// AssignTraining assigns the response training to the department of case
// number, for HR, after the recommendation. A second click assigns no one
// twice.
func (s *Service) assignTraining(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	now := s.Clock()
	l := actor.Lang
	t := func(key string) string { return s.Policy.T(l, key) }
	if !s.Org.IsHR(actor) {
		err := s.Store.Update(ctx, func(tx mamori.Tx) error {
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "training.assign_refused", Subject: number})
		})
		return text(t("training.assign.refused")), errors.Join(mamori.ErrForbidden, err)
	}
	p, ok := s.responseProgramme()
	if !ok {
		return text(t("training.assign.none")), mamori.ErrNotFound
	}
	var k mamori.Case
	busy := map[string]bool{} // people still doing it for another case
	if err := s.Store.View(ctx, func(tx mamori.Tx) error {
		var err error
		if k, err = tx.Case(number); err != nil {
			return err
		}
		as, err := tx.Assignments(mamori.AssignmentFilter{Departments: []string{k.Department}})
		for _, a := range as {
			if strings.HasPrefix(a.Programme, p.ID+":") && a.Done.IsZero() {
				busy[a.User.Key()] = true
			}
		}
		return err
	}); errors.Is(err, mamori.ErrNotFound) {
		return text(t("details.not_found")), err
	} else if err != nil {
		return text(t("error")), err
	}
	// The reporter is left out: being sent the training for what was done
	// to them reads as blame. The rest of the department takes it.
	var people []member
	for _, m := range s.audience(Programme{Departments: []string{k.Department}}) {
		if isPerson(m.user.ID, k.Reporter) {
			continue
		}
		m.user.Platform = k.Reporter.Platform
		if busy[m.user.Key()] {
			continue // assigned it for another case and not done yet: not twice
		}
		people = append(people, m)
	}
	key := p.ID + ":" + k.Number
	n, err := s.assign(ctx, p, key, 1, now, people, now)
	if err != nil {
		return text(t("error")), err
	}
	if err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		if n > 0 {
			if err := s.scheduleProgress(tx, key, 1, now); err != nil {
				return err
			}
		}
		return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "training.assigned", Subject: k.Number,
			Detail: fmt.Sprintf("programme=%s department=%s people=%d", p.ID, k.Department, n)})
	}); err != nil {
		return text(t("error")), err
	}
	return text(fmt.Sprintf(t("training.assign.done"), p.Name.In(l), departmentName(s.env(now), k.Department, l), n)), nil
}

// isPerson reports whether a directory entry (a user id or an email)
// names u.
func isPerson(entry string, u mamori.User) bool {
	return entry != "" && (entry == u.ID || (u.Email != "" && strings.EqualFold(entry, u.Email)))
}

// TrainingRow is one line of the completion report.
type TrainingRow struct {
	Programme, Name, Department string
	Round                       int
	Assigned, Done, Overdue     int
}

// TrainingReport counts, per programme round and department, who was
// assigned, who is done and who is overdue. departments limits it (a
// supervisor's own); nil means all.
func (s *Service) TrainingReport(ctx context.Context, departments []string, l mamori.Lang) ([]TrainingRow, error) {
	now := s.Clock()
	var list []mamori.Assignment
	if err := s.Store.View(ctx, func(tx mamori.Tx) error {
		var err error
		list, err = tx.Assignments(mamori.AssignmentFilter{Departments: departments})
		return err
	}); err != nil {
		return nil, fmt.Errorf("training report: %w", err)
	}
	rows := map[[3]string]*TrainingRow{}
	for _, a := range list {
		k := [3]string{a.Programme, strconv.Itoa(a.Round), a.Department}
		r := rows[k]
		if r == nil {
			name := a.Programme
			if p, ok := s.programme(a.Programme); ok {
				name = p.Name.In(l)
				if _, number, ok := strings.Cut(a.Programme, ":"); ok {
					name += " (" + number + ")"
				}
			}
			r = &TrainingRow{Programme: a.Programme, Name: name, Round: a.Round, Department: departmentName(s.env(now), a.Department, l)}
			rows[k] = r
		}
		r.Assigned++
		switch {
		case !a.Done.IsZero():
			r.Done++
		case a.Due.Before(now):
			r.Overdue++
		}
	}
	out := make([]TrainingRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Programme != b.Programme {
			return a.Programme < b.Programme
		}
		if a.Round != b.Round {
			return a.Round > b.Round
		}
		return a.Department < b.Department
	})
	return out, nil
}
