package flows

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// Consultations HR answers: HR takes one, replies from a form (the reply
// reaches the employee's DM, with a button to answer back, and may cite
// the policy's clauses), and closes it, resolved or with an invitation to
// make it a formal report. The HR channel's thread records only that
// messages were exchanged, never their text.

// consultTake assigns a consultation to actor (HR); the employee hears
// that the desk has it.
func (s *Service) consultTake(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	return s.act(ctx, actor, number, "consult_take", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		if err := s.mayDo(mamori.ConsultTake, *k); err != nil {
			return "", err
		}
		first := k.Assignee == ""
		k.Assignee, k.Status = actor.Key(), mamori.StatusTaken
		if k.Taken.IsZero() {
			k.Taken = env.Now
		}
		if !first {
			return "assignee=" + actor.Key(), nil
		}
		if err := s.ackContact(tx, env.Now, actor, *k, false); err != nil {
			return "", err
		}
		rl := reporterLang(*k)
		m := mamori.Message{Header: fmt.Sprintf(s.Policy.T(rl, "consult.taken.header"), k.Number), Text: s.Policy.T(rl, "consult.taken.text")}
		return "assignee=" + actor.Key(), s.tell(tx, env.Now, *k, "taken", m)
	})
}

// replyConsult sends HR's reply to the employee, keeps it (and later the
// answer) in the consultation's confidential record, and notes in the
// HR channel's thread that a reply went out.
func (s *Service) replyConsult(tx mamori.Tx, env Env, actor mamori.User, k *mamori.Case, reply string, clauses []string) (string, error) {
	if k.Decision == nil {
		k.Decision = &mamori.Decision{}
	}
	k.Decision.Questions = append(k.Decision.Questions, mamori.Question{By: actor.Key(), Text: reply, At: env.Now})
	if k.Assignee == "" {
		k.Assignee = actor.Key()
	}
	if k.Status == mamori.StatusOpen || k.Status == mamori.StatusNew || k.Status == "" {
		k.Status = mamori.StatusTaken
	}
	if k.Taken.IsZero() {
		k.Taken = env.Now
	}
	rl := reporterLang(*k)
	t := func(key string) string { return s.Policy.T(rl, key) }
	body := reply
	if len(clauses) > 0 {
		var cited []string
		for _, id := range clauses {
			b, _ := s.Policy.Behaviour(id)
			cited = append(cited, "• "+b.Label.In(rl)+" — "+t("consult.group."+b.Group))
		}
		body += "\n\n*" + t("consult.cited") + "*\n" + strings.Join(cited, "\n")
	}
	dm := mamori.Message{Step: "reply", Header: fmt.Sprintf(t("consult.reply.header"), k.Number), Text: body,
		Choices: []mamori.Choice{{Value: fmt.Sprintf("reply:%s:%d", k.Number, len(k.Decision.Questions)), Label: t("ask.answer"), Style: mamori.StylePrimary}},
		Note:    t("consult.reply.dm_note")}
	if err := noteAsked(tx, *k, env.Now); err != nil {
		return "", err
	}
	if err := s.ackContact(tx, env.Now, actor, *k, true); err != nil {
		return "", err
	}
	if err := s.tell(tx, env.Now, *k, fmt.Sprintf("consult_reply:%d", len(k.Decision.Questions)), dm); err != nil {
		return "", err
	}
	if err := s.threadNote(tx, env, *k, fmt.Sprintf(s.Policy.T(s.orgLang(), "consult.reply.thread"), mention(actor.Key())), "replied"); err != nil {
		return "", err
	}
	return fmt.Sprintf("reply=%d clauses=%s", len(k.Decision.Questions), strings.Join(clauses, ",")), nil
}

// Consultation closing results, as the close form offers them.
const (
	consultResolved = mamori.ConsultResolved
	consultConvert  = mamori.ConsultConverted
)

// closeConsult closes a consultation for HR: resolved, or with the
// employee invited to make it a formal report (their answers carried
// over, nothing to retype). An open "please contact me" task closes with
// it.
func (s *Service) closeConsult(ctx context.Context, actor mamori.User, number, result, note string) (mamori.Message, error) {
	var waiting bool // its contact request is still to do
	m, err := s.act(ctx, actor, number, "consult_close", func(tx mamori.Tx, env Env, k *mamori.Case) (string, error) {
		waiting = false
		if err := s.mayDo(mamori.ConsultClose, *k); err != nil {
			return "", err
		}
		switch {
		case result != consultResolved && result != consultConvert:
			return "", refuse(fieldResult, "judge.pick", mamori.TextKey("consult.close.result"))
		case utf8.RuneCountInString(note) > MaxText:
			return "", refuse(fieldNote, "nav.too_long", MaxText)
		}
		if k.Decision == nil {
			k.Decision = &mamori.Decision{}
		}
		k.Decision.Consultation, k.Decision.By, k.Decision.At = result, actor.Key(), env.Now
		if note != "" {
			k.Decision.Note = strings.TrimSpace(k.Decision.Note + "\n" + note)
		}
		k.Status = mamori.StatusClosed
		if k.Assignee == "" {
			k.Assignee = actor.Key()
		}
		rl := reporterLang(*k)
		t := func(key string) string { return s.Policy.T(rl, key) }
		m := mamori.Message{Header: fmt.Sprintf(t("consult.closed.header"), k.Number), Text: t("consult.closed." + result)}
		if result == consultConvert {
			m.Step = stepMenu
			m.Choices = []mamori.Choice{{Value: "from:" + k.Number, Label: t("consult.to_report"), Style: mamori.StylePrimary}}
		}
		if err := s.tell(tx, env.Now, *k, "closed", m); err != nil {
			return "", err
		}
		if err := s.offerErase(tx, *k, env.Now); err != nil {
			return "", err
		}
		// Its contact request closes with it once a contact was made
		// (a reply, or one HR noted); one without stays open: a call
		// promised must not vanish with the close.
		if c, ok, err := openCareTaskFor(tx, *k); err != nil {
			return "", err
		} else if _, contacts := careEntries(c); ok && len(contacts) == 0 {
			waiting = true
		} else if ok {
			c.Status, c.Updated = mamori.CareClosed, env.Now
			if c.Assignee == "" {
				c.Assignee = actor.Key()
			}
			if err := s.putCareTask(tx, env.Now, c); err != nil {
				return "", err
			}
		}
		return "result=" + result, nil
	})
	if err == nil && waiting {
		// Closed, but the person asked to be contacted: its card stays.
		m.Text = strings.TrimSpace(m.Text + "\n" + s.Policy.T(actor.Lang, "consult.close.contact_waiting"))
	}
	return m, err
}

// threadNote says in case k's card thread that something happened,
// never what was said.
func (s *Service) threadNote(tx mamori.Tx, env Env, k mamori.Case, text, what string) error {
	ol := s.orgLang()
	t := s.channel(k.Reporter.Platform, k.Channel)
	t.Thread = "card:" + k.Number
	note := mamori.Message{Step: mamori.StepCard, Text: text,
		Choices: []mamori.Choice{detailsChoice(s.Policy, ol, k.Number)}}
	return tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":" + what + ":" + k.Number, Target: t, Message: note, Lang: ol, Created: env.Now})
}

// ackContact acknowledges consultation k's open "please contact me"
// task for actor, who took the consultation or replied to it: the desk
// has it, and its reminders no longer ask who will. A reply is a contact
// made, in the chat, and noted on the task as one.
func (s *Service) ackContact(tx mamori.Tx, now time.Time, actor mamori.User, k mamori.Case, replied bool) error {
	c, ok, err := openCareTaskFor(tx, k)
	if err != nil || !ok || c.Reason != mamori.CareReasonContact || c.Status != mamori.CareOpen && !replied {
		return err
	}
	c.Status, c.Updated = mamori.CareAcked, now
	if c.Assignee == "" {
		c.Assignee = actor.Key()
	}
	if replied {
		c.Notes = append(c.Notes, mamori.CareNote{At: now, By: actor.Key(), Text: s.Policy.T(s.orgLang(), "caretask.consult_replied")})
	}
	if err := s.putCareTask(tx, now, c); err != nil {
		return err
	}
	return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "care.ack", Subject: c.Number,
		Detail: fmt.Sprintf("task=%d with=consultation", c.ID)})
}
