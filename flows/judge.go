package flows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// Values of the two criteria.
var (
	validities = []string{"valid", "partly", "invalid", "unclear"}
	meanses    = []string{"acceptable", "unacceptable"}
	outcomes   = mamori.Outcomes()
)

// errOwnCase refuses a case the actor reported or is named in: nobody
// judges their own case (segregation of duties). errNamed, which is an
// errOwnCase, is the second: the refusal does not tell them so.
var (
	errOwnCase = fmt.Errorf("own case: %w", mamori.ErrForbidden)
	errNamed   = fmt.Errorf("named in it: %w", errOwnCase)
)

// mayAct reports whether actor may take, judge or reopen case k: HR, or
// a supervisor of its department when it went there — and never the
// reporter, someone the report names or a witness asked for a statement.
func (s *Service) mayAct(actor mamori.User, k mamori.Case) error {
	if actor.Key() == k.Reporter.Key() {
		return errOwnCase
	}
	if k.Kind != mamori.KindReport {
		if s.Org.IsHR(actor) {
			return nil
		}
		return mamori.ErrForbidden
	}
	hr, supervisor := s.Org.IsHR(actor), k.Department != "" && s.Org.IsSupervisor(actor, k.Department)
	if !hr && !supervisor {
		return mamori.ErrForbidden // named in it or not: only its staff may act
	}
	if mentions(k.Answers, actor.ID, actor.Email) || mentionsName(k.Answers, actor.Name) || k.Decision.Witness(actor.Key()) >= 0 {
		return errNamed
	}
	if hr || k.Route == mamori.RouteDepartment {
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
	if o := suggested(k); o != "" {
		d.Outcome = o
	}
	if d.Outcome == mamori.OutcomeKasuhara {
		d.Means = "unacceptable"
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
		reply, result = mamori.Message{}, nil
		k, err := tx.Case(number)
		if errors.Is(err, mamori.ErrNotFound) {
			reply, result = text(s.Policy.T(l, "details.not_found")), err
			return nil
		} else if err != nil {
			return err
		}
		if err := s.mayAct(actor, k); err != nil {
			reply, result = text(s.Policy.T(l, refusalKey(k, err))), err
			if errors.Is(err, errNamed) && k.Kind == mamori.KindReport && !s.Org.IsHR(actor) && k.Status != mamori.StatusClosed {
				// Found by a trial: a supervisor the report names (by
				// name: 「佐藤店長が…」) took it. Refused without saying
				// why; HR hears, once, so that someone who may handles it.
				ol := s.orgLang()
				// (A card's step: its buttons are the card's — found by a
				// re-trial: they opened nothing.)
				m := mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(s.Policy.T(ol, "judge.named.hr.header"), k.Number),
					Text: fmt.Sprintf(s.Policy.T(ol, "judge.named.hr"), mention(actor.Key()), k.Number),
					Choices: []mamori.Choice{{Value: mamori.CardTake + ":" + k.Number, Label: s.Policy.T(ol, "card.take"), Style: mamori.StylePrimary},
						detailsChoice(s.Policy, ol, k.Number)}}
				if k.Status != mamori.StatusNew {
					m.Choices = m.Choices[1:]
				}
				if err := s.tellHR(tx, k, "named:"+k.Number+":"+actor.Key(), m, now); err != nil {
					return err
				}
			}
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
			reply, result = text(s.say(l, err)), err
			return errRefused
		} else if err != nil {
			return err
		}
		k.Updated = now
		if err := tx.UpdateCase(k); err != nil {
			return err
		}
		card, err := s.card(tx, env, k, s.orgLang())
		if err != nil {
			return err
		}
		// A new key for each update: the state checks above already keep
		// an action from running twice.
		if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":card:" + k.Number,
			Target: s.channel(k.Reporter.Platform, k.Channel), Message: card, Lang: s.orgLang(), Created: now}); err != nil {
			return err
		}
		if err := s.tidyLate(tx, now, k); err != nil {
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

// refuse is a typed refusal: the key of the words that say why, their
// arguments, and the field at fault when there is one.
func refuse(field, key string, args ...any) error {
	return &mamori.Refusal{Field: field, Key: key, Args: args}
}

// say is what err means to the actor: a refusal's words, or that
// something went wrong.
func (s *Service) say(l mamori.Lang, err error) string {
	var r *mamori.Refusal
	if errors.As(err, &r) {
		return s.Policy.Say(l, r)
	}
	return s.Policy.T(l, "error")
}

// Take assigns the case to actor. The card shows who has it; the
// reporter hears that someone is on it and by when a decision is due,
// without a name.
func (s *Service) take(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	return s.act(ctx, actor, number, "take", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		if err := s.mayDo(mamori.CardTake, *k); err != nil {
			return "", err
		}
		if k.Assignee == actor.Key() && k.Status == mamori.StatusTaken {
			// Pressed again: nothing changes, and the card is not posted anew.
			return "", refuse("", "judge.take.already", k.Number)
		}
		detail := "assignee=" + actor.Key()
		if k.Assignee != "" && k.Assignee != actor.Key() {
			detail += " from=" + k.Assignee
		}
		// Told once when the case is first taken (or taken again after a
		// reopening), not when it changes hands.
		first := k.Status == mamori.StatusNew || k.Status == mamori.StatusReopened
		k.Assignee, k.Status = actor.Key(), mamori.StatusTaken
		if k.Taken.IsZero() {
			k.Taken = env.Now
		}
		if !first {
			return detail, nil
		}
		rl := reporterLang(*k)
		text := s.Policy.T(rl, s.routed(*k, "status.taken.text"))
		if _, judge := s.Deadlines.For(k.Urgency); k.Judged.IsZero() && k.Created.Add(judge).After(env.Now) {
			text += fmt.Sprintf(s.Policy.T(rl, "status.by"), s.when(k.Created.Add(judge), rl))
		} else {
			text += s.Policy.T(rl, "status.soon")
		}
		m := mamori.Message{Header: fmt.Sprintf(s.Policy.T(rl, "status.taken.header"), k.Number), Text: text}
		return detail, s.tell(tx, env.Now, *k, "taken", m)
	})
}

// reporterLang is the language of the reporter of k: Japanese unless they
// use English.
func reporterLang(k mamori.Case) mamori.Lang {
	if k.Reporter.Lang == mamori.EN {
		return mamori.EN
	}
	return mamori.JA
}

// routed returns key, or its ".hr" variant for a case that went to HR
// alone: its texts say that only HR sees it.
func (s *Service) routed(k mamori.Case, key string) string {
	if k.Route == mamori.RouteHR {
		return key + ".hr"
	}
	return key
}

// tell puts messages to the reporter of case k in the outbox.
func (s *Service) tell(tx mamori.Tx, now time.Time, k mamori.Case, what string, ms ...mamori.Message) error {
	to := mamori.Target{Platform: k.Reporter.Platform, Kind: mamori.TargetUser, ID: k.Reporter.ID}
	key := replyKey(mamori.Input{}, 0)
	for i, m := range ms {
		if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("%s:%s:%s:%d", key, what, k.Number, i),
			Target: to, Message: m, Lang: reporterLang(k), Created: now}); err != nil {
			return err
		}
	}
	return nil
}

// outcomeMessage tells the reporter the decision on case k in considerate
// words: what it means, what the company will do (the policy's actions,
// as the reporter should hear them) and how to ask HR or disagree.
//
// After a reopening (before is the outcome it replaces) it says the
// decision was reviewed, and whether it changed.
func (s *Service) outcomeMessage(k mamori.Case, d mamori.Decision, before string) mamori.Message {
	l := reporterLang(k)
	t := s.Policy.T
	text := t(l, "outcome."+d.Outcome)
	header := fmt.Sprintf(t(l, "outcome.header"), k.Number)
	if before != "" {
		header = fmt.Sprintf(t(l, "outcome.reviewed.header"), k.Number)
		if before == d.Outcome {
			text = t(l, "outcome.reviewed.same") + "\n\n" + text
		} else {
			text = fmt.Sprintf(t(l, "outcome.reviewed.changed"), t(l, "decision."+before), t(l, "decision."+d.Outcome)) + "\n\n" + text
		}
	}
	// Nothing is decided while more information is gathered: no actions
	// to announce, and questions rather than disagreement.
	more := d.Outcome == mamori.OutcomeMoreInfo
	if len(d.Actions) > 0 && !more {
		var acts []string
		for _, a := range d.Actions {
			// A policy's own action without words for the reporter is
			// named by its label.
			v := t(l, "outcome.action."+a)
			if v == "outcome.action."+a {
				v = mamori.Label(s.Policy.Actions, a, l)
			}
			acts = append(acts, v)
		}
		text += "\n\n*" + t(l, "outcome.actions") + "*\n• " + strings.Join(acts, "\n• ")
	}
	if more {
		text += "\n\n" + t(l, "outcome.questions")
	} else {
		text += "\n\n" + t(l, "outcome.disagree")
	}
	// The menu's consult button: a confidential question to HR's desk.
	return mamori.Message{Header: header, Text: text, Step: stepMenu,
		Choices: []mamori.Choice{{Value: aboutPrefix + k.Number, Label: t(l, "outcome.ask_hr")}}}
}

// judge records actor's judgement from the judge form's values. The card
// is updated in place and the reporter is told the outcome in words that
// fit it, with the care resources again; after a reopening, that the
// decision was reviewed and what it is now.
func (s *Service) judge(ctx context.Context, actor mamori.User, number string, v mamori.Values) (mamori.Message, error) {
	var told bool // HR was told: a register entry rests on the report
	m, err := s.act(ctx, actor, number, "judge", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		told = false
		if err := s.mayDo(mamori.CardJudge, *k); err != nil {
			return "", err
		}
		d, err := s.decision(v, *k)
		if err != nil {
			return "", err
		}
		d.By, d.At = actor.Key(), env.Now
		var before string // the outcome this judgement replaces, after a reopening
		if prev := k.Decision; prev != nil {
			// A reopened case keeps its history: earlier notes and the
			// reasons for reopening come first; the questions asked and
			// answered, the witness statements and the earlier decisions
			// stay.
			if prev.Note != "" {
				d.Note = strings.TrimSpace(prev.Note + "\n" + d.Note)
			}
			d.Questions, d.Witnesses, d.History = prev.Questions, prev.Witnesses, prev.History
			if n := len(d.History); n > 0 {
				before = d.History[n-1].Outcome
			}
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
		news := []mamori.Message{s.outcomeMessage(*k, d, before)}
		if d.Outcome != mamori.OutcomeMoreInfo {
			// The care resources with a decision; "still being checked"
			// decides nothing (found by a trial: three times in a minute).
			news = append(news, CareMessage(env, reporterLang(*k)))
		}
		if err := s.tell(tx, env.Now, *k, "outcome", news...); err != nil {
			return "", err
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
		// A decision that lets off what the policy points to (a possible
		// crime found acceptable, harassment suggested and judged a
		// complaint) is not left to one supervisor alone: HR hears (the
		// policy: no concealment; found by a trial).
		if !s.Org.IsHR(actor) && (crimeAccepted(*k, d.Means, d.Outcome) || AgainstSuggestion(*k, d.Means, d.Outcome) && d.Outcome != mamori.OutcomeKasuhara) {
			sugg := s.Policy.T(ol, "judge.against.hr.none")
			if sg := suggested(*k); sg != "" {
				sugg = s.Policy.T(ol, "decision."+sg)
			}
			m := mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(s.Policy.T(ol, "judge.against.hr.header"), k.Number),
				Text:    fmt.Sprintf(s.Policy.T(ol, "judge.against.hr"), mention(actor.Key()), s.Policy.T(ol, "decision."+d.Outcome), sugg),
				Choices: []mamori.Choice{detailsChoice(s.Policy, ol, k.Number)}}
			if k.Crime {
				m.Text += "\n" + s.Policy.T(ol, "judge.against.hr.crime")
			}
			if err := s.tellHR(tx, *k, fmt.Sprintf("against:%s:%d", k.Number, env.Now.UnixNano()), m, env.Now); err != nil {
				return "", err
			}
		}
		// HR hears the training recommendation once per case, not again
		// when a reopened case is judged カスハラ again.
		if d.Outcome == mamori.OutcomeKasuhara && !d.Recommended(mamori.OutcomeKasuhara) {
			if err := s.recommendTraining(tx, env.Now, *k); err != nil {
				return "", err
			}
		}
		// A refusal of service: HR is asked whether to record the
		// customer on the register. A report an entry rests on, judged
		// again: HR hears whether it still stands.
		if err := s.offerRegister(tx, env, *k); err != nil {
			return "", err
		}
		if told, err = s.registerBasis(tx, env, actor, *k, false); err != nil {
			return "", err
		}
		sug := SuggestDecision(s.Policy, *k).Outcome
		return fmt.Sprintf("outcome=%s suggested=%s validity=%s means=%s actions=%s contradicts=%t rejudged=%t against_suggestion=%t", d.Outcome, sug, d.Validity, d.Means,
			strings.Join(d.Actions, ","), Contradicts(d.Means, d.Outcome), before != "", AgainstSuggestion(*k, d.Means, d.Outcome)), nil
	})
	return s.toldHR(m, actor.Lang, told && err == nil), err
}

// reopen opens a judged case again, with a reason. The decision is
// cleared, so the card shows the case as open and why; it is kept in the
// decision's history, with the reason.
func (s *Service) reopen(ctx context.Context, actor mamori.User, number, reason string) (mamori.Message, error) {
	var told bool // HR was told: a register entry rests on the report
	m, err := s.act(ctx, actor, number, "reopen", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		told = false
		reason = strings.TrimSpace(reason)
		if err := s.mayDo(mamori.CardReopen, *k); err != nil {
			return "", err
		}
		switch {
		case reason == "":
			return "", refuse(fieldReason, "judge.reason")
		case utf8.RuneCountInString(reason) > MaxText:
			return "", refuse(fieldReason, "nav.too_long", MaxText)
		}
		if d := k.Decision; d != nil {
			d.Note = strings.TrimSpace(d.Note + "\n" + fmt.Sprintf(s.Policy.T(s.orgLang(), "judge.reopen_note"),
				s.local(env.Now).Format("2006-01-02"), reason))
			k.Decision = &mamori.Decision{Note: d.Note, Questions: d.Questions, Witnesses: d.Witnesses,
				History: append(d.History, mamori.PastDecision{Outcome: d.Outcome, Actions: d.Actions, By: d.By, At: d.At,
					Facts: d.Facts, Validity: d.Validity, Means: d.Means, Fault: d.Fault, Why: d.Reason,
					Reopened: env.Now, ReopenedBy: actor.Key(), Reason: reason})}
		}
		from := k.Status
		k.Status = mamori.StatusReopened
		// The reporter hears that it is looked at again, and by when; not
		// the reason, which is the supervisors' note.
		rl := reporterLang(*k)
		_, judge := s.Deadlines.For(k.Urgency)
		m := mamori.Message{Header: fmt.Sprintf(s.Policy.T(rl, "status.reopened.header"), k.Number),
			Text: s.Policy.T(rl, "status.reopened.text") + fmt.Sprintf(s.Policy.T(rl, "status.by"), s.when(env.Now.Add(judge), rl))}
		if err := s.tell(tx, env.Now, *k, "reopened", m); err != nil {
			return "", err
		}
		// The card's thread says who reopened it, and calls whoever has
		// it (the card changes in place, which nobody is told of).
		ol := s.orgLang()
		text := fmt.Sprintf(s.Policy.T(ol, "judge.reopened.thread"), mention(actor.Key()))
		if k.Assignee != "" && k.Assignee != actor.Key() {
			text += " " + fmt.Sprintf(s.Policy.T(ol, "judge.reopened.thread.assignee"), mention(k.Assignee))
		}
		if err := s.threadNote(tx, env, *k, text, "reopened"); err != nil {
			return "", err
		}
		// HR hears it when the customer is on the register for it.
		var err error
		if told, err = s.registerBasis(tx, env, actor, *k, true); err != nil {
			return "", err
		}
		return "from=" + from, s.scheduleDeadlines(tx, *k, env.Now, false)
	})
	return s.toldHR(m, actor.Lang, told && err == nil), err
}

func hasAction(p *mamori.Policy, id string) bool {
	for _, a := range p.Actions {
		if a.ID == id {
			return true
		}
	}
	return false
}

// Ask sends actor's question to the reporter's DM, with a button to
// answer, and keeps it in the case's confidential record, where the
// answer joins it. The case thread only hears that a question was asked
// (and later that it was answered): both are read behind "view details".
//
// On a consultation it is HR's reply, which may cite the policy's
// clauses (behaviour ids) so the employee learns which applies.
func (s *Service) ask(ctx context.Context, actor mamori.User, kind, number, question string, clauses []string) (mamori.Message, error) {
	action := "ask"
	if kind == mamori.ConsultReply {
		action = kind
	}
	return s.act(ctx, actor, number, action, func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		if err := s.mayDo(kind, *k); err != nil {
			return "", err
		}
		question = strings.TrimSpace(question)
		switch {
		case question == "":
			empty := "ask.empty"
			if kind == mamori.ConsultReply {
				empty = "consult.reply.empty"
			}
			return "", refuse(fieldQuestion, empty)
		case utf8.RuneCountInString(question) > MaxText:
			return "", refuse(fieldQuestion, "nav.too_long", MaxText)
		}
		for _, c := range clauses {
			if _, ok := s.Policy.Behaviour(c); !ok {
				return "", refuse(fieldClauses, "judge.pick", mamori.TextKey("consult.reply.clauses"))
			}
		}
		if k.Kind == mamori.KindConsult {
			return s.replyConsult(tx, env, actor, k, question, clauses)
		}
		if k.Decision == nil {
			k.Decision = &mamori.Decision{}
		}
		k.Decision.Questions = append(k.Decision.Questions, mamori.Question{By: actor.Key(), Text: question, At: env.Now})
		rl := reporterLang(*k)
		// Who asks, as the reporter should hear it: HR, or their
		// supervisors — never a name. A report sent to HR alone is
		// asked about by HR, whoever else they are.
		header := "ask.header"
		if k.Route == mamori.RouteHR || (s.Org.IsHR(actor) && !s.Org.IsSupervisor(actor, k.Department)) {
			header = "ask.header.hr"
		}
		dm := mamori.Message{Step: "reply", Header: fmt.Sprintf(s.Policy.T(rl, header), k.Number), Text: question,
			Choices: []mamori.Choice{{Value: fmt.Sprintf("reply:%s:%d", k.Number, len(k.Decision.Questions)), Label: s.Policy.T(rl, "ask.answer"), Style: mamori.StylePrimary}},
			Note:    s.Policy.T(rl, s.routed(*k, "ask.note"))}
		if err := s.tell(tx, env.Now, *k, "ask", dm); err != nil {
			return "", err
		}
		if err := noteAsked(tx, *k, env.Now); err != nil {
			return "", err
		}
		ol := s.orgLang()
		t := s.channel(k.Reporter.Platform, k.Channel)
		t.Thread = "card:" + k.Number
		note := mamori.Message{Step: mamori.StepCard, Text: fmt.Sprintf(s.Policy.T(ol, "ask.thread"), mention(actor.Key())),
			Choices: []mamori.Choice{detailsChoice(s.Policy, ol, k.Number)}}
		if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":asked:" + k.Number, Target: t, Message: note, Lang: ol, Created: env.Now}); err != nil {
			return "", err
		}
		return fmt.Sprintf("question=%d", len(k.Decision.Questions)), nil
	})
}
