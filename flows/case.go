package flows

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// Number formats a case number: KH-2026-0042 for reports, SD-2026-0007
// for consultations.
func Number(kind string, year, seq int) string {
	prefix := "KH"
	switch kind {
	case mamori.KindConsult:
		prefix = "SD"
	case mamori.KindSOS:
		prefix = "SOS"
	}
	return fmt.Sprintf("%s-%d-%04d", prefix, year, seq)
}

// Suggest returns the policy's suggestion for a report and whether it may
// be a crime: a behaviour unacceptable regardless of the demand suggests
// カスハラ; one that depends on the demand follows criterion ①; violence
// or injury is カスハラ at once and a possible crime.
func Suggest(p *mamori.Policy, a mamori.Answers) (suggestion string, crime bool) {
	suggestion = mamori.SuggestUnclear
	depends := false
	for _, id := range a.Behaviours {
		b, ok := p.Behaviour(id)
		if !ok {
			continue
		}
		crime = crime || b.Crime || b.Immediate
		switch b.Group {
		case mamori.GroupRegardless:
			suggestion = mamori.SuggestKasuhara
		case mamori.GroupDepends:
			depends = true
		}
	}
	if a.Safety == "injured" {
		crime = true
		suggestion = mamori.SuggestKasuhara
	}
	if suggestion == mamori.SuggestKasuhara {
		return suggestion, crime
	}
	if depends {
		return mamori.SuggestDepends, crime
	}
	return suggestion, crime
}

// Urgency ranks a report: danger, injury or violence is urgent; a possible
// crime is high.
func Urgency(p *mamori.Policy, a mamori.Answers) string {
	if a.Safety == "danger" || a.Safety == "injured" {
		return mamori.UrgencyUrgent
	}
	for _, id := range a.Behaviours {
		if b, ok := p.Behaviour(id); ok && b.Immediate {
			return mamori.UrgencyUrgent
		}
	}
	// How the reporter feels is not part of it: the card is seen by the
	// whole channel, and HR gets a care request instead.
	if _, crime := Suggest(p, a); crime {
		return mamori.UrgencyHigh
	}
	return mamori.UrgencyNormal
}

// Route decides where a case goes: the supervisors of the reporter's
// department, or HR when the department is unknown, has no supervisor
// channel, the reporter asked for HR, the report names a supervisor, or
// the reporter is the department's only supervisor (nobody else there
// could act on it).
func Route(env Env, c mamori.Conversation) (route, dept, channel string) {
	d, ok := department(env, c)
	if ok {
		dept = d.ID
	}
	if !ok || d.SupervisorChannel == "" || len(d.Supervisors) == 0 || c.Answers.Route == mamori.RouteHR || namesSupervisor(d, c.Answers) ||
		onlySupervisor(d, c.User) {
		return mamori.RouteHR, dept, env.Org.HRChannel
	}
	return mamori.RouteDepartment, dept, d.SupervisorChannel
}

// onlySupervisor reports whether u is every supervisor d has.
func onlySupervisor(d mamori.Department, u mamori.User) bool {
	for _, s := range d.Supervisors {
		if !mamori.Listed([]string{s}, u) {
			return false
		}
	}
	return len(d.Supervisors) > 0
}

// supervisorNamed reports whether a report's answers name one of its
// department's supervisors, so that it goes to HR alone whatever the
// reporter chose.
func supervisorNamed(env Env, c mamori.Conversation) bool {
	d, ok := department(env, c)
	return ok && namesSupervisor(d, c.Answers)
}

// namesSupervisor reports whether the report's free text mentions one of
// the department's supervisors, by id (<@U123> or U123) or email.
func namesSupervisor(d mamori.Department, a mamori.Answers) bool {
	return mentions(a, d.Supervisors...)
}

// mentions reports whether the report's free text holds one of ids (user
// ids or emails; case does not matter).
func mentions(a mamori.Answers, ids ...string) bool {
	all := strings.ToLower(strings.Join([]string{a.Narrative, a.Words, a.Customer, a.Witnesses, a.Demand, a.Colleague, a.Place}, "\n"))
	for _, id := range ids {
		if len(id) >= 3 && holdsWord(all, strings.ToLower(id)) {
			return true
		}
	}
	return false
}

// mentionsName reports whether the report's account, the words said,
// the witnesses, the colleague or the demand name the person called
// name, as one names a colleague: a part of a Japanese name with a title
// or an honorific after it (「佐藤店長」, 「佐藤さん」 for 佐藤 太郎 — not
// 「渋谷店」, nor 「田中様」, a customer), a part of a Latin name as
// written, capitalised ("Sato" for Taro Sato — not "bill" for Bill). A
// name of three kanji or more in one piece is read by its first two too,
// as family names mostly are. The customer's fields are not read.
func mentionsName(a mamori.Answers, name string) bool {
	all := strings.Join([]string{a.Narrative, a.Words, a.Witnesses, a.Demand, a.Colleague}, "\n")
	// A title after the name (「佐藤店長」, 「佐藤　店長」, 「佐藤(店長)」) or
	// before it (「店長の佐藤が」).
	titled := func(part string) bool {
		for i := 0; ; {
			j := strings.Index(all[i:], part)
			if j < 0 {
				return false
			}
			start := i + j
			i = start + len(part)
			if colleagueTitle.MatchString(all[i:]) || titleBefore.MatchString(all[:start]) {
				return true
			}
		}
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) }) {
		n := utf8.RuneCountInString(part)
		if rs := []rune(part); n >= 3 && !strings.ContainsFunc(part, func(r rune) bool { return !unicode.Is(unicode.Han, r) }) && titled(string(rs[:2])) {
			return true // 「佐藤太郎」 written whole
		}
		switch r, _ := utf8.DecodeRuneInString(part); {
		case r >= utf8.RuneSelf && n >= 1 && titled(part): // 「林店長」: one kanji, with its title
			return true
		case r < utf8.RuneSelf && n >= 3 && latinNamed(all, part):
			return true
		}
	}
	return false
}

// latinNamed reports whether s names part, a part of a Latin name, as a
// word written with its capital ("Sato was there") or with a title after
// it (「satoさん」, "sato-san") — not "bill" in "pay the bill".
func latinNamed(s, part string) bool {
	low, w := strings.ToLower(s), strings.ToLower(part)
	for i := 0; ; {
		j := strings.Index(low[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		i = start + 1
		if start > 0 && isWordByte(low[start-1]) || end < len(low) && isWordByte(low[end]) {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(s[start:]); unicode.IsUpper(r) || colleagueTitle.MatchString(s[end:]) || latinTitle.MatchString(s[end:]) ||
			titleBefore.MatchString(s[:start]) {
			return true
		}
	}
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
}

var latinTitle = regexp.MustCompile(`(?i)^[- ]?(san|sama|kun)\b`)

// colleagueTitle is what follows a colleague's name: a title or an
// honorific (not 様, for customers, nor 店, 駅, a place).
var colleagueTitle = regexp.MustCompile(`^[\s　]*[(（]?(さん|店長|副店長|課長|部長|係長|主任|所長|社長|支配人|マネージャ|リーダー|上長|上司|チーフ|くん|君|氏|SV|ＳＶ|ｓｖ|先輩|[\p{Han}]{1,2}(さん|店長|課長|部長))`)

// titleBefore is a title said before a colleague's name (「店長の佐藤が」,
// "my manager Sato").
var titleBefore = regexp.MustCompile(`(?i)(店長|副店長|課長|部長|係長|主任|所長|社長|支配人|マネージャー|リーダー|上長|上司|SV|ＳＶ)の?[\s　]*$|\b(manager|supervisor|boss)\s+$`)

// holdsWord reports whether s holds w not as a part of a longer word or
// id ("sato" is not in "satoshi", nor "u0sato" in "u0sato2").
func holdsWord(s, w string) bool {
	inWord := func(r rune) bool { return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') }
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		before, _ := utf8.DecodeLastRuneInString(s[:start])
		after, _ := utf8.DecodeRuneInString(s[end:])
		if (start == 0 || !inWord(before)) && (end == len(s) || !inWord(after)) {
			return true
		}
		i = start + 1
	}
}

// waitingNow reports whether report k waits for the reporter's answer
// to a question: one is open that was asked since the case was last
// decided or reopened (a question left open by a decision is not what
// the case waits for).
func waitingNow(k mamori.Case) bool {
	d := k.Decision
	if d == nil || k.Status == mamori.StatusClosed || k.Status == mamori.StatusJudged {
		return false
	}
	var since time.Time
	if d.Decided() { // "more information needed", then a question: it waits
		since = d.At
	}
	if n := len(d.History); n > 0 && d.History[n-1].Reopened.After(since) {
		since = d.History[n-1].Reopened
	}
	for _, q := range d.Questions {
		if q.Answer == "" && q.Text != "" && q.At.After(since) {
			return true
		}
	}
	return false
}

// BuildCase files conversation c as case number.
func BuildCase(env Env, c mamori.Conversation, number string) mamori.Case {
	k := mamori.Case{
		Number:   number,
		Kind:     c.Flow,
		Reporter: c.User,
		Created:  env.Now,
		Answers:  c.Answers,
	}
	if c.Flow == mamori.FlowConsult {
		k.Kind = mamori.KindConsult
		k.Route, k.Channel, k.Status = mamori.RouteHR, env.Org.HRChannel, mamori.StatusOpen
		if d, ok := department(env, c); ok {
			k.Department = d.ID
		}
		k.Urgency, k.Suggestion = mamori.UrgencyNormal, mamori.SuggestUnclear
		return k
	}
	k.Kind = mamori.KindReport
	k.Status = mamori.StatusNew
	k.Route, k.Department, k.Channel = Route(env, c)
	k.Suggestion, k.Crime = Suggest(env.Policy, c.Answers)
	k.Urgency = Urgency(env.Policy, c.Answers)
	k.Behaviours = c.Answers.Behaviours
	return k
}

func (s *Service) local(t time.Time) time.Time {
	if s.Location != nil {
		return t.In(s.Location)
	}
	return t
}

// Card is the case card for a shared channel: what happened at a glance,
// how urgent, what to do next. Never the narrative or the customer.
func Card(env Env, k mamori.Case, l mamori.Lang, loc *time.Location) mamori.Message {
	if k.Kind == mamori.KindSOS {
		return SOSAlert(env, k, l, loc)
	}
	t := env.Policy.T
	m := mamori.Message{Ref: "card:" + k.Number, Step: mamori.StepCard}
	date := k.Created
	if loc != nil {
		date = date.In(loc)
	}
	if k.Kind == mamori.KindConsult {
		m.Header = fmt.Sprintf(t(l, "card.consult.header"), k.Number)
		m.Text = t(l, "card.consult.text")
		m.Fields = []mamori.Field{
			{Label: t(l, "card.received"), Value: date.Format("2006-01-02 15:04")},
			{Label: t(l, "card.contact"), Value: t(l, "a."+stepContact+"."+k.Answers.Contact)},
		}
		if k.Answers.AboutCase != "" {
			m.Fields = append(m.Fields, mamori.Field{Label: t(l, "consult.about"), Value: k.Answers.AboutCase})
		}
		if k.Status != "" {
			status := t(l, "status."+k.Status)
			if k.Decision.Waiting() && k.Status != mamori.StatusClosed {
				status = t(l, "status.waiting.employee")
			}
			m.Fields = append(m.Fields, mamori.Field{Label: t(l, "card.status"), Value: status})
		}
		if k.Assignee != "" {
			m.Fields = append(m.Fields, mamori.Field{Label: t(l, "card.assignee"), Value: mention(k.Assignee)})
		}
	} else {
		m.Header = fmt.Sprintf(t(l, "card.header"), k.Number)
		m.Urgent = k.Urgency == mamori.UrgencyUrgent
		m.Text = t(l, "card.next."+k.Route)
		m.Fields = caseFacts(env, k, l, loc)
		status := t(l, "status."+k.Status)
		if waitingNow(k) {
			status = t(l, "status.waiting")
		}
		m.Fields = append(m.Fields, mamori.Field{Label: t(l, "card.status"), Value: status})
		if n := len(k.Decision.Past()); k.Status == mamori.StatusReopened && n > 0 {
			// The reason is free text about the case: behind "view details",
			// like the account (the channel may hold people who may not
			// see the case).
			m.Fields = append(m.Fields, mamori.Field{Label: t(l, "card.reopened"), Value: t(l, "card.reopened.in_details")})
		}
		if k.Assignee != "" {
			m.Fields = append(m.Fields, mamori.Field{Label: t(l, "card.assignee"), Value: mention(k.Assignee)})
		}
		if d := k.Decision; d.Decided() {
			m.Fields = append(m.Fields, mamori.Field{Label: t(l, "card.decision"), Value: t(l, "decision."+d.Outcome)})
			if len(d.Actions) > 0 {
				labels := make([]string, len(d.Actions))
				for i, a := range d.Actions {
					labels[i] = mamori.Label(env.Policy.Actions, a, l)
				}
				m.Fields = append(m.Fields, mamori.Field{Label: t(l, "card.actions"), Value: strings.Join(labels, "\n")})
			}
		}
		if k.Status != mamori.StatusNew {
			m.Text = t(l, "card.next.status."+k.Status)
		}
		if waitingNow(k) {
			m.Text = t(l, "card.next.waiting")
		}
	}
	m.Fields = append(m.Fields, holdFields(env, k, l, loc)...)
	m.Choices = cardActions(env, k, l)
	m.Note = t(l, "card.note")
	if k.Kind == mamori.KindConsult {
		m.Note = t(l, "card.note.consult")
	} else if k.Route == mamori.RouteHR {
		m.Note = t(l, "card.note.hr")
	}
	return m
}

// caseFacts are what a supervisor needs to triage report k at a glance:
// urgency, when it came in and happened, where, for how long, whether it
// happened before, whether there is evidence, the behaviours, whether
// the reporter asked to talk, and the policy's suggestion. Never the
// narrative, the demand or who the customer is.
func caseFacts(env Env, k mamori.Case, l mamori.Lang, loc *time.Location) []mamori.Field {
	t := env.Policy.T
	date := k.Created
	if loc != nil {
		date = date.In(loc)
	}
	a := k.Answers
	var behaviours []string
	for _, id := range k.Behaviours {
		if b, ok := env.Policy.Behaviour(id); ok {
			behaviours = append(behaviours, b.Label.In(l))
		}
	}
	if len(behaviours) == 0 {
		behaviours = []string{t(l, "summary.none")}
	}
	evidence := t(l, "card.no")
	if (a.Evidence != "" && a.Evidence != "none") || len(a.Files) > 0 {
		evidence = t(l, "card.yes")
	}
	if q, ok := lookup(stepEvidence); ok && len(a.Files) == 0 && a.Evidence != "" && !hasOption(q.options(env, l), a.Evidence) {
		// In their own words: read in the details, not taken for "yes".
		evidence = t(l, "card.in_details")
	}
	fs := []mamori.Field{
		{Label: t(l, "card.urgency"), Value: t(l, "urgency."+k.Urgency)},
		{Label: t(l, "card.received"), Value: date.Format("2006-01-02 15:04")},
	}
	// What the reporter typed in their own words (a "when" that is not a
	// date, a "how long" that is not an option) stays in the details,
	// which only those responding see: the card is in a shared channel.
	if a.When != "" {
		when := showDate(a.When, l)
		if when == "" {
			when = t(l, "card.in_details")
		}
		fs = append(fs, mamori.Field{Label: t(l, "s.when"), Value: when})
	}
	fs = append(fs,
		mamori.Field{Label: t(l, "card.department"), Value: departmentName(env, k.Department, l)},
		mamori.Field{Label: t(l, "card.channel"), Value: mamori.Label(env.Policy.Channels, a.Channel, l)})
	if a.Duration != "" {
		fs = append(fs, mamori.Field{Label: t(l, "s.duration"), Value: optionOr(env, stepDuration, a.Duration, t(l, "card.in_details"), l)})
	}
	if a.Repeat != "" {
		fs = append(fs, mamori.Field{Label: t(l, "s.repeat"), Value: t(l, "a.repeat."+a.Repeat)})
	}
	fs = append(fs, mamori.Field{Label: t(l, "card.evidence"), Value: evidence},
		mamori.Field{Label: t(l, "card.behaviours"), Value: strings.Join(behaviours, "\n")})
	// Whether they want to talk is HR's to know (a care request goes
	// there), not the shared channel's: the reporter was told so.
	if f, ok := witnessCount(env, k.Decision, l); ok {
		fs = append(fs, f)
	}
	fs = append(fs, mamori.Field{Label: t(l, "card.suggestion"), Value: t(l, "suggest."+k.Suggestion)})
	if k.Crime {
		fs = append(fs, mamori.Field{Label: t(l, "card.crime"), Value: t(l, "card.crime.text")})
	}
	return fs
}

// optionOr says answer v to the question at step in language l when it
// is one of its options, or else or.
func optionOr(env Env, step, v, or string, l mamori.Lang) string {
	if q, ok := lookup(step); ok && q.options != nil {
		for _, o := range q.options(env, l) {
			if o.Value == v {
				return o.Label
			}
		}
	}
	return or
}

// cardActions are the card's buttons for what can be done next: take (when
// no one has) and judge an open report, reopen a decided one, and always
// the details.
// assigneeUser is the person who has case k, on the case's platform.
func assigneeUser(k mamori.Case) mamori.User {
	return mamori.User{Platform: k.Reporter.Platform, ID: strings.TrimPrefix(k.Assignee, k.Reporter.Platform+":")}
}

// tellHR puts m, in the organisation's language, in the HR channel of
// case k's platform, under key.
func (s *Service) tellHR(tx mamori.Tx, k mamori.Case, key string, m mamori.Message, now time.Time) error {
	return tx.Enqueue(mamori.OutboxItem{Key: key, Target: s.channel(k.Reporter.Platform, s.Org.HRChannel), Message: m, Lang: s.orgLang(), Created: now})
}

// detailsChoice is the button that opens case number's details, for
// those who may read them.
func detailsChoice(p *mamori.Policy, l mamori.Lang, number string) mamori.Choice {
	return mamori.Choice{Value: mamori.CardDetails + ":" + number, Label: p.T(l, "card.details")}
}

func cardActions(env Env, k mamori.Case, l mamori.Lang) []mamori.Choice {
	t := env.Policy.T
	b := func(action, label, style string) mamori.Choice {
		return mamori.Choice{Value: action + ":" + k.Number, Label: t(l, label), Style: style}
	}
	var cs []mamori.Choice
	if k.Kind == mamori.KindConsult && k.Status != mamori.StatusClosed {
		if k.Assignee == "" {
			cs = append(cs, b(mamori.ConsultTake, "card.take", mamori.StylePrimary))
		}
		cs = append(cs, b(mamori.ConsultReply, "consult.reply.button", ""), b(mamori.ConsultClose, "consult.close.button", ""))
	}
	if k.Kind == mamori.KindReport {
		switch k.Status {
		case mamori.StatusJudged:
			cs = append(cs, b(mamori.CardReopen, "card.reopen", ""))
		case mamori.StatusMoreInfo:
			// Still being checked: judged when the facts are in (reopening
			// it would undo nothing — found by a trial).
			cs = append(cs, b(mamori.CardJudge, "card.judge", mamori.StylePrimary))
		default:
			// A reopened case keeps its assignee, shown beside it: like a
			// case taken the first time, it offers no "take".
			if k.Assignee == "" {
				cs = append(cs, b(mamori.CardTake, "card.take", mamori.StylePrimary))
			}
			cs = append(cs, b(mamori.CardJudge, "card.judge", ""))
		}
		if k.Status != mamori.StatusJudged {
			cs = append(cs, b(mamori.CardAsk, "card.ask", ""), b(mamori.CardWitness, "card.witness", ""))
		}
	}
	cs = append(cs, holdChoices(env, k, l)...)
	return append(cs, b(mamori.CardDetails, "card.details", ""))
}

// mention turns a user key ("slack:U123") into a mention of its user.
func mention(userKey string) string {
	if _, id, ok := strings.Cut(userKey, ":"); ok {
		return "<@" + id + ">"
	}
	return userKey
}

func departmentName(env Env, id string, l mamori.Lang) string {
	if d, ok := env.Org.Department(id); ok {
		return d.Name.In(l)
	}
	return env.Policy.T(l, "a.department.unknown")
}

// Submitted is what the reporter reads at once after filing, counted
// with the default deadlines and care settings: see Service.Submitted.
func Submitted(env Env, k mamori.Case, l mamori.Lang) []mamori.Message {
	return (&Service{Policy: env.Policy, Org: env.Org}).Submitted(env, k, l)
}

// Submitted is what the reporter reads at once after filing: the number,
// no adverse treatment, who will look at it and by when (from the
// deadlines), when HR will be in touch if they asked to talk, what they
// will hear next, who can see their answers — and the care resources,
// once.
func (s *Service) Submitted(env Env, k mamori.Case, l mamori.Lang) []mamori.Message {
	t := env.Policy.T
	done := mamori.Message{
		Header: fmt.Sprintf(t(l, "submitted.header."+k.Kind), k.Number),
		Text:   t(l, "submitted.text."+k.Kind+"."+k.Route),
		Note:   t(l, "submitted.privacy"),
	}
	if k.Kind == mamori.KindReport && k.Route == mamori.RouteHR && supervisorNamed(env, mamori.Conversation{User: k.Reporter, Answers: k.Answers}) {
		done.Text = t(l, "submitted.text.report.hr.named")
	}
	if k.Kind == mamori.KindConsult {
		done.Text = t(l, "submitted.text.consult")
		done.Note = t(l, "submitted.privacy.consult")
		done.Step = stepDone
		done.Choices = []mamori.Choice{{Value: "from:" + k.Number, Label: t(l, "consult.to_report")}}
		if k.Answers.AboutCase != "" {
			done.Choices = nil // about a report already made: no button, nor words of one
			done.Text = t(l, "submitted.text.consult.about")
		}
		return []mamori.Message{done, CareMessage(env, l)}
	}
	if k.Route == mamori.RouteHR {
		done.Note = t(l, "submitted.privacy.hr")
	}
	take, judge := s.Deadlines.For(k.Urgency)
	next := []string{
		fmt.Sprintf(t(l, "submitted.next.take."+k.Route), s.when(k.Created.Add(take), l)),
		fmt.Sprintf(t(l, "submitted.next.judge"), s.when(k.Created.Add(judge), l)),
		t(l, "submitted.next.tell"),
	}
	if k.Answers.Talk == "yes" {
		// When the care task opened for it is due.
		due := s.Care.WorkingTime(k.Created.Add(s.Care.taskDue()), s.Location)
		next = append(next, fmt.Sprintf(t(l, "submitted.next.talk"), s.when(due, l)))
	}
	done.Text += "\n\n*" + t(l, "submitted.next") + "*\n• " + strings.Join(next, "\n• ")
	return []mamori.Message{done, CareMessage(env, l)}
}

// when says a moment to a person: the day, the weekday and the time, in
// the organisation's time zone.
// weekdaysJA are the days of the week in Japanese, Sunday first.
var weekdaysJA = []string{"日", "月", "火", "水", "木", "金", "土"}

func (s *Service) when(t time.Time, l mamori.Lang) string {
	t = s.local(t)
	if l == mamori.EN {
		return s.day(t, l) + ", " + t.Format("15:04")
	}
	return s.day(t, l) + t.Format("15:04")
}

// day says a day to a person, with its weekday.
func (s *Service) day(t time.Time, l mamori.Lang) string {
	t = s.local(t)
	// A day of another year says its year (a deletion five years on).
	other := t.Year() != s.local(s.Clock()).Year()
	if l == mamori.EN {
		if other {
			return t.Format("Mon Jan 2, 2006")
		}
		return t.Format("Mon Jan 2")
	}
	d := fmt.Sprintf("%d月%d日（%s）", t.Month(), t.Day(), weekdaysJA[t.Weekday()])
	if other {
		d = fmt.Sprintf("%d年", t.Year()) + d
	}
	return d
}

// CareMessage lists the care resources from the policy.
func CareMessage(env Env, l mamori.Lang) mamori.Message {
	m := mamori.Message{Header: env.Policy.T(l, "care.header"), Text: env.Policy.T(l, "care.text")}
	for _, c := range env.Policy.Care {
		v := c.Detail.In(l)
		if contact := c.Contact.In(l); contact != "" {
			v = strings.TrimSpace(v + "\n" + contact)
		}
		m.Fields = append(m.Fields, mamori.Field{Label: c.Name.In(l), Value: v})
	}
	return m
}

// details is the confidential view of a case for HR, who sees all of it.
func details(env Env, k mamori.Case, l mamori.Lang, loc *time.Location) mamori.Message {
	return detailsFor(env, k, l, loc, true, true)
}

// detailsFor is the confidential view of a case for an authorised viewer:
// the report, and the questions put to the reporter with their answers.
// How the reporter feels and whether they want to talk are shown only
// when health is set (the reporter and HR): HR follows them up, not the
// line supervisor. The judgement's record and the witnesses' statements
// only when internal is (those responding, never the reporter: a witness
// was told only they read it).
func detailsFor(env Env, k mamori.Case, l mamori.Lang, loc *time.Location, health, internal bool) mamori.Message {
	if k.Purged() {
		return tombstoneDetails(env, k, l, loc)
	}
	if k.Kind == mamori.KindSOS {
		return sosDetails(env, k, l, loc)
	}
	c := mamori.Conversation{Flow: k.Kind, User: k.Reporter, Answers: k.Answers}
	if k.Kind == mamori.KindConsult {
		c.Flow = mamori.FlowConsult
	}
	m := Card(env, k, l, loc)
	m.Ref, m.Step, m.Choices, m.Urgent = "", "", nil, false
	m.Text = fmt.Sprintf(env.Policy.T(l, "details.reporter"), "<@"+k.Reporter.ID+">")
	if k.Answers.FromConsultation != "" {
		m.Text += "\n" + fmt.Sprintf(env.Policy.T(l, "details.from_consultation"), k.Answers.FromConsultation)
	}
	// The card already shows the contact channel and the behaviours.
	skip := map[string]bool{env.Policy.T(l, "s."+stepChannel): true, env.Policy.T(l, "s."+stepBehaviours): true}
	if !health {
		skip[env.Policy.T(l, "s."+stepWellbeing)] = true
		skip[env.Policy.T(l, "s."+stepTalk)] = true
	}
	answers := summaryFields(env, c, l)
	// The card's short form of an answer (a "when" in the reporter's own
	// words, say) gives way to the answer itself, below.
	given := map[string]bool{}
	for _, f := range answers {
		given[f.Label] = !skip[f.Label]
	}
	m.Fields = slices.DeleteFunc(m.Fields, func(f mamori.Field) bool { return given[f.Label] })
	for _, f := range answers {
		if !skip[f.Label] {
			m.Fields = append(m.Fields, f)
		}
	}
	at := func(t time.Time) string {
		if loc != nil {
			t = t.In(loc)
		}
		return t.Format("2006-01-02 15:04")
	}
	if k.Decision != nil {
		// A supervisor's question and its answer; on a consultation, HR's
		// reply and theirs.
		question, answer, pending := "details.question", "details.answer", "details.answer.pending"
		if k.Kind == mamori.KindConsult {
			question, answer, pending = "details.reply.hr", "details.reply.person", "details.reply.pending"
			if !internal { // the person who asked, reading it
				answer, pending = "details.reply.yours", "details.reply.yours.pending"
			}
		}
		for _, q := range k.Decision.Questions {
			if q.Text != "" {
				m.Fields = append(m.Fields, mamori.Field{Label: fmt.Sprintf(env.Policy.T(l, question), at(q.At)), Value: q.Text})
			}
			if q.Answer == "" {
				m.Fields = append(m.Fields, mamori.Field{Label: env.Policy.T(l, pending), Value: env.Policy.T(l, "details.answer.none")})
			} else {
				m.Fields = append(m.Fields, mamori.Field{Label: fmt.Sprintf(env.Policy.T(l, answer), at(q.Answered)), Value: q.Answer})
			}
		}
	}
	if internal {
		m.Fields = append(m.Fields, decisionFields(env, k.Decision, l, at)...)
		m.Fields = append(m.Fields, witnessFields(env, k.Decision, l, at)...)
	}
	m.Note = env.Policy.T(l, "details.note")
	if !health && k.Kind == mamori.KindReport {
		m.Note += "\n" + env.Policy.T(l, "details.health_hidden")
	}
	return m
}

// decisionFields are the judgement's record behind "view details": the
// two criteria as chosen, the facts, the reason for a decision against
// them, the note, and each earlier decision with why it was reopened.
// (The card already shows the outcome and the responses.)
func decisionFields(env Env, d *mamori.Decision, l mamori.Lang, at func(time.Time) string) []mamori.Field {
	if d == nil {
		return nil
	}
	t := func(key string) string { return env.Policy.T(l, key) }
	var fs []mamori.Field
	add := func(label, v string) {
		if v != "" {
			fs = append(fs, mamori.Field{Label: label, Value: v})
		}
	}
	if d.Decided() {
		if d.Validity != "" {
			add(t("judge.validity"), t("judge.validity."+d.Validity))
		}
		if d.Means != "" {
			add(t("judge.means"), t("judge.means."+d.Means))
		}
		add(t("judge.facts"), d.Facts)
		add(t("judge.contradiction.label"), d.Reason)
	}
	add(t("judge.note"), d.Note)
	for _, h := range d.History {
		add(fmt.Sprintf(t("details.history"), at(h.At)),
			fmt.Sprintf(t("details.history.value"), t("decision."+h.Outcome), mention(h.ReopenedBy), at(h.Reopened), h.Reason))
	}
	return fs
}
