package flows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mamori-oss/mamori"
)

// The supervisors' and HR's side as data: every button on a case card, a
// care card or a consultation names an Action; Open answers the click
// with a Form to fill in or, for a one-click action, does it; Submit acts
// on a filled-in form. The adapters render forms and pass values back;
// every rule (who may, which outcomes the policy has, what a decision
// must say) is here.

// Form field ids.
const (
	fieldFacts    = "facts"
	fieldValidity = "validity"
	fieldMeans    = "means"
	fieldFault    = "fault"
	fieldOutcome  = "outcome"
	fieldActions  = "actions"
	fieldReason   = "reason"
	fieldNote     = "note"
	fieldQuestion = "question"
	fieldMessage  = "message"
	fieldClauses  = "clauses"
	fieldResult   = "result"
)

// faults are the answers to "was it our fault".
var faults = []string{"yes", "no", "unsure"}

// Outcomes returns the outcomes a judgement may have under p: the
// medical exception only where the policy has it.
func Outcomes(p *mamori.Policy) []string {
	var out []string
	for _, o := range outcomes {
		if o == mamori.OutcomeMedical {
			if _, ok := medicalException(p); !ok {
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

func medicalException(p *mamori.Policy) (mamori.Exception, bool) {
	for _, e := range p.Exceptions {
		if e.ID == mamori.OutcomeMedical {
			return e, true
		}
	}
	return mamori.Exception{}, false
}

// Open answers a click on action a by actor: the form to fill in, or for
// a one-click action (take, acknowledge, close, assign training) the
// action done and its message. A click by someone who may not act is
// refused in their words (and audited) with the error saying why.
func (s *Service) Open(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error) {
	actor.Lang = langOr(actor.Lang)
	switch a.Kind {
	case mamori.CardTake:
		m, err := s.take(ctx, actor, a.Subject)
		return nil, m, err
	case mamori.ConsultTake:
		m, err := s.consultTake(ctx, actor, a.Subject)
		return nil, m, err
	case mamori.CareAck, mamori.CareCloseTask:
		m, err := s.careAction(ctx, actor, a.Kind, a.Subject, "")
		return nil, m, err
	case mamori.CardTrain:
		m, err := s.assignTraining(ctx, actor, a.Subject)
		return nil, m, err
	case mamori.SOSAck, mamori.SOSClose:
		m, err := s.sosAck(ctx, actor, a.Subject, a.Kind == mamori.SOSClose)
		return nil, m, err
	case mamori.CareNoteAction:
		return s.careNoteForm(ctx, actor, a)
	case mamori.CardJudge, mamori.CardReopen, mamori.CardAsk, mamori.CardWitness, mamori.ConsultReply, mamori.ConsultClose,
		mamori.CardLink:
		return s.caseForm(ctx, actor, a)
	case mamori.RegisterAdd, mamori.RegisterExtend, mamori.RegisterReview, mamori.RegisterLift, mamori.RegisterDetails:
		return s.registerOpen(ctx, actor, a)
	case mamori.CardHold:
		return s.holdForm(ctx, actor, a)
	case mamori.CardRelease:
		m, err := s.release(ctx, actor, a)
		return nil, m, err
	case mamori.EraseAsk:
		m, err := s.eraseAsk(ctx, actor, a)
		return nil, m, err
	case mamori.EraseApprove, mamori.EraseDecline:
		m, err := s.eraseDecide(ctx, actor, a)
		return nil, m, err
	}
	return nil, text(s.Policy.T(actor.Lang, "form.unknown")), fmt.Errorf("action %q: %w", a.Kind, mamori.ErrInvalid)
}

// Submit acts on form a filled in by actor with values v. A refusal of a
// value is a *mamori.Refusal naming the field; the message says it
// in the actor's words.
func (s *Service) Submit(ctx context.Context, actor mamori.User, a mamori.Action, v mamori.Values) (mamori.Message, error) {
	actor.Lang = langOr(actor.Lang)
	switch a.Kind {
	case mamori.CardJudge:
		return s.judge(ctx, actor, a.Subject, v)
	case mamori.CardReopen:
		return s.reopen(ctx, actor, a.Subject, v.Text(fieldReason))
	case mamori.CardAsk, mamori.ConsultReply:
		return s.ask(ctx, actor, a.Kind, a.Subject, v.Text(fieldQuestion), v[fieldClauses])
	case mamori.CardWitness:
		return s.act(ctx, actor, a.Subject, "witness", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
			if err := s.mayDo(a.Kind, *k); err != nil {
				return "", err
			}
			return s.askWitness(tx, env, actor, k, v.One(fieldWitness), v.One(fieldWitness+mamori.EmailSuffix), v.Text(fieldQuestion))
		})
	case mamori.CareNoteAction:
		return s.careAction(ctx, actor, a.Kind, a.Subject, v.Text(fieldNote))
	case mamori.ConsultClose:
		return s.closeConsult(ctx, actor, a.Subject, v.One(fieldResult), v.Text(fieldNote))
	case mamori.CardHold:
		return s.hold(ctx, actor, a, v.Text(fieldReason))
	case mamori.CardLink:
		return s.act(ctx, actor, a.Subject, "link", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
			if err := s.mayDo(a.Kind, *k); err != nil {
				return "", err
			}
			return s.link(tx, env, actor, k, v)
		})
	case mamori.RegisterAdd, mamori.RegisterExtend, mamori.RegisterReview, mamori.RegisterLift:
		return s.registerSubmit(ctx, actor, a, v)
	}
	_, m, err := s.Open(ctx, actor, a)
	return m, err
}

func langOr(l mamori.Lang) mamori.Lang {
	if l == "" {
		return mamori.JA
	}
	return l
}

// caseForm is the form for a on a case, for an actor who may act on it
// and a case in a state where a can be done.
func (s *Service) caseForm(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error) {
	l := actor.Lang
	var form *mamori.Form
	var reply mamori.Message
	var result error
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		form, reply, result = nil, mamori.Message{}, nil
		k, err := tx.Case(a.Subject)
		if errors.Is(err, mamori.ErrNotFound) {
			reply, result = text(s.Policy.T(l, "details.not_found")), err
			return nil
		} else if err != nil {
			return err
		}
		now := s.Clock()
		if err := s.mayAct(actor, k); err != nil {
			reply, result = text(s.Policy.T(l, refusalKey(k, err))), err
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "case." + a.Kind + "_refused", Subject: k.Number})
		}
		if err := s.mayDo(a.Kind, k); err != nil {
			reply, result = text(s.say(l, err)), err
			return nil
		}
		f := FormFor(s.env(now), l, a, k)
		if err := s.formExtras(tx, actor, a, k, &f); err != nil {
			return err
		}
		form = &f
		return nil
	})
	if err != nil {
		return nil, text(s.Policy.T(l, "error")), fmt.Errorf("form %s: %w", a.Kind, err)
	}
	return form, reply, result
}

func refusalKey(k mamori.Case, err error) string {
	switch {
	case errors.Is(err, errNamed):
		return "judge.named"
	case errors.Is(err, errOwnCase):
		return "judge.own_case"
	case k.Kind == mamori.KindConsult:
		return "consult.refused"
	case k.Route == mamori.RouteHR:
		return "judge.refused.hr"
	}
	return "judge.refused"
}

// mayDo refuses action kind on case k in its state, in words for l.
func (s *Service) mayDo(kind string, k mamori.Case) error {
	if k.Purged() {
		return refuse("", "retention.purged")
	}
	report := k.Kind == mamori.KindReport
	switch kind {
	case mamori.CardTake:
		if !report {
			return refuse("", "form.not_report")
		}
		if k.Status == mamori.StatusJudged {
			return refuse("", "judge.already_judged")
		}
	case mamori.CardJudge:
		if !report {
			return refuse("", "form.not_report")
		}
		if k.Status == mamori.StatusJudged {
			return refuse("", "judge.already_judged")
		}
	case mamori.CardReopen:
		if !report {
			return refuse("", "form.not_report")
		}
		if k.Status != mamori.StatusJudged && k.Status != mamori.StatusMoreInfo {
			return refuse("", "judge.not_judged")
		}
	case mamori.CardAsk, mamori.CardWitness:
		if !report {
			return refuse("", "form.not_report")
		}
		if k.Status == mamori.StatusJudged {
			return refuse("", "judge.already_judged")
		}
	case mamori.CardLink:
		if !report {
			return refuse("", "form.not_report")
		}
	case mamori.ConsultTake, mamori.ConsultReply, mamori.ConsultClose:
		if report {
			return refuse("", "form.not_consult")
		}
		if k.Status == mamori.StatusClosed {
			return refuse("", "consult.already_closed")
		}
	}
	return nil
}

// FormFor builds the form for action a on case k, in language l. (Who
// may open it is checked by Open.)
func FormFor(env Env, l mamori.Lang, a mamori.Action, k mamori.Case) mamori.Form {
	t := func(key string) string { return env.Policy.T(l, key) }
	f := mamori.Form{Action: a, Cancel: t("judge.modal.cancel")}
	text := func(id, label string, required bool, lines int) mamori.FormField {
		return mamori.FormField{ID: id, Kind: mamori.FieldText, Label: label, Required: required, Lines: lines, Max: MaxText}
	}
	switch a.Kind {
	case mamori.CardJudge:
		return judgeForm(env, l, a, k)
	case mamori.CardWitness:
		return witnessForm(env, l, a, k)
	case mamori.CardReopen:
		f.Title, f.Submit = t("judge.reopen.title"), t("card.reopen")
		f.Intro = fmt.Sprintf(t("judge.reopen.intro"), k.Number)
		f.Fields = []mamori.FormField{text(fieldReason, t("judge.reopen.label"), true, 3)}
	case mamori.CardAsk:
		f.Title, f.Submit = t("ask.title"), t("card.ask")
		f.Intro = fmt.Sprintf(t("ask.intro"), k.Number)
		f.Fields = []mamori.FormField{text(fieldQuestion, t("ask.label"), true, 3)}
	case mamori.ConsultReply:
		f.Title, f.Submit = t("consult.reply.title"), t("consult.reply.submit")
		f.Intro = fmt.Sprintf(t("consult.reply.intro"), k.Number)
		f.Fields = []mamori.FormField{text(fieldQuestion, t("consult.reply.label"), true, 5)}
		if opts := clauses(env.Policy, l); len(opts) > 0 {
			f.Fields = append(f.Fields, mamori.FormField{ID: fieldClauses, Kind: mamori.FieldMany, Label: t("consult.reply.clauses"),
				Hint: t("consult.reply.clauses.hint"), Options: opts})
		}
		f.Note = t("consult.reply.note")
	case mamori.ConsultClose:
		f.Title, f.Submit = t("consult.close.title"), t("consult.close.submit")
		f.Intro = fmt.Sprintf(t("consult.close.intro"), k.Number)
		f.Fields = []mamori.FormField{
			{ID: fieldResult, Kind: mamori.FieldOne, Label: t("consult.close.result"), Required: true, Options: []mamori.Choice{
				{Value: consultResolved, Label: t("consult.close.resolved")},
				{Value: consultConvert, Label: t("consult.close.convert")},
			}},
			text(fieldNote, t("consult.close.note"), false, 3),
		}
	}
	return f
}

// clauses are the policy's behaviours HR may cite in a reply.
func clauses(p *mamori.Policy, l mamori.Lang) []mamori.Choice {
	var out []mamori.Choice
	for _, b := range p.Behaviours {
		out = append(out, mamori.Choice{Value: b.ID, Label: b.Label.In(l)})
	}
	return out
}

// judgeForm is the judgement on the two criteria: nothing is chosen for
// the supervisor; the policy's suggestion is shown beside the choices.
func judgeForm(env Env, l mamori.Lang, a mamori.Action, k mamori.Case) mamori.Form {
	p := env.Policy
	t := func(key string) string { return p.T(l, key) }
	sug := SuggestDecision(p, k)
	f := mamori.Form{Action: a, Title: t("judge.modal.title"), Submit: t("judge.modal.submit"), Cancel: t("judge.modal.cancel"),
		Intro: fmt.Sprintf(t("judge.modal.intro"), k.Number), About: caseFacts(env, k, l, env.Location), Note: t("judge.modal.note")}
	opts := func(values []string, prefix string) []mamori.Choice {
		cs := make([]mamori.Choice, len(values))
		for i, v := range values {
			cs[i] = mamori.Choice{Value: v, Label: t(prefix + v)}
		}
		return cs
	}
	var examples []string
	for _, e := range p.InvalidDemand {
		examples = append(examples, e.In(l))
	}
	validity := mamori.FormField{ID: fieldValidity, Kind: mamori.FieldOne, Label: t("judge.validity"), Required: true,
		Options: opts(validities, "judge.validity.")}
	if len(examples) > 0 {
		validity.Hint = fmt.Sprintf(t("judge.validity.examples"), strings.Join(examples, " / "))
	}
	means := mamori.FormField{ID: fieldMeans, Kind: mamori.FieldOne, Label: t("judge.means"), Required: true,
		Options: opts(meanses, "judge.means.")}
	if b := behaviourLabels(p, k, l); len(b) > 0 {
		means.Hint = fmt.Sprintf(t("judge.means.reported"), strings.Join(b, " / "))
	}
	fault := mamori.FormField{ID: fieldFault, Kind: mamori.FieldOne, Label: t("s.fault"), Options: opts(faults, "a.fault.")}
	if k.Answers.Fault != "" {
		fault.Hint = fmt.Sprintf(t("judge.fault.reported"), t("a.fault."+k.Answers.Fault))
	}
	outcome := mamori.FormField{ID: fieldOutcome, Kind: mamori.FieldOne, Label: t("judge.outcome"), Required: true,
		Options: opts(Outcomes(p), "decision."), Hint: fmt.Sprintf(t("judge.suggested"), t("decision."+sug.Outcome))}
	if suggested(k) != "" {
		outcome.Hint += "\n" + t("judge.against.outcome.hint")
	}
	if e, ok := medicalException(p); ok {
		outcome.Hint += "\n" + t("decision.medical") + ": " + e.Guidance.In(l)
	}
	f.Fields = []mamori.FormField{
		{ID: fieldFacts, Kind: mamori.FieldText, Label: t("judge.facts"), Lines: 3, Max: MaxText},
		validity, means, fault, outcome,
	}
	if len(p.Actions) > 0 {
		acts := make([]mamori.Choice, len(p.Actions))
		for i, x := range p.Actions {
			acts[i] = mamori.Choice{Value: x.ID, Label: x.Label.In(l)}
		}
		hint := t("judge.actions.hint")
		if k.Crime {
			hint += "\n" + t("card.crime.text")
		}
		f.Fields = append(f.Fields, mamori.FormField{ID: fieldActions, Kind: mamori.FieldMany, Label: t("judge.actions"), Hint: hint, Options: acts,
			OnlyIf: &mamori.FieldIs{Field: fieldOutcome, Values: []string{mamori.OutcomeKasuhara}}})
	}
	f.Fields = append(f.Fields,
		mamori.FormField{ID: fieldReason, Kind: mamori.FieldText, Label: t("judge.contradiction.label"), Hint: reasonHint(p, k, l), Lines: 2, Max: MaxText},
		mamori.FormField{ID: fieldNote, Kind: mamori.FieldText, Label: t("judge.note"), Lines: 2, Max: MaxText})
	if d := k.Decision; d != nil && d.Outcome == "" && len(d.History) > 0 {
		// Judged again after a reopening: the facts written then are
		// filled in, to be corrected; ①, ② and the decision are chosen
		// afresh, not anchored on the judgement being reviewed.
		if last := d.History[len(d.History)-1]; last.Facts != "" {
			for i := range f.Fields {
				if f.Fields[i].ID == fieldFacts {
					f.Fields[i].Value = []string{last.Facts}
				}
			}
			f.Intro += "\n" + t("judge.modal.previous")
		}
	}
	return f
}

func behaviourLabels(p *mamori.Policy, k mamori.Case, l mamori.Lang) []string {
	var out []string
	for _, id := range k.Behaviours {
		if b, ok := p.Behaviour(id); ok {
			out = append(out, b.Label.In(l))
		}
	}
	return out
}

// reasonHint says when the judge form's reason is required: a decision
// against ②, and for case k one against the policy's suggestion or, for
// a possible crime, ② within what society accepts.
func reasonHint(p *mamori.Policy, k mamori.Case, l mamori.Lang) string {
	hint := p.T(l, "judge.contradiction.hint")
	if sug := suggested(k); sug != "" {
		hint = fmt.Sprintf(p.T(l, "judge.against.hint"), p.T(l, "decision."+sug))
	}
	if k.Crime {
		hint += "\n" + p.T(l, "judge.against.crime.hint")
	}
	return hint
}

// Contradicts reports whether an outcome goes against the two criteria
// as chosen: customer harassment while the means are within what
// society accepts, or a legitimate complaint while they are beyond it.
// Such a decision needs a stated reason.
func Contradicts(means, outcome string) bool {
	return (outcome == mamori.OutcomeKasuhara && means == "acceptable") ||
		(outcome == mamori.OutcomeLegitimate && means == "unacceptable")
}

// suggested is the outcome the policy suggests for case k (the one the
// judge form shows), or "" when it suggests none: gathering the facts.
func suggested(k mamori.Case) string {
	switch k.Suggestion {
	case mamori.SuggestKasuhara:
		return mamori.OutcomeKasuhara
	case mamori.SuggestLegit:
		return mamori.OutcomeLegitimate
	}
	return ""
}

// AgainstSuggestion reports whether a decision on case k goes against
// the policy's suggestion for it: another outcome than the one suggested
// (asking for more information decides nothing, and is not), or, for a
// report that may be a crime (violence, threats), ② within what society
// accepts or a legitimate complaint. Such a decision needs a stated
// reason, as one that Contradicts ② does.
func AgainstSuggestion(k mamori.Case, means, outcome string) bool {
	if crimeAccepted(k, means, outcome) {
		return true
	}
	sug := suggested(k)
	return sug != "" && outcome != sug && outcome != mamori.OutcomeMoreInfo
}

// crimeAccepted reports whether a decision on case k, which may be a
// crime, finds ② within what society accepts or a legitimate complaint.
func crimeAccepted(k mamori.Case, means, outcome string) bool {
	return k.Crime && (means == "acceptable" || outcome == mamori.OutcomeLegitimate)
}

// decision reads a judge form's values for case k, refusing what the
// policy does not allow, field by field.
func (s *Service) decision(v mamori.Values, k mamori.Case) (mamori.Decision, error) {
	d := mamori.Decision{Facts: v.Text(fieldFacts), Validity: v.One(fieldValidity), Means: v.One(fieldMeans),
		Fault: v.One(fieldFault), Outcome: v.One(fieldOutcome), Actions: v[fieldActions], Reason: v.Text(fieldReason), Note: v.Text(fieldNote)}
	pick := func(field, label string) error {
		return refuse(field, "judge.pick", mamori.TextKey(label))
	}
	switch {
	case !contains(validities, d.Validity):
		return d, pick(fieldValidity, "judge.validity")
	case !contains(meanses, d.Means):
		return d, pick(fieldMeans, "judge.means")
	case d.Fault != "" && !contains(faults, d.Fault):
		return d, pick(fieldFault, "s.fault")
	case !contains(Outcomes(s.Policy), d.Outcome):
		return d, pick(fieldOutcome, "judge.outcome")
	}
	for _, id := range []string{fieldFacts, fieldReason, fieldNote} {
		if n := len([]rune(v.Text(id))); n > MaxText {
			return d, refuse(id, "nav.too_long", MaxText)
		}
	}
	for _, a := range d.Actions {
		if !hasAction(s.Policy, a) {
			return d, pick(fieldActions, "judge.actions")
		}
	}
	if len(d.Actions) > 0 && d.Outcome != mamori.OutcomeKasuhara {
		return d, refuse(fieldActions, "judge.actions.only_kasuhara", mamori.TextKey("decision."+d.Outcome))
	}
	// A decision against ② or against the policy's suggestion is made on
	// purpose, and says why: against ② first, as the supervisor's own
	// answers disagree; then a legitimate complaint whose demand ① is not
	// valid; then a possible crime; then the suggestion.
	if d.Reason == "" {
		means, outcome := mamori.TextKey("judge.means."+d.Means), mamori.TextKey("decision."+d.Outcome)
		switch {
		case Contradicts(d.Means, d.Outcome):
			return d, refuse(fieldReason, "judge.contradiction", means, outcome)
		case d.Validity == "invalid" && d.Outcome == mamori.OutcomeLegitimate:
			// A legitimate complaint is one the company should answer:
			// its demand is not "not valid".
			return d, refuse(fieldReason, "judge.contradiction.validity", mamori.TextKey("judge.validity."+d.Validity), outcome)
		case crimeAccepted(k, d.Means, d.Outcome):
			return d, refuse(fieldReason, "judge.against.crime", means, outcome)
		case AgainstSuggestion(k, d.Means, d.Outcome):
			return d, refuse(fieldReason, "judge.against", mamori.TextKey("decision."+suggested(k)), outcome)
		}
	}
	return d, nil
}

// careNoteForm asks HR what contact was made for a care task.
func (s *Service) careNoteForm(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error) {
	l := actor.Lang
	t := func(key string) string { return s.Policy.T(l, key) }
	id, err := strconv.ParseInt(a.Subject, 10, 64)
	if err != nil {
		return nil, text(t("caretask.not_found")), fmt.Errorf("care task %q: %w", a.Subject, mamori.ErrNotFound)
	}
	var form *mamori.Form
	var reply mamori.Message
	var result error
	err = s.Store.Update(ctx, func(tx mamori.Tx) error {
		form, reply, result = nil, mamori.Message{}, nil
		c, err := tx.CareTask(id)
		if errors.Is(err, mamori.ErrNotFound) {
			reply, result = text(t("caretask.not_found")), err
			return nil
		} else if err != nil {
			return err
		}
		if !s.Org.IsHR(actor) {
			reply, result = text(t("caretask.refused")), mamori.ErrForbidden
			return tx.Audit(mamori.AuditEntry{At: s.Clock(), Actor: actor.Key(), Action: "care.task_refused", Subject: c.Number, Detail: fmt.Sprintf("task=%d", c.ID)})
		}
		if c.Status == mamori.CareClosed {
			reply, result = text(t("caretask.already_closed")), mamori.ErrConflict
			return nil
		}
		f := CareNoteForm(s.Policy, l, a, c.Number)
		form = &f
		return nil
	})
	if err != nil {
		return nil, text(t("error")), fmt.Errorf("care note form: %w", err)
	}
	return form, reply, result
}

// CareNoteForm asks HR what contact was made for a care task about case
// number.
func CareNoteForm(p *mamori.Policy, l mamori.Lang, a mamori.Action, number string) mamori.Form {
	t := func(key string) string { return p.T(l, key) }
	return mamori.Form{Action: a, Title: t("caretask.modal.title"), Submit: t("caretask.modal.submit"), Cancel: t("judge.modal.cancel"),
		Intro:  fmt.Sprintf(t("caretask.modal.intro"), number),
		Fields: []mamori.FormField{{ID: fieldNote, Kind: mamori.FieldText, Label: t("caretask.modal.label"), Required: true, Lines: 3, Max: MaxText}}}
}
