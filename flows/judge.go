package flows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// Values of the two criteria.
var (
	validities = []string{"valid", "partly", "invalid", "unclear"}
	means      = []string{"acceptable", "unacceptable"}
	outcomes   = []string{mamori.OutcomeKasuhara, mamori.OutcomeLegitimate, mamori.OutcomeMoreInfo, mamori.OutcomeMedical}
)

// errOwnCase refuses a case the actor reported or is named in: nobody
// judges their own case (segregation of duties).
var errOwnCase = fmt.Errorf("own case: %w", mamori.ErrForbidden)

// mayAct reports whether actor may take, judge or reopen case k: HR, or
// a supervisor of its department when it went there — and never the
// reporter or someone the report names.
func (s *Service) mayAct(actor mamori.User, k mamori.Case) error {
	if k.Kind != mamori.KindReport {
		if s.Org.IsHR(actor) {
			return nil
		}
		return mamori.ErrForbidden
	}
	if actor.Key() == k.Reporter.Key() || mentions(k.Answers, actor.ID, actor.Email) {
		return errOwnCase
	}
	if s.Org.IsHR(actor) || (k.Route == mamori.RouteDepartment && s.Org.IsSupervisor(actor, k.Department)) {
		return nil
	}
	return mamori.ErrForbidden
}

// SuggestDecision pre-fills a judgement from the policy and the report:
// the suggestion as the outcome, ② unacceptable when a behaviour is
// unacceptable whatever the demand, and the police for a possible crime.
// The supervisor may change all of it.
func SuggestDecision(p *mamori.Policy, k mamori.Case) mamori.Decision {
	d := mamori.Decision{Validity: "unclear", Means: "acceptable", Fault: k.Answers.Fault, Outcome: mamori.OutcomeMoreInfo}
	for _, id := range k.Behaviours {
		if b, ok := p.Behaviour(id); ok && b.Group == mamori.GroupRegardless {
			d.Means = "unacceptable"
		}
	}
	switch k.Suggestion {
	case mamori.SuggestKasuhara:
		d.Outcome, d.Means = mamori.OutcomeKasuhara, "unacceptable"
	case mamori.SuggestLegit:
		d.Outcome = mamori.OutcomeLegitimate
	}
	if k.Answers.Fault == "no" {
		d.Validity = "invalid"
	}
	if k.Crime {
		d.Actions = []string{"police"}
	}
	return d
}

// act runs one action on case number for actor in a transaction: it
// checks who may act, applies fn, stores the case, updates its card in
// place and audits. It returns a message for the actor alone.
func (s *Service) act(ctx context.Context, actor mamori.User, number, action string,
	fn func(tx mamori.Tx, env Env, k *mamori.Case) (detail string, err error)) (mamori.Message, error) {
	now := s.Clock()
	l := actor.Lang
	var result error
	var reply mamori.Message
	done := text(fmt.Sprintf(s.Policy.T(l, "judge.done."+action), number))
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		k, err := tx.Case(number)
		if errors.Is(err, mamori.ErrNotFound) {
			reply, result = text(s.Policy.T(l, "details.not_found")), err
			return nil
		} else if err != nil {
			return err
		}
		if err := s.mayAct(actor, k); err != nil {
			key := "judge.refused"
			if errors.Is(err, errOwnCase) {
				key = "judge.own_case"
			}
			reply, result = text(s.Policy.T(l, key)), err
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "case." + action + "_refused", Subject: number})
		}
		if again, err := deliveredBefore(ctx, tx, now); again || err != nil {
			reply = done
			return err
		}
		env := s.env(now)
		detail, err := fn(tx, env, &k)
		if errors.Is(err, mamori.ErrInvalid) || errors.Is(err, mamori.ErrConflict) {
			// Rolled back, so the delivery is not kept as done: the same
			// submission sent again is answered the same way.
			reply, result = text(err.Error()), err
			return errRefused
		} else if err != nil {
			return err
		}
		k.Updated = now
		if err := tx.UpdateCase(k); err != nil {
			return err
		}
		card := Card(env, k, s.orgLang(), s.Location)
		// A new key for each update: the state checks above already keep
		// an action from running twice.
		if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":card:" + k.Number,
			Target: s.channel(k.Reporter.Platform, k.Channel), Message: card, Lang: s.orgLang(), Created: now}); err != nil {
			return err
		}
		reply = done
		return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "case." + action, Subject: number, Detail: detail})
	})
	if errors.Is(err, errRefused) {
		err = nil
	}
	if err != nil {
		return text(s.Policy.T(l, "error")), fmt.Errorf("case %s: %w", action, err)
	}
	if s.Kick != nil {
		s.Kick()
	}
	return reply, result
}

// invalid is a refusal in the actor's words.
func (s *Service) invalid(l mamori.Lang, key string, a ...any) error {
	return fmt.Errorf("%s%w", fmt.Sprintf(s.Policy.T(l, key), a...), errQuiet)
}

// errQuiet marks an error whose text is already a sentence for the user.
var errQuiet = quietInvalid{}

type quietInvalid struct{}

func (quietInvalid) Error() string        { return "" }
func (quietInvalid) Is(target error) bool { return target == mamori.ErrInvalid }

// Take assigns the case to actor. The card shows who has it.
func (s *Service) Take(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	return s.act(ctx, actor, number, "take", func(_ mamori.Tx, _ Env, k *mamori.Case) (string, error) {
		if k.Status == mamori.StatusJudged {
			return "", s.invalid(actor.Lang, "judge.already_judged")
		}
		detail := "assignee=" + actor.Key()
		if k.Assignee != "" && k.Assignee != actor.Key() {
			detail += " from=" + k.Assignee
		}
		k.Assignee, k.Status = actor.Key(), mamori.StatusTaken
		if k.Taken.IsZero() {
			k.Taken = s.Clock()
		}
		return detail, nil
	})
}

// Judge records actor's judgement. The card is updated in place and the
// reporter is told the outcome in words that fit it, with the care
// resources again.
func (s *Service) Judge(ctx context.Context, actor mamori.User, number string, d mamori.Decision) (mamori.Message, error) {
	l := actor.Lang
	return s.act(ctx, actor, number, "judge", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		switch {
		case k.Status == mamori.StatusJudged:
			return "", s.invalid(l, "judge.already_judged")
		case !contains(validities, d.Validity):
			return "", s.invalid(l, "judge.pick", s.Policy.T(l, "judge.validity"))
		case !contains(means, d.Means):
			return "", s.invalid(l, "judge.pick", s.Policy.T(l, "judge.means"))
		case !contains(outcomes, d.Outcome):
			return "", s.invalid(l, "judge.pick", s.Policy.T(l, "judge.outcome"))
		case utf8.RuneCountInString(d.Facts) > MaxText || utf8.RuneCountInString(d.Note) > MaxText:
			return "", s.invalid(l, "nav.too_long", MaxText)
		}
		for _, a := range d.Actions {
			if !hasAction(s.Policy, a) {
				return "", s.invalid(l, "judge.pick", s.Policy.T(l, "judge.actions"))
			}
		}
		d.By, d.At = actor.Key(), env.Now
		if prev := k.Decision; prev != nil && prev.Note != "" {
			// A reopened case keeps its history: earlier notes and the
			// reasons for reopening come first.
			d.Note = strings.TrimSpace(prev.Note + "\n" + d.Note)
		}
		k.Decision = &d
		k.Status = mamori.StatusJudged
		if d.Outcome == mamori.OutcomeMoreInfo {
			k.Status = mamori.StatusMoreInfo
		}
		if k.Assignee == "" {
			k.Assignee = actor.Key()
		}
		if k.Taken.IsZero() {
			k.Taken = env.Now
		}
		if k.Status == mamori.StatusJudged {
			k.Judged = env.Now
		}
		rl := k.Reporter.Lang
		tell := mamori.Message{Header: fmt.Sprintf(s.Policy.T(rl, "outcome.header"), k.Number),
			Text: s.Policy.T(rl, "outcome."+d.Outcome)}
		to := mamori.Target{Platform: k.Reporter.Platform, Kind: mamori.TargetUser, ID: k.Reporter.ID}
		for i, m := range []mamori.Message{tell, CareMessage(env, rl)} {
			if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("%s:outcome:%s:%d", replyKey(mamori.Input{}, 0), k.Number, i),
				Target: to, Message: m, Lang: rl, Created: env.Now}); err != nil {
				return "", err
			}
		}
		// The case thread records the decision: outcome and response, not
		// the facts or the note, which stay behind "view details".
		ol := s.orgLang()
		labels := make([]string, len(d.Actions))
		for i, a := range d.Actions {
			labels[i] = mamori.Label(s.Policy.Actions, a, ol)
		}
		th := s.channel(k.Reporter.Platform, k.Channel)
		th.Thread = "card:" + k.Number
		note := mamori.Message{Text: fmt.Sprintf(s.Policy.T(ol, "judge.thread"), mention(actor.Key())),
			Fields: []mamori.Field{{Label: s.Policy.T(ol, "card.decision"), Value: s.Policy.T(ol, "decision."+d.Outcome)}}}
		if len(labels) > 0 {
			note.Fields = append(note.Fields, mamori.Field{Label: s.Policy.T(ol, "card.actions"), Value: strings.Join(labels, "\n")})
		}
		if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":judged:" + k.Number, Target: th, Message: note, Lang: ol, Created: env.Now}); err != nil {
			return "", err
		}
		if d.Outcome == mamori.OutcomeKasuhara {
			if err := s.recommendTraining(tx, env.Now, *k); err != nil {
				return "", err
			}
		}
		suggested := SuggestDecision(s.Policy, *k).Outcome
		return fmt.Sprintf("outcome=%s suggested=%s validity=%s means=%s actions=%s", d.Outcome, suggested, d.Validity, d.Means, strings.Join(d.Actions, ",")), nil
	})
}

// Reopen opens a judged case again, with a reason kept in the decision's
// note.
func (s *Service) Reopen(ctx context.Context, actor mamori.User, number, reason string) (mamori.Message, error) {
	l := actor.Lang
	return s.act(ctx, actor, number, "reopen", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		reason = strings.TrimSpace(reason)
		switch {
		case k.Status != mamori.StatusJudged && k.Status != mamori.StatusMoreInfo:
			return "", s.invalid(l, "judge.not_judged")
		case reason == "":
			return "", s.invalid(l, "judge.reason")
		case utf8.RuneCountInString(reason) > MaxText:
			return "", s.invalid(l, "nav.too_long", MaxText)
		}
		if k.Decision != nil {
			k.Decision.Note = strings.TrimSpace(k.Decision.Note + "\n" + fmt.Sprintf(s.Policy.T(s.orgLang(), "judge.reopen_note"),
				env.Now.Format("2006-01-02"), reason))
		}
		from := k.Status
		k.Status = mamori.StatusReopened
		return "from=" + from, s.scheduleDeadlines(tx, *k, env.Now, false)
	})
}

func hasAction(p *mamori.Policy, id string) bool {
	for _, a := range p.Actions {
		if a.ID == id {
			return true
		}
	}
	return false
}

// Suggestion returns the pre-filled judgement for actor to start from, if
// actor may judge the case.
func (s *Service) Suggestion(ctx context.Context, actor mamori.User, number string) (mamori.Decision, error) {
	var d mamori.Decision
	err := s.Store.View(ctx, func(tx mamori.Tx) error {
		k, err := tx.Case(number)
		if err != nil {
			return err
		}
		if err := s.mayAct(actor, k); err != nil {
			return err
		}
		d = SuggestDecision(s.Policy, k)
		return nil
	})
	return d, err
}

// Ask sends actor's question to the reporter's DM, with a button to
// answer; the answer comes back into the case thread. The question is
// noted in the thread too.
func (s *Service) Ask(ctx context.Context, actor mamori.User, number, question string) (mamori.Message, error) {
	l := actor.Lang
	return s.act(ctx, actor, number, "ask", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		question = strings.TrimSpace(question)
		switch {
		case question == "":
			return "", s.invalid(l, "ask.empty")
		case utf8.RuneCountInString(question) > MaxText:
			return "", s.invalid(l, "nav.too_long", MaxText)
		}
		rl := k.Reporter.Lang
		dm := mamori.Message{Step: "reply", Header: fmt.Sprintf(s.Policy.T(rl, "ask.header"), k.Number), Text: question,
			Choices: []mamori.Choice{{Value: "reply:" + k.Number, Label: s.Policy.T(rl, "ask.answer"), Style: mamori.StylePrimary}},
			Note:    s.Policy.T(rl, "ask.note")}
		to := mamori.Target{Platform: k.Reporter.Platform, Kind: mamori.TargetUser, ID: k.Reporter.ID}
		if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":ask:" + k.Number, Target: to, Message: dm, Lang: rl, Created: env.Now}); err != nil {
			return "", err
		}
		ol := s.orgLang()
		t := s.channel(k.Reporter.Platform, k.Channel)
		t.Thread = "card:" + k.Number
		note := mamori.Message{Text: fmt.Sprintf(s.Policy.T(ol, "ask.thread"), mention(actor.Key())) + "\n" + question}
		if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":asked:" + k.Number, Target: t, Message: note, Lang: ol, Created: env.Now}); err != nil {
			return "", err
		}
		return "", nil
	})
}
