package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/mamori-oss/mamori"
)

// The refusal-of-service register (issue 16). After a report is judged
// カスハラ with the response "refuse service or ban", HR — or, when the
// configuration says so, the supervisors of the report's department, for
// their own department — records the customer: their identifiers
// (sealed; the blind index finds them), where the refusal applies, from
// when until when, when it is reviewed, the reports it rests on and who
// decided. Extending, reviewing and lifting an entry are audited; HR is
// reminded when an entry is due for review or about to end, and an entry
// past its end expires. When a report an entry rests on is reopened or
// judged again, HR is told and the entry says so until HR reviews it:
// HR decides whether it continues, nothing lifts it on its own. A lifted
// or expired entry keeps no identifier: the customer is a person too
// (APPI), and the register holds the minimum for as long as it is
// needed.

// Register says who keeps the register and for how long an entry runs
// unless decided otherwise.
type Register struct {
	// ByDepartment lets the supervisors of a report's department record
	// its customer, and extend, review and lift entries that apply to
	// their departments alone. HR always may.
	ByDepartment bool
	// Term is how long a new entry runs (default a year); Review when it
	// is looked at again (default six months).
	Term, Review Period
	// Notice is how long before an entry ends HR is told (default two
	// weeks).
	Notice time.Duration
}

func (r Register) term() Period {
	if r.Term.IsZero() || r.Term.Never {
		return Period{Years: 1}
	}
	return r.Term
}

func (r Register) review() Period {
	if r.Review.IsZero() || r.Review.Never {
		return Period{Months: 6}
	}
	return r.Review
}

func (r Register) notice() time.Duration { return or(r.Notice, 14*24*time.Hour) }

// kindRegister numbers register entries: RF-2026-0001.
const kindRegister = "register"

// RegisterNumber formats a register entry's number.
func RegisterNumber(year, seq int) string { return fmt.Sprintf("RF-%d-%04d", year, seq) }

// Form field ids of the register's forms.
const (
	fieldIdentifiers = "identifiers"
	fieldDepartments = "departments"
	fieldUntil       = "until"
	fieldReview      = "review"
	fieldCases       = "cases"
)

// The result of a review.
const (
	reviewKeep = "keep"
	reviewLift = "lift"
)

// registerRef is the Ref of an entry's card in the HR channel.
func registerRef(number string) string { return "register:" + number }

// mayRegister refuses actor on an entry applying to departments depts
// (none: the whole company): HR may; with ByDepartment, a supervisor of
// every one of them.
func (s *Service) mayRegister(actor mamori.User, depts []string) error {
	if s.Org.IsHR(actor) {
		return nil
	}
	if !s.Register.ByDepartment || len(depts) == 0 {
		return mamori.ErrForbidden
	}
	for _, d := range depts {
		if !s.Org.IsSupervisor(actor, d) {
			return mamori.ErrForbidden
		}
	}
	return nil
}

// mayAddFor refuses actor recording the customer of report k: HR, or
// with ByDepartment a supervisor of its department when it went there;
// never the reporter or someone it names.
func (s *Service) mayAddFor(actor mamori.User, k mamori.Case) error {
	if err := s.mayAct(actor, k); err != nil {
		return err
	}
	if s.Org.IsHR(actor) {
		return nil
	}
	if s.Register.ByDepartment && k.Route == mamori.RouteDepartment && s.Org.IsSupervisor(actor, k.Department) {
		return nil
	}
	return mamori.ErrForbidden
}

// day says a date as forms take it.
func (s *Service) dayValue(t time.Time) string { return s.local(t).Format(dateLayout) }

// lastDay is the last day an entry ending at until applies.
func (s *Service) lastDay(until time.Time) time.Time { return s.local(until).AddDate(0, 0, -1) }

// startOfDay is midnight at the start of t's day, in the organisation's
// time zone.
func (s *Service) startOfDay(t time.Time) time.Time {
	t = s.local(t)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// parseDay reads a date as people type it: 2027-04-01, 2027/4/1,
// 2027年4月1日, in full-width digits too. It is midnight at its start.
func (s *Service) parseDay(typed string) (time.Time, bool) {
	v := strings.TrimSpace(norm.NFKC.String(typed))
	v = strings.NewReplacer("年", "-", "月", "-", "日", "", "/", "-", ".", "-").Replace(v)
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	t, err := time.ParseInLocation("2006-1-2", v, loc)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// RegisterForm is the form that records the customer of report k on the
// register, for actor, pre-filled with the report's identifiers, its
// department, the default term and review, and the reports about the same
// customer. depts are the departments actor may choose.
func RegisterForm(env Env, l mamori.Lang, a mamori.Action, k mamori.Case, depts []mamori.Department, until, review string, cases []string) mamori.Form {
	t := func(key string) string { return env.Policy.T(l, key) }
	opts := make([]mamori.Choice, len(depts))
	for i, d := range depts {
		opts[i] = mamori.Choice{Value: d.ID, Label: d.Name.In(l)}
	}
	var scope []string
	if slices.ContainsFunc(depts, func(d mamori.Department) bool { return d.ID == k.Department }) {
		scope = []string{k.Department}
	}
	var ids []string
	if k.Answers.CustomerIDs != "" {
		ids = []string{k.Answers.CustomerIDs}
	}
	return mamori.Form{Action: a, Title: t("register.add.title"), Submit: t("register.add.submit"), Cancel: t("judge.modal.cancel"),
		Intro: fmt.Sprintf(t("register.add.intro"), k.Number), Note: t("register.add.note"),
		Fields: []mamori.FormField{
			{ID: fieldIdentifiers, Kind: mamori.FieldText, Label: t("register.identifiers"), Hint: t("register.identifiers.hint"),
				Value: ids, Required: true, Lines: 2, Max: 500},
			{ID: fieldDepartments, Kind: mamori.FieldMany, Label: t("register.departments"), Hint: t("register.departments.hint"),
				Options: opts, Value: scope},
			{ID: fieldUntil, Kind: mamori.FieldText, Label: t("register.until"), Hint: t("register.date.hint"), Value: []string{until}, Required: true, Max: 20},
			{ID: fieldReview, Kind: mamori.FieldText, Label: t("register.review"), Hint: t("register.date.hint"), Value: []string{review}, Required: true, Max: 20},
			{ID: fieldCases, Kind: mamori.FieldText, Label: t("register.cases"), Hint: t("register.cases.hint"),
				Value: []string{strings.Join(cases, ", ")}, Max: 500},
			{ID: fieldNote, Kind: mamori.FieldText, Label: t("register.note"), Hint: t("register.note.hint"), Lines: 2, Max: MaxText},
		}}
}

// EntryForm is the form that extends, reviews or lifts entry e.
func EntryForm(env Env, l mamori.Lang, a mamori.Action, e mamori.RegisterEntry, until, review string) mamori.Form {
	t := func(key string) string { return env.Policy.T(l, key) }
	f := mamori.Form{Action: a, Cancel: t("judge.modal.cancel")}
	date := func(id, label, v string) mamori.FormField {
		return mamori.FormField{ID: id, Kind: mamori.FieldText, Label: t(label), Hint: t("register.date.hint"), Value: []string{v}, Required: true, Max: 20}
	}
	switch a.Kind {
	case mamori.RegisterExtend:
		f.Title, f.Submit = t("register.extend.title"), t("register.extend.submit")
		f.Intro = fmt.Sprintf(t("register.extend.intro"), e.Number)
		f.Fields = []mamori.FormField{date(fieldUntil, "register.until", until), date(fieldReview, "register.review", review),
			{ID: fieldNote, Kind: mamori.FieldText, Label: t("register.reason"), Lines: 2, Max: MaxText}}
	case mamori.RegisterReview:
		f.Title, f.Submit = t("register.review.title"), t("register.review.submit")
		f.Intro = fmt.Sprintf(t("register.review.intro"), e.Number)
		next := date(fieldReview, "register.review.next", review)
		next.Required = false
		f.Fields = []mamori.FormField{
			{ID: fieldResult, Kind: mamori.FieldOne, Label: t("register.review.result"), Required: true, Options: []mamori.Choice{
				{Value: reviewKeep, Label: t("register.review.keep")}, {Value: reviewLift, Label: t("register.review.lift")}}},
			next,
			{ID: fieldNote, Kind: mamori.FieldText, Label: t("register.reason"), Lines: 2, Max: MaxText}}
	case mamori.RegisterLift:
		f.Title, f.Submit = t("register.lift.title"), t("register.lift.submit")
		f.Intro = fmt.Sprintf(t("register.lift.intro"), e.Number)
		f.Fields = []mamori.FormField{{ID: fieldNote, Kind: mamori.FieldText, Label: t("register.reason"), Lines: 2, Max: MaxText}}
	}
	f.Note = t("register.form.note")
	return f
}

// registerOpen answers a click on a register button: the form, or the
// entry's details (to HR alone), or why not.
func (s *Service) registerOpen(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error) {
	l := actor.Lang
	t := func(key string) string { return s.Policy.T(l, key) }
	var form *mamori.Form
	var reply mamori.Message
	var result error
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		form, reply, result = nil, mamori.Message{}, nil
		now := s.Clock()
		env := s.env(now)
		if a.Kind == mamori.RegisterAdd {
			k, err := tx.Case(a.Subject)
			if errors.Is(err, mamori.ErrNotFound) {
				reply, result = text(t("details.not_found")), err
				return nil
			} else if err != nil {
				return err
			}
			if err := s.mayAddFor(actor, k); err != nil {
				reply, result = text(t(s.registerRefusal(err))), err
				return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "register.add_refused", Subject: k.Number})
			}
			if err := s.mayAdd(tx, k); err != nil {
				reply, result = text(s.say(l, err)), err
				return nil
			}
			f, err := s.registerForm(tx, env, actor, a, k)
			if err != nil {
				return err
			}
			form = &f
			return nil
		}
		e, err := tx.Entry(a.Subject)
		if errors.Is(err, mamori.ErrNotFound) {
			reply, result = text(t("register.not_found")), err
			return nil
		} else if err != nil {
			return err
		}
		if err := s.mayRegister(actor, e.Departments); err != nil {
			reply, result = text(t("register.refused")), err
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "register." + strings.TrimPrefix(a.Kind, "register_") + "_refused", Subject: e.Number})
		}
		if a.Kind == mamori.RegisterDetails {
			reply = s.entryDetails(env, e, l)
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "register.viewed", Subject: e.Number})
		}
		if e.Status != mamori.RegisterActive {
			reply, result = text(fmt.Sprintf(t("register.not_active"), e.Number)), mamori.ErrConflict
			return nil
		}
		review := e.Review
		if !review.After(now) {
			review = s.Register.review().after(s.startOfDay(now), s.Location)
		}
		until := s.lastDay(e.Until)
		if a.Kind == mamori.RegisterExtend {
			until = s.Register.term().after(s.lastDay(e.Until), s.Location)
		}
		f := EntryForm(env, l, a, e, s.dayValue(until), s.dayValue(review))
		form = &f
		return nil
	})
	if err != nil {
		return nil, text(t("error")), fmt.Errorf("register %s: %w", a.Kind, err)
	}
	return form, reply, result
}

func (s *Service) registerRefusal(err error) string {
	if errors.Is(err, errNamed) {
		return "judge.named"
	}
	if errors.Is(err, errOwnCase) {
		return "judge.own_case"
	}
	return "register.refused"
}

// mayAdd refuses recording the customer of report k on the register: it
// must stand judged カスハラ with a refusal of service, and not be on an
// active entry already.
func (s *Service) mayAdd(tx mamori.Tx, k mamori.Case) error {
	if k.Purged() {
		return refuse("", "retention.purged")
	}
	if !refused(k) {
		return refuse("", "register.not_refused", k.Number)
	}
	active, err := tx.Entries(true)
	if err != nil {
		return err
	}
	for _, e := range active {
		if slices.Contains(e.Cases, k.Number) {
			return refuse("", "register.already", k.Number, e.Number)
		}
	}
	return nil
}

// notBasis says report k is no ground to refuse a customer service: it
// is not judged customer harassment — a complaint to answer, the illness
// exception, or not decided yet (found by a re-trial: a case still being
// checked was accepted).
func notBasis(k mamori.Case) bool {
	d := k.Decision
	return k.Status != mamori.StatusJudged || !d.Decided() || d.Outcome != mamori.OutcomeKasuhara
}

// registerForm is RegisterForm for actor on report k, with the
// departments actor may choose and the reports about the same customer
// actor may know of.
func (s *Service) registerForm(tx mamori.Tx, env Env, actor mamori.User, a mamori.Action, k mamori.Case) (mamori.Form, error) {
	same, err := s.sameCustomer(tx, k, s.seenBy(actor))
	if err != nil {
		return mamori.Form{}, err
	}
	cases := []string{k.Number}
	for _, o := range same {
		if !notBasis(o) {
			cases = append(cases, o.Number)
		}
	}
	start := s.startOfDay(env.Now)
	until := s.Register.term().after(start, s.Location).AddDate(0, 0, -1)
	review := s.Register.review().after(start, s.Location)
	return RegisterForm(env, actor.Lang, a, k, s.departmentsFor(actor), s.dayValue(until), s.dayValue(review), cases), nil
}

// departmentsFor are the departments actor may put an entry's scope on.
func (s *Service) departmentsFor(actor mamori.User) []mamori.Department {
	if s.Org.IsHR(actor) {
		return s.Org.Departments
	}
	var out []mamori.Department
	for _, d := range s.Org.Departments {
		if s.Org.IsSupervisor(actor, d.ID) {
			out = append(out, d)
		}
	}
	return out
}

// registerSubmit acts on a filled-in register form.
func (s *Service) registerSubmit(ctx context.Context, actor mamori.User, a mamori.Action, v mamori.Values) (mamori.Message, error) {
	l := actor.Lang
	t := func(key string) string { return s.Policy.T(l, key) }
	var reply mamori.Message
	var result error
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		reply, result = mamori.Message{}, nil
		now := s.Clock()
		env := s.env(now)
		var (
			msg string
			err error
		)
		if a.Kind == mamori.RegisterAdd {
			msg, err = s.addEntry(ctx, tx, env, actor, a.Subject, v)
		} else {
			msg, err = s.changeEntry(ctx, tx, env, actor, a, v)
		}
		switch {
		case errors.Is(err, mamori.ErrForbidden), errors.Is(err, mamori.ErrNotFound):
			reply, result = text(t(msg)), err
			return nil // the refusal's audit entry stays
		case errors.Is(err, mamori.ErrInvalid), errors.Is(err, mamori.ErrConflict):
			reply, result = text(s.say(l, err)), err
			return errRefused
		case err != nil:
			return err
		}
		reply = text(msg)
		return nil
	})
	if errors.Is(err, errRefused) {
		err = nil
	}
	if err != nil {
		return text(t("error")), fmt.Errorf("register %s: %w", a.Kind, err)
	}
	if s.Kick != nil {
		s.Kick()
	}
	return reply, result
}

// addEntry records the customer of report number on the register from
// the form's values. It returns the words for actor, or for a refusal
// the key of them.
func (s *Service) addEntry(ctx context.Context, tx mamori.Tx, env Env, actor mamori.User, number string, v mamori.Values) (string, error) {
	now := env.Now
	l := actor.Lang
	k, err := tx.Case(number)
	if errors.Is(err, mamori.ErrNotFound) {
		return "details.not_found", err
	} else if err != nil {
		return "", err
	}
	if err := s.mayAddFor(actor, k); err != nil {
		return s.registerRefusal(err), errors.Join(err, tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "register.add_refused", Subject: k.Number}))
	}
	if again, err := deliveredBefore(ctx, tx, now); again || err != nil {
		return s.Policy.T(l, "register.added.again"), err
	}
	if err := s.mayAdd(tx, k); err != nil {
		return "", err
	}
	ids := v.Text(fieldIdentifiers)
	keys := CustomerKeys(ids)
	switch {
	case utf8.RuneCountInString(ids) > 500:
		return "", refuse(fieldIdentifiers, "nav.too_long", 500)
	case len(keys) == 0:
		return "", refuse(fieldIdentifiers, "register.no_keys")
	}
	depts := v[fieldDepartments]
	for _, d := range depts {
		if !slices.ContainsFunc(s.departmentsFor(actor), func(x mamori.Department) bool { return x.ID == d }) {
			return "", refuse(fieldDepartments, "judge.pick", mamori.TextKey("register.departments"))
		}
	}
	if !s.Org.IsHR(actor) && len(depts) == 0 {
		return "", refuse(fieldDepartments, "register.scope_yours")
	}
	until, review, err := s.entryDates(now, v, time.Time{})
	if err != nil {
		return "", err
	}
	cases := caseNumbers(v.Text(fieldCases))
	if !slices.Contains(cases, k.Number) {
		cases = append([]string{k.Number}, cases...)
	}
	for _, n := range cases {
		o, err := tx.Case(n)
		if errors.Is(err, mamori.ErrNotFound) || (err == nil && (o.Kind != mamori.KindReport || !s.seenBy(actor)(o) && n != k.Number)) {
			return "", refuse(fieldCases, "link.not_found", n)
		} else if err != nil {
			return "", err
		}
		if n != k.Number && notBasis(o) {
			if o.Status != mamori.StatusJudged || !o.Decision.Decided() {
				return "", refuse(fieldCases, "register.not_judged", n)
			}
			return "", refuse(fieldCases, "register.not_basis", n, mamori.TextKey("decision."+o.Decision.Outcome))
		}
	}
	note := v.Text(fieldNote)
	if utf8.RuneCountInString(note) > MaxText {
		return "", refuse(fieldNote, "nav.too_long", MaxText)
	}
	year := s.local(now).Year()
	seq, err := tx.NextNumber(kindRegister, year)
	if err != nil {
		return "", err
	}
	e := mamori.RegisterEntry{Number: RegisterNumber(year, seq), Status: mamori.RegisterActive, Departments: depts,
		From: now, Until: until, Review: review, Identifiers: ids, Cases: cases, DecidedBy: actor.Key(), Note: note,
		Platform: k.Reporter.Platform, Created: now, Updated: now,
		History: []mamori.RegisterStep{{At: now, By: actor.Key(), What: "added", Until: until, Review: review}}}
	if err := tx.InsertEntry(e, keys); err != nil {
		return "", err
	}
	if err := s.postEntry(tx, env, e); err != nil {
		return "", err
	}
	// The report's thread records it: the number only, never who.
	ol := s.orgLang()
	th := s.channel(k.Reporter.Platform, k.Channel)
	th.Thread = "card:" + k.Number
	if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":registered:" + k.Number, Target: th,
		Message: mamori.Message{Text: fmt.Sprintf(s.Policy.T(ol, "register.thread"), mention(actor.Key()), e.Number)}, Lang: ol, Created: now}); err != nil {
		return "", err
	}
	detail := fmt.Sprintf("cases=%s departments=%s until=%s review=%s", strings.Join(cases, ","), strings.Join(depts, ","),
		s.dayValue(s.lastDay(until)), s.dayValue(review))
	if err := tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "register.added", Subject: e.Number, Detail: detail}); err != nil {
		return "", err
	}
	return fmt.Sprintf(s.Policy.T(l, "register.added"), e.Number, k.Number), nil
}

// entryDates reads an entry's last day and review date from a form:
// both after today, the review not after the end (nor, with from set,
// the end before it).
func (s *Service) entryDates(now time.Time, v mamori.Values, from time.Time) (until, review time.Time, err error) {
	today := s.startOfDay(now)
	last, ok := s.parseDay(v.Text(fieldUntil))
	if !ok {
		return until, review, refuse(fieldUntil, "register.bad_date")
	}
	until = last.AddDate(0, 0, 1)
	if !last.After(today) {
		return until, review, refuse(fieldUntil, "register.bad_until")
	}
	review, ok = s.parseDay(v.Text(fieldReview))
	if !ok {
		return until, review, refuse(fieldReview, "register.bad_date")
	}
	if !review.After(today) || review.After(last) {
		return until, review, refuse(fieldReview, "register.bad_review")
	}
	return until, review, nil
}

// changeEntry extends, reviews or lifts an entry from its form.
func (s *Service) changeEntry(ctx context.Context, tx mamori.Tx, env Env, actor mamori.User, a mamori.Action, v mamori.Values) (string, error) {
	now := env.Now
	l := actor.Lang
	e, err := tx.Entry(a.Subject)
	if errors.Is(err, mamori.ErrNotFound) {
		return "register.not_found", err
	} else if err != nil {
		return "", err
	}
	if err := s.mayRegister(actor, e.Departments); err != nil {
		return "register.refused", errors.Join(err, tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(),
			Action: "register." + strings.TrimPrefix(a.Kind, "register_") + "_refused", Subject: e.Number}))
	}
	done := func(key string) string { return fmt.Sprintf(s.Policy.T(l, key), e.Number) }
	if again, err := deliveredBefore(ctx, tx, now); again || err != nil {
		return done("register.done.again"), err
	}
	if e.Status != mamori.RegisterActive {
		return "", refuse("", "register.not_active", e.Number)
	}
	note := v.Text(fieldNote)
	if utf8.RuneCountInString(note) > MaxText {
		return "", refuse(fieldNote, "nav.too_long", MaxText)
	}
	var action, detail string
	switch a.Kind {
	case mamori.RegisterExtend:
		until, review, err := s.entryDates(now, v, e.From)
		if err != nil {
			return "", err
		}
		e.Until, e.Review, e.Reminded = until, review, time.Time{}
		e.History = append(e.History, mamori.RegisterStep{At: now, By: actor.Key(), What: "extended", Until: until, Review: review, Note: note})
		action, detail = "register.extended", fmt.Sprintf("until=%s review=%s", s.dayValue(s.lastDay(until)), s.dayValue(review))
	case mamori.RegisterReview:
		switch v.One(fieldResult) {
		case reviewKeep:
			review, ok := s.parseDay(v.Text(fieldReview))
			if !ok {
				return "", refuse(fieldReview, "register.bad_date")
			}
			if !review.After(s.startOfDay(now)) || !review.Before(e.Until) {
				return "", refuse(fieldReview, "register.bad_review")
			}
			e.Review, e.Reminded = review, time.Time{}
			e.History = append(e.History, mamori.RegisterStep{At: now, By: actor.Key(), What: "reviewed", Until: e.Until, Review: review, Note: note})
			action, detail = "register.reviewed", "result=keep review="+s.dayValue(review)
		case reviewLift:
			s.lift(&e, now, actor.Key(), "reviewed_lifted", note)
			action, detail = "register.lifted", "via=review"
		default:
			return "", refuse(fieldResult, "judge.pick", mamori.TextKey("register.review.result"))
		}
	case mamori.RegisterLift:
		s.lift(&e, now, actor.Key(), "lifted", note)
		action = "register.lifted"
	default:
		return "form.unknown", mamori.ErrNotFound
	}
	e.Updated = now
	var keys []string
	if e.Status != mamori.RegisterActive {
		keys = []string{} // no identifier is kept once it no longer applies
	}
	if err := tx.UpdateEntry(e, keys); err != nil {
		return "", err
	}
	if err := s.postEntry(tx, env, e); err != nil {
		return "", err
	}
	if action == "register.lifted" {
		// The reports' threads heard it was added: they hear it ended.
		ol := s.orgLang()
		for _, number := range e.Cases {
			k, err := tx.Case(number)
			if errors.Is(err, mamori.ErrNotFound) {
				continue
			} else if err != nil {
				return "", err
			}
			th := s.channel(k.Reporter.Platform, k.Channel)
			th.Thread = "card:" + k.Number
			if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":lifted:" + e.Number + ":" + k.Number, Target: th,
				Message: mamori.Message{Text: fmt.Sprintf(s.Policy.T(ol, "register.thread.lifted"), mention(actor.Key()), e.Number)}, Lang: ol, Created: now}); err != nil {
				return "", err
			}
		}
	}
	if err := tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: action, Subject: e.Number, Detail: detail}); err != nil {
		return "", err
	}
	return done("register.done." + strings.TrimPrefix(action, "register.")), nil
}

// lift ends entry e at now: it no longer applies, and its identifiers go.
func (s *Service) lift(e *mamori.RegisterEntry, now time.Time, by, what, note string) {
	e.Status = mamori.RegisterLifted
	if what == "expired" {
		e.Status = mamori.RegisterExpired
	}
	e.Identifiers = ""
	e.History = append(e.History, mamori.RegisterStep{At: now, By: by, What: what, Note: note})
}

// postEntry posts entry e's card to the HR channel, or updates it there.
func (s *Service) postEntry(tx mamori.Tx, env Env, e mamori.RegisterEntry) error {
	if s.Org.HRChannel == "" {
		return nil
	}
	ol := s.orgLang()
	return tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":" + registerRef(e.Number), Target: s.channel(s.entryPlatform(e), s.Org.HRChannel),
		Message: EntryCard(env, e, ol, s.Location), Lang: ol, Created: env.Now})
}

func (s *Service) entryPlatform(e mamori.RegisterEntry) string {
	if e.Platform != "" {
		return e.Platform
	}
	if s.Platform != "" {
		return s.Platform
	}
	return mamori.PlatformSlack
}

// EntryCard is a register entry's card for the HR channel: its scope,
// dates, reports and who decided, with the buttons to extend, review and
// lift it and to read its identifiers (to the clicker alone). Never the
// identifiers.
func EntryCard(env Env, e mamori.RegisterEntry, l mamori.Lang, loc *time.Location) mamori.Message {
	t := func(key string) string { return env.Policy.T(l, key) }
	day := func(x time.Time) string {
		if loc != nil {
			x = x.In(loc)
		}
		return x.Format(dateLayout)
	}
	last := e.Until
	if loc != nil {
		last = last.In(loc)
	}
	last = last.AddDate(0, 0, -1)
	m := mamori.Message{Ref: registerRef(e.Number), Step: mamori.StepCard,
		Header: fmt.Sprintf(t("register.card.header"), e.Number), Text: t("register.card.text." + e.Status)}
	m.Fields = []mamori.Field{{Label: t("register.card.status"), Value: t("register.status." + e.Status)}}
	// A report it rests on reopened or judged otherwise since HR last
	// reviewed it: said at the top, until HR reviews it.
	if f, changed, ok := basisField(env, e, l); ok {
		if changed {
			m.Text = t("register.card.text.basis")
		}
		m.Fields = append(m.Fields, f)
	}
	m.Fields = append(m.Fields,
		mamori.Field{Label: t("register.departments"), Value: scopeNames(env, e.Departments, l)},
		mamori.Field{Label: t("register.card.period"), Value: fmt.Sprintf(t("register.card.period.value"), day(e.From), day(last))},
	)
	if e.Status == mamori.RegisterActive {
		m.Fields = append(m.Fields, mamori.Field{Label: t("register.review"), Value: day(e.Review)})
	}
	m.Fields = append(m.Fields,
		mamori.Field{Label: t("register.cases"), Value: strings.Join(e.Cases, ", ")},
		mamori.Field{Label: t("register.card.by"), Value: mention(e.DecidedBy)})
	b := func(kind, label, style string) mamori.Choice {
		return mamori.Choice{Value: kind + ":" + e.Number, Label: t(label), Style: style}
	}
	if e.Status == mamori.RegisterActive {
		m.Choices = []mamori.Choice{b(mamori.RegisterReview, "register.review.button", mamori.StylePrimary),
			b(mamori.RegisterExtend, "register.extend.button", ""), b(mamori.RegisterLift, "register.lift.button", "")}
	}
	// A lifted or ended entry has no identifiers left to show: its
	// history only.
	details := "register.details.button"
	if e.Status != mamori.RegisterActive {
		details = "card.details"
	}
	m.Choices = append(m.Choices, b(mamori.RegisterDetails, details, ""))
	m.Note = t("register.card.note")
	return m
}

// basisField is the line of an active entry e about the reports it rests
// on that were reopened or judged otherwise since HR last reviewed it
// (ok is false when there are none); changed when one was judged
// without a refusal of service. The entry's card, its details and HR's
// check of a customer show it.
func basisField(env Env, e mamori.RegisterEntry, l mamori.Lang) (f mamori.Field, changed, ok bool) {
	open := basisOpen(e)
	if e.Status != mamori.RegisterActive || len(open) == 0 {
		return mamori.Field{}, false, false
	}
	t := func(key string) string { return env.Policy.T(l, key) }
	lines := make([]string, len(open))
	for i, st := range open {
		lines[i] = fmt.Sprintf(t("register.basis.value."+basisWhat(st.What)), st.Note)
		changed = changed || st.What == basisChanged
	}
	return mamori.Field{Label: t("register.basis"), Value: strings.Join(lines, "\n")}, changed, true
}

// scopeNames says where an entry applies.
func scopeNames(env Env, depts []string, l mamori.Lang) string {
	if len(depts) == 0 {
		return env.Policy.T(l, "register.scope.all")
	}
	names := make([]string, len(depts))
	for i, d := range depts {
		names[i] = departmentName(env, d, l)
	}
	return strings.Join(names, "\n")
}

// entryDetails is entry e for HR alone: the card's facts, the customer's
// identifiers, the note and what was done to it.
func (s *Service) entryDetails(env Env, e mamori.RegisterEntry, l mamori.Lang) mamori.Message {
	t := func(key string) string { return s.Policy.T(l, key) }
	m := EntryCard(env, e, l, s.Location)
	m.Ref, m.Step, m.Choices = "", "", nil
	ids := e.Identifiers
	if ids == "" {
		ids = t("register.identifiers.gone")
	}
	m.Fields = append([]mamori.Field{{Label: t("register.identifiers"), Value: ids}}, m.Fields...)
	if e.Note != "" {
		m.Fields = append(m.Fields, mamori.Field{Label: t("register.note"), Value: e.Note})
	}
	for _, h := range e.History {
		v := fmt.Sprintf(t("register.history.value"), t("register.history."+h.What), mention(h.By))
		if h.Note != "" {
			v += "\n" + h.Note
		}
		m.Fields = append(m.Fields, mamori.Field{Label: s.local(h.At).Format("2006-01-02 15:04"), Value: v})
	}
	m.Note = t("register.details.note")
	return m
}

// formExtras completes a case form that needs the store: the link form,
// and the repeat line beside the suggestion in the judge form.
func (s *Service) formExtras(tx mamori.Tx, actor mamori.User, a mamori.Action, k mamori.Case, f *mamori.Form) error {
	env := s.env(s.Clock())
	switch a.Kind {
	case mamori.CardLink:
		lf, err := s.linkForm(tx, env, actor, a, k)
		*f = lf
		return err
	case mamori.CardJudge:
		same, err := s.sameCustomer(tx, k, func(o mamori.Case) bool { return s.seenBy(actor)(o) && o.Created.Before(k.Created) })
		if err != nil {
			return err
		}
		earlier := make([]Earlier, len(same))
		for i, o := range same {
			earlier[i] = earlierOf(o)
		}
		if fd, ok := RepeatField(env, earlier, actor.Lang, s.Location); ok {
			at := len(f.About)
			for i, g := range f.About {
				if g.Label == s.Policy.T(actor.Lang, "card.suggestion") {
					at = i + 1
				}
			}
			f.About = slices.Insert(f.About, at, fd)
		}
	}
	return nil
}

// registerDaily is the register's daily pass (run with retention's): an
// entry past its end expires, and HR is told once of an entry due for
// review and of one that ends within the notice. Each entry in its own
// transaction; each step may run again.
func (s *Service) registerDaily(ctx context.Context, now time.Time) error {
	var active []mamori.RegisterEntry
	if err := s.Store.View(ctx, func(tx mamori.Tx) error {
		var err error
		active, err = tx.Entries(true)
		return err
	}); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	for _, a := range active {
		err := s.Store.Update(ctx, func(tx mamori.Tx) error {
			e, err := tx.Entry(a.Number)
			if err != nil || e.Status != mamori.RegisterActive {
				return err
			}
			env := s.env(now)
			ending := e.Until.Add(-s.Register.notice())
			var what string
			switch {
			case !now.Before(e.Until):
				s.lift(&e, now, "system", "expired", "")
				e.Updated = now
				if err := tx.UpdateEntry(e, []string{}); err != nil {
					return err
				}
				if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "register.expired", Subject: e.Number}); err != nil {
					return err
				}
				what = "expired"
			case !now.Before(e.Review) && e.Reminded.Before(e.Review):
				what = "review"
			case !now.Before(ending) && e.Reminded.Before(ending):
				what = "ending"
			default:
				return nil
			}
			if what != "expired" {
				e.Reminded = now
				if err := tx.UpdateEntry(e, nil); err != nil {
					return err
				}
				if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "register.reminded", Subject: e.Number, Detail: "due=" + what}); err != nil {
					return err
				}
			}
			if s.Org.HRChannel == "" {
				return nil
			}
			ol := s.orgLang()
			m := mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(s.Policy.T(ol, "register.remind."+what+".header"), e.Number),
				Text: fmt.Sprintf(s.Policy.T(ol, "register.remind."+what+".text"), s.dayValue(s.lastDay(e.Until)))}
			if what != "expired" {
				m.Choices = []mamori.Choice{
					{Value: mamori.RegisterReview + ":" + e.Number, Label: s.Policy.T(ol, "register.review.button"), Style: mamori.StylePrimary},
					{Value: mamori.RegisterExtend + ":" + e.Number, Label: s.Policy.T(ol, "register.extend.button")},
					{Value: mamori.RegisterLift + ":" + e.Number, Label: s.Policy.T(ol, "register.lift.button")}}
			}
			hr := s.channel(s.entryPlatform(e), s.Org.HRChannel)
			if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("%s:%s:%s", registerRef(e.Number), what, s.dayValue(now)),
				Target: hr, Message: m, Lang: ol, Created: now}); err != nil {
				return err
			}
			return s.postEntry(tx, env, e)
		})
		if err != nil {
			return fmt.Errorf("register %s: %w", a.Number, err)
		}
	}
	return nil
}

// CustomerSummary is what the monthly summary counts of repeat customers
// and refusals of service: counts only, never who.
type CustomerSummary struct {
	// Repeat counts the reports of the period about a customer named in
	// an earlier report; Refused those standing judged カスハラ with a
	// refusal of service.
	Repeat, Refused int
	// Added counts the register entries recorded in the period; Active
	// those in force when the summary was made.
	Added, Active int
}

// customerStats counts repeat customers and refusals among the reports
// of [from, to), and the register's entries.
func (s *Service) customerStats(tx mamori.Tx, cases []mamori.Case, from, to, now time.Time) (CustomerSummary, error) {
	var c CustomerSummary
	for _, k := range cases {
		if k.Kind != mamori.KindReport || k.Purged() {
			continue
		}
		if refused(k) {
			c.Refused++
		}
		earlier, err := s.sameCustomer(tx, k, func(o mamori.Case) bool { return o.Created.Before(k.Created) })
		if err != nil {
			return c, err
		}
		if len(earlier) > 0 {
			c.Repeat++
		}
	}
	entries, err := tx.Entries(false)
	if err != nil {
		return c, err
	}
	for _, e := range entries {
		if !e.Created.Before(from) && e.Created.Before(to) {
			c.Added++
		}
		if e.Status == mamori.RegisterActive && !now.Before(e.From) && now.Before(e.Until) {
			c.Active++
		}
	}
	return c, nil
}

// customerFields are the summary's lines about repeat customers and the
// register, when there is anything to say.
func (s *Service) customerFields(c CustomerSummary, l mamori.Lang) []mamori.Field {
	if c == (CustomerSummary{}) {
		return nil
	}
	t := func(key string) string { return s.Policy.T(l, key) }
	return []mamori.Field{
		{Label: t("stats.repeat"), Value: fmt.Sprintf(t("stats.repeat.value"), c.Repeat, c.Refused)},
		{Label: t("stats.register"), Value: fmt.Sprintf(t("stats.register.value"), c.Added, c.Active)},
	}
}

// offerRegister asks the HR channel, once a report, whether to record its
// customer on the register, when the report stands judged カスハラ with a
// refusal of service (the card in a department's channel, which HR may
// not read, has the button too). Never who the customer is.
func (s *Service) offerRegister(tx mamori.Tx, env Env, k mamori.Case) error {
	if !refused(k) || s.Org.HRChannel == "" || k.Channel == s.Org.HRChannel {
		return nil
	}
	ol := s.orgLang()
	t := func(key string) string { return s.Policy.T(ol, key) }
	m := mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(t("register.offer.header"), k.Number),
		Text: fmt.Sprintf(t("register.offer.text"), k.Number, departmentName(env, k.Department, ol)),
		Choices: []mamori.Choice{
			{Value: mamori.RegisterAdd + ":" + k.Number, Label: t("register.button"), Style: mamori.StylePrimary},
			detailsChoice(s.Policy, ol, k.Number)},
		Note: t("register.offer.note")}
	// Its key is the report's: a reopened report judged so again is not
	// offered twice.
	return s.tellHR(tx, k, "register-offer:"+k.Number, m, env.Now)
}

// What is recorded in an entry's history when a report it rests on
// changes; the step's Note is the report's number.
const (
	basisReopened  = "basis_reopened"
	basisChanged   = "basis_changed"
	basisConfirmed = "basis_confirmed"
)

// basisWhat is a basis step's kind (what) without its prefix: reopened,
// changed or confirmed.
func basisWhat(what string) string { return strings.TrimPrefix(what, "basis_") }

// lastBasis is the latest step of entry e about report number: its
// reopening, or its judgement since; ok is false when there is none.
func lastBasis(e mamori.RegisterEntry, number string) (st mamori.RegisterStep, ok bool) {
	for _, h := range e.History {
		if strings.HasPrefix(h.What, "basis_") && h.Note == number {
			st, ok = h, true
		}
	}
	return st, ok
}

// basisOpen are the reports entry e rests on that were reopened, or
// judged again without a refusal of service, since HR last reviewed it:
// for each, its latest step, in the order of e.Cases. A report judged a
// refusal again is settled, and so is everything a review came after.
func basisOpen(e mamori.RegisterEntry) []mamori.RegisterStep {
	open := map[string]mamori.RegisterStep{}
	for _, h := range e.History {
		switch {
		case h.What == "reviewed":
			clear(open)
		case h.What == basisConfirmed:
			delete(open, h.Note)
		case strings.HasPrefix(h.What, "basis_"):
			open[h.Note] = h
		}
	}
	var out []mamori.RegisterStep
	for _, n := range e.Cases {
		if st, ok := open[n]; ok {
			out = append(out, st)
		}
	}
	return out
}

// registerBasis follows report k, reopened or judged by actor, on the
// active register entries that rest on it. HR decides what becomes of an
// entry: nothing is lifted here. Each entry's history and the audit trail
// record the change, its card in the HR channel shows it, and HR is told
// there, with the entry and the report named and a click to review or
// lift it:
//
//   - a report standing as a refusal of service reopened: it is being
//     judged again;
//   - one reopened (or judged otherwise) judged without a refusal of
//     service: the entry has lost that basis;
//   - one judged a refusal of service again: the entry can stay as it is.
//
// A report that did not stand as a refusal (another about the same
// customer, say) changes nothing when it is reopened. told reports
// whether HR was told, so the supervisor can hear that it was.
func (s *Service) registerBasis(tx mamori.Tx, env Env, actor mamori.User, k mamori.Case, reopened bool) (told bool, err error) {
	active, err := tx.Entries(true)
	if err != nil {
		return false, err
	}
	for _, e := range active {
		if !slices.Contains(e.Cases, k.Number) {
			continue
		}
		var what string
		switch last, ok := lastBasis(e, k.Number); {
		case reopened:
			// k is reopened already: it stood as a refusal if its last
			// decision did.
			if h := k.Decision; h == nil || len(h.History) == 0 || !pastRefused(h.History[len(h.History)-1]) {
				continue
			}
			what = basisReopened
		case !ok || last.What == basisConfirmed:
			continue
		case refused(k):
			what = basisConfirmed
		default:
			what = basisChanged
		}
		if err := s.basisStep(tx, env, actor, e, k, what); err != nil {
			return false, fmt.Errorf("register %s: %w", e.Number, err)
		}
		// Said to a supervisor; HR, who did it, needs no telling.
		told = told || (s.Org.HRChannel != "" && !s.Org.IsHR(actor))
	}
	return told, nil
}

// toldHR adds to m, the confirmation of a reopening or a judgement, that
// HR was told because a register entry rests on the report.
func (s *Service) toldHR(m mamori.Message, l mamori.Lang, told bool) mamori.Message {
	if told {
		m.Text += "\n" + s.Policy.T(langOr(l), "register.basis.told")
	}
	return m
}

// pastRefused reports whether an earlier decision was customer
// harassment with a refusal of service.
func pastRefused(d mamori.PastDecision) bool {
	return d.Outcome == mamori.OutcomeKasuhara && slices.Contains(d.Actions, actionRefuse)
}

// basisStep records on entry e that report k was reopened, or judged
// again (what), audits it, updates the entry's card and tells HR.
func (s *Service) basisStep(tx mamori.Tx, env Env, actor mamori.User, e mamori.RegisterEntry, k mamori.Case, what string) error {
	now := env.Now
	e.History = append(e.History, mamori.RegisterStep{At: now, By: actor.Key(), What: what, Note: k.Number})
	e.Updated = now
	if err := tx.UpdateEntry(e, nil); err != nil {
		return err
	}
	detail := "case=" + k.Number
	if d := k.Decision; what != basisReopened && d != nil {
		detail += fmt.Sprintf(" outcome=%s actions=%s", d.Outcome, strings.Join(d.Actions, ","))
	}
	if err := tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "register." + what, Subject: e.Number, Detail: detail}); err != nil {
		return err
	}
	if s.Org.HRChannel == "" {
		return nil
	}
	if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":" + registerRef(e.Number) + ":" + what + ":" + k.Number,
		Target: s.channel(s.entryPlatform(e), s.Org.HRChannel), Message: s.basisMessage(e, k, actor, what), Lang: s.orgLang(), Created: now}); err != nil {
		return err
	}
	return s.postEntry(tx, env, e)
}

// basisMessage tells HR that report k, which entry e rests on, was
// reopened or judged again by actor, and what to do: review or lift the
// entry, or nothing when it stands. Never who the customer is.
func (s *Service) basisMessage(e mamori.RegisterEntry, k mamori.Case, actor mamori.User, what string) mamori.Message {
	ol := s.orgLang()
	t := func(key string) string { return s.Policy.T(ol, key) }
	w := basisWhat(what)
	m := mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(t("register.basis.header."+w), e.Number),
		Fields: []mamori.Field{{Label: t("register.basis.case"), Value: k.Number}}, Note: t("register.offer.note")}
	by := "register.basis.by.judged"
	if what == basisReopened {
		m.Text = fmt.Sprintf(t("register.basis.text.reopened"), k.Number)
		by = "register.basis.by.reopened"
	} else {
		outcome := t("decision." + k.Decision.Outcome)
		m.Text = fmt.Sprintf(t("register.basis.text."+w), k.Number, outcome)
		m.Fields = append(m.Fields, mamori.Field{Label: t("card.decision"), Value: outcome})
	}
	m.Fields = append(m.Fields, mamori.Field{Label: t(by), Value: mention(actor.Key())})
	b := func(kind, subject, label, style string) mamori.Choice {
		return mamori.Choice{Value: kind + ":" + subject, Label: t(label), Style: style}
	}
	if what != basisConfirmed {
		m.Choices = []mamori.Choice{b(mamori.RegisterReview, e.Number, "register.review.button", mamori.StylePrimary),
			b(mamori.RegisterLift, e.Number, "register.lift.button", "")}
	}
	m.Choices = append(m.Choices, b(mamori.CardDetails, k.Number, "card.details", ""))
	return m
}
