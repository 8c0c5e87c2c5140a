package flows

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/mamori-oss/mamori"
)

// Repeat customers on the case card (issue 16): a report whose customer
// was named in earlier reports says so beside the policy's suggestion —
// repeated, persistent conduct (継続的・執拗な言動) weighs in the judgement
// and in a refusal of service. Two reports are about the same customer
// when their identifiers share a key (CustomerKeys), or a supervisor or
// HR linked them by hand; a link undone by hand (a wrong match) stands
// over the keys.

// Earlier is a report about the same customer, as a card lists it.
type Earlier struct {
	Number  string
	Created time.Time
	Status  string
	Outcome string   // the standing decision, "" while there is none
	Actions []string // its responses (policy action ids)
}

// earlierOf returns what a card shows of report o.
func earlierOf(o mamori.Case) Earlier {
	e := Earlier{Number: o.Number, Created: o.Created, Status: o.Status}
	if d := o.Decision; d.Decided() {
		e.Outcome, e.Actions = d.Outcome, d.Actions
	}
	return e
}

// indexCustomer puts report k's identifiers in the blind index.
func (s *Service) indexCustomer(tx mamori.Tx, k mamori.Case) error {
	if k.Kind != mamori.KindReport {
		return nil
	}
	if keys := CustomerKeys(k.Answers.CustomerIDs); len(keys) > 0 {
		return tx.IndexCustomer(k.Number, keys)
	}
	return nil
}

// sameCustomer lists the reports about the same customer as k, oldest
// first: those that share a key with it and those linked to it by hand,
// less those unlinked by hand, the deleted ones (retention) and k. keep,
// when set, says which of them the reader may know of.
func (s *Service) sameCustomer(tx mamori.Tx, k mamori.Case, keep func(mamori.Case) bool) ([]mamori.Case, error) {
	numbers, err := tx.CustomerCases(CustomerKeys(k.Answers.CustomerIDs))
	if err != nil {
		return nil, err
	}
	links, err := tx.Links(k.Number)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		o := l.Other(k.Number)
		switch {
		case l.Linked && !slices.Contains(numbers, o):
			numbers = append(numbers, o)
		case !l.Linked:
			numbers = slices.DeleteFunc(numbers, func(n string) bool { return n == o })
		}
	}
	var out []mamori.Case
	for _, n := range numbers {
		if n == k.Number {
			continue
		}
		o, err := tx.Case(n)
		if errors.Is(err, mamori.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if o.Kind != mamori.KindReport || o.Purged() || (keep != nil && !keep(o)) {
			continue
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b mamori.Case) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// shownWith reports whether report o may be named on the card of report
// k: a card in the HR channel names any; one in a department's channel
// only the reports that went to that department's supervisors (a report
// that went to HR alone, perhaps because it names a supervisor, is never
// named there).
func (s *Service) shownWith(k, o mamori.Case) bool {
	if k.Route == mamori.RouteHR || (k.Channel != "" && k.Channel == s.Org.HRChannel) {
		return true
	}
	return o.Route == mamori.RouteDepartment && o.Department == k.Department
}

// seenBy reports whether viewer may know of report o: HR, or a
// supervisor of its department when it went there.
func (s *Service) seenBy(viewer mamori.User) func(mamori.Case) bool {
	return func(o mamori.Case) bool {
		return s.Org.IsHR(viewer) || (o.Route == mamori.RouteDepartment && s.Org.IsSupervisor(viewer, o.Department))
	}
}

// earlier lists the reports before k about the same customer that its
// card may name.
func (s *Service) earlier(tx mamori.Tx, k mamori.Case) ([]Earlier, error) {
	same, err := s.sameCustomer(tx, k, func(o mamori.Case) bool { return s.shownWith(k, o) && o.Created.Before(k.Created) })
	if err != nil {
		return nil, err
	}
	out := make([]Earlier, len(same))
	for i, o := range same {
		out[i] = earlierOf(o)
	}
	return out, nil
}

// card is case k's card as it goes to its channel: Card, with the earlier
// reports about the same customer and the buttons to link reports and to
// put the customer on the register.
func (s *Service) card(tx mamori.Tx, env Env, k mamori.Case, l mamori.Lang) (mamori.Message, error) {
	if k.Kind != mamori.KindReport || k.Purged() {
		return Card(env, k, l, s.Location), nil
	}
	earlier, err := s.earlier(tx, k)
	if err != nil {
		return mamori.Message{}, fmt.Errorf("card %s: %w", k.Number, err)
	}
	return CardWith(env, k, earlier, l, s.Location, s.registerOnCard(k)), nil
}

// registerOnCard reports whether those who read case k's channel may
// record its customer on the register, so that its card offers it: HR's
// channel, and with ByDepartment a department's. Elsewhere HR is offered
// it in its own channel (offerRegister).
func (s *Service) registerOnCard(k mamori.Case) bool {
	return k.Channel != "" && k.Channel == s.Org.HRChannel || s.Register.ByDepartment && k.Route == mamori.RouteDepartment
}

// maxEarlier is how many earlier reports a card lists by number.
const maxEarlier = 5

// CardWith is Card with the earlier reports about the same customer
// (oldest first) beside the policy's suggestion, the button to link or
// unlink reports about the same customer, and, on a report judged
// カスハラ with a refusal of service, the button to record the customer
// on the register when register says the card's readers may (HR keeps
// the register: supervisors do not see a button they may not use).
func CardWith(env Env, k mamori.Case, earlier []Earlier, l mamori.Lang, loc *time.Location, register bool) mamori.Message {
	m := Card(env, k, l, loc)
	if k.Kind != mamori.KindReport || k.Purged() {
		return m
	}
	if f, ok := RepeatField(env, earlier, l, loc); ok {
		at := len(m.Fields)
		for i, g := range m.Fields {
			if g.Label == env.Policy.T(l, "card.suggestion") {
				at = i + 1
				break
			}
		}
		m.Fields = slices.Insert(m.Fields, at, f)
	}
	extra := []mamori.Choice{{Value: mamori.CardLink + ":" + k.Number, Label: env.Policy.T(l, "link.button")}}
	if register && refused(k) {
		extra = append([]mamori.Choice{{Value: mamori.RegisterAdd + ":" + k.Number, Label: env.Policy.T(l, "register.button"),
			Style: mamori.StylePrimary}}, extra...)
	}
	// Before "view details", which stays last.
	at := len(m.Choices)
	if at > 0 && strings.HasPrefix(m.Choices[at-1].Value, mamori.CardDetails+":") {
		at--
	}
	m.Choices = slices.Insert(m.Choices, at, extra...)
	return m
}

// actionRefuse is the policy's response "refuse service or ban", which a
// register entry follows.
const actionRefuse = "refuse"

// refused reports whether report k stands judged カスハラ with a refusal
// of service.
func refused(k mamori.Case) bool {
	d := k.Decision
	return k.Status == mamori.StatusJudged && d.Decided() && d.Outcome == mamori.OutcomeKasuhara && slices.Contains(d.Actions, actionRefuse)
}

// RepeatField is the card's line about the earlier reports about the
// same customer: how many, and each one's number, date and outcome. ok
// is false when there are none.
func RepeatField(env Env, earlier []Earlier, l mamori.Lang, loc *time.Location) (f mamori.Field, ok bool) {
	if len(earlier) == 0 {
		return mamori.Field{}, false
	}
	t := func(key string) string { return env.Policy.T(l, key) }
	lines := []string{fmt.Sprintf(t("card.repeat.text"), len(earlier))}
	for i, e := range earlier {
		if i == maxEarlier {
			lines = append(lines, fmt.Sprintf(t("card.repeat.more"), len(earlier)-maxEarlier))
			break
		}
		lines = append(lines, earlierLine(env, e, l, loc))
	}
	return mamori.Field{Label: t("card.repeat"), Value: strings.Join(lines, "\n")}, true
}

// earlierLine says one earlier report: "KH-2026-0001（2026-04-01・カスハラ・
// サービス提供・対応をお断りする）".
func earlierLine(env Env, e Earlier, l mamori.Lang, loc *time.Location) string {
	t := func(key string) string { return env.Policy.T(l, key) }
	day := e.Created
	if loc != nil {
		day = day.In(loc)
	}
	parts := []string{day.Format("2006-01-02")}
	if e.Outcome != "" {
		parts = append(parts, t("decision."+e.Outcome))
		for _, a := range e.Actions {
			parts = append(parts, mamori.Label(env.Policy.Actions, a, l))
		}
	} else {
		parts = append(parts, t("status."+e.Status))
	}
	return fmt.Sprintf(t("card.repeat.line"), e.Number, strings.Join(parts, t("card.repeat.sep")))
}

// sameCustomerField lists, in a case's details, every report about the
// same customer the viewer may know of, earlier and later.
func (s *Service) sameCustomerField(tx mamori.Tx, viewer mamori.User, k mamori.Case, l mamori.Lang) ([]mamori.Field, error) {
	if k.Kind != mamori.KindReport || k.Purged() {
		return nil, nil
	}
	same, err := s.sameCustomer(tx, k, s.seenBy(viewer))
	if err != nil || len(same) == 0 {
		return nil, err
	}
	env := s.env(s.Clock())
	var lines []string
	for _, o := range same {
		lines = append(lines, earlierLine(env, earlierOf(o), l, s.Location))
	}
	return []mamori.Field{{Label: s.Policy.T(l, "details.same_customer"), Value: strings.Join(lines, "\n")}}, nil
}

// Form field ids of linking.
const (
	fieldLink   = "link"
	fieldUnlink = "unlink"
)

// linkForm is the form that links report k to other reports about the
// same customer, or unlinks a wrong match, for actor.
func (s *Service) linkForm(tx mamori.Tx, env Env, actor mamori.User, a mamori.Action, k mamori.Case) (mamori.Form, error) {
	l := actor.Lang
	t := func(key string) string { return s.Policy.T(l, key) }
	same, err := s.sameCustomer(tx, k, s.seenBy(actor))
	if err != nil {
		return mamori.Form{}, err
	}
	f := mamori.Form{Action: a, Title: t("link.title"), Submit: t("link.submit"), Cancel: t("judge.modal.cancel"),
		Intro: fmt.Sprintf(t("link.intro"), k.Number), Note: t("link.note"),
		Fields: []mamori.FormField{{ID: fieldLink, Kind: mamori.FieldText, Label: t("link.label"), Hint: t("link.hint"), Max: 200}}}
	if len(same) > 0 {
		opts := make([]mamori.Choice, len(same))
		for i, o := range same {
			opts[i] = mamori.Choice{Value: o.Number, Label: earlierLine(env, earlierOf(o), l, s.Location)}
		}
		f.Fields = append(f.Fields, mamori.FormField{ID: fieldUnlink, Kind: mamori.FieldMany, Label: t("link.unlink"),
			Hint: t("link.unlink.hint"), Options: opts})
	}
	return f, nil
}

// caseNumber finds report numbers in typed text, whatever its width or
// case: "kh-2026-0003", "ＫＨ－２０２６－０００３".
var caseNumber = regexp.MustCompile(`KH-\d{4}-\d{4}`)

func caseNumbers(typed string) []string {
	s := strings.ToUpper(norm.NFKC.String(typed))
	s = strings.NewReplacer("ー", "-", "−", "-", "‐", "-", "–", "-", "—", "-").Replace(s)
	var out []string
	for _, n := range caseNumber.FindAllString(s, -1) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// link records actor's links and unlinks on report k from the link
// form's values, and updates the cards whose list of earlier reports
// changes. It returns the audit detail.
func (s *Service) link(tx mamori.Tx, env Env, actor mamori.User, k *mamori.Case, v mamori.Values) (string, error) {
	if k.Kind != mamori.KindReport {
		return "", refuse("", "form.not_report")
	}
	typed := v.Text(fieldLink)
	numbers := caseNumbers(typed)
	if typed != "" && len(numbers) == 0 {
		return "", refuse(fieldLink, "link.bad_number")
	}
	if len(numbers) == 0 && len(v[fieldUnlink]) == 0 {
		return "", refuse(fieldLink, "link.nothing")
	}
	same, err := s.sameCustomer(tx, *k, s.seenBy(actor))
	if err != nil {
		return "", err
	}
	var touched []mamori.Case
	var linked, unlinked []string
	for _, n := range numbers {
		if n == k.Number {
			return "", refuse(fieldLink, "link.self")
		}
		o, err := tx.Case(n)
		if errors.Is(err, mamori.ErrNotFound) || (err == nil && (o.Kind != mamori.KindReport || o.Purged())) {
			return "", refuse(fieldLink, "link.not_found", n)
		} else if err != nil {
			return "", err
		}
		// Linking names the other report on this card: the actor must be
		// one who may act on it too.
		if err := s.mayAct(actor, o); err != nil {
			return "", refuse(fieldLink, "link.not_yours", n)
		}
		if err := tx.PutLink(mamori.CaseLink{A: k.Number, B: n, Linked: true, By: actor.Key(), At: env.Now}); err != nil {
			return "", err
		}
		linked = append(linked, n)
		touched = append(touched, o)
	}
	for _, n := range v[fieldUnlink] {
		i := slices.IndexFunc(same, func(o mamori.Case) bool { return o.Number == n })
		if i < 0 {
			return "", refuse(fieldUnlink, "judge.pick", mamori.TextKey("link.unlink"))
		}
		if err := tx.PutLink(mamori.CaseLink{A: k.Number, B: n, Linked: false, By: actor.Key(), At: env.Now}); err != nil {
			return "", err
		}
		unlinked = append(unlinked, n)
		touched = append(touched, same[i])
	}
	// The later report's card lists the earlier one: update the other
	// reports' cards (this one's is updated by the caller).
	ol := s.orgLang()
	for _, o := range touched {
		card, err := s.card(tx, env, o, ol)
		if err != nil {
			return "", err
		}
		if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":card:" + o.Number,
			Target: s.channel(o.Reporter.Platform, o.Channel), Message: card, Lang: ol, Created: env.Now}); err != nil {
			return "", err
		}
	}
	var detail []string
	if len(linked) > 0 {
		detail = append(detail, "linked="+strings.Join(linked, ","))
	}
	if len(unlinked) > 0 {
		detail = append(detail, "unlinked="+strings.Join(unlinked, ","))
	}
	return strings.Join(detail, " "), nil
}
