package flows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
)

// Handle applies one user input. When it returns nil, the state change and
// every message it caused are committed; the caller may acknowledge. It
// returns mamori.ErrStale, also committed, for a click on an earlier
// question: the user was shown the current one.
func (s *Service) Handle(ctx context.Context, in mamori.Input) error {
	now := s.Clock()
	if in.User.ID == "" || in.User.Platform == "" {
		return fmt.Errorf("handle: no user: %w", mamori.ErrInvalid)
	}
	if in.User.Lang == "" {
		in.User.Lang = mamori.JA
	}
	if done, err := s.trainingDone(ctx, in); done {
		if err != nil {
			return fmt.Errorf("handle %s: %w", in.Kind, err)
		}
		return nil
	}
	key := in.User.Key()
	stale := false
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		stale = false
		if in.Delivery != "" {
			fresh, err := tx.Seen(in.Delivery, now)
			if err != nil || !fresh {
				return err // a retried delivery: already answered
			}
		}
		c, err := tx.Conversation(key)
		if errors.Is(err, mamori.ErrNotFound) {
			c = mamori.Conversation{}
		} else if err != nil {
			return err
		}
		env := s.env(now)
		env.Location = s.Location
		// Words that answer a waiting check-in (Step) need its case and, for
		// "talk", by when HR calls; nothing else typed reads them.
		checkinTyped := false
		if in.Kind == mamori.InputText && c.Checkin != "" {
			a, _ := checkinWord(s.Policy, in.Text)
			checkinTyped = a != "" || checkinSentence(env, c, strings.TrimSpace(in.Text))
		}
		if _, answer, ok := checkinClick(in); ok && answer == checkinTalk || checkinTyped {
			env.TalkBy = s.when(s.Care.WorkingTime(now.Add(s.Care.taskDue()), s.Location), in.User.Lang)
		}
		if c.Flow != "" && c.Step != stepDone && (in.Kind == mamori.InputText || in.Kind == mamori.InputFile) {
			// Typed text may only answer a question the person has seen:
			// the one they are at went out with their last step.
			pending, err := tx.OutboxPending(mamori.Target{Platform: in.User.Platform, Kind: mamori.TargetUser, ID: in.User.ID}, c.Updated)
			if err != nil {
				return err
			}
			env.Unshown = pending
		}
		if in.Kind == mamori.InputText && !inFlow(c) && c.Reply == "" && c.Witness == "" && !c.Check && c.SOS == "" &&
			worthKeeping(strings.TrimSpace(in.Text)) {
			// Typed at the menu: is a question to them waiting?
			if env.Awaiting, env.AwaitingAt, err = awaiting(tx, key); err != nil {
				return err
			}
		}
		if checkinTyped {
			if k, err := tx.Case(c.Checkin); err == nil {
				env.Consultation = &k
			} else if !errors.Is(err, mamori.ErrNotFound) {
				return err
			}
		}
		if number, ok := caseClick(in); ok {
			k, err := tx.Case(number)
			if err == nil {
				env.Consultation = &k
			} else if !errors.Is(err, mamori.ErrNotFound) {
				return err
			}
		}
		wasFlow := c.Flow
		nc, out := Step(env, c, in)
		stale = out.Stale
		replies := out.Replies
		target := mamori.Target{Platform: in.User.Platform, Kind: mamori.TargetUser, ID: in.User.ID}
		n := 0
		enqueue := func(t mamori.Target, m mamori.Message, l mamori.Lang) error {
			n++
			return tx.Enqueue(mamori.OutboxItem{Key: replyKey(in, n), Target: t, Message: m, Lang: l, Created: now})
		}
		if o := out.SOS; o != nil {
			more, err := s.sos(tx, env, &nc, *o)
			if err != nil {
				return err
			}
			replies = append(more, replies...)
		}
		if out.Submit != "" {
			k, err := s.file(tx, env, nc)
			if err != nil {
				return err
			}
			if err := s.indexCustomer(tx, k); err != nil {
				return err
			}
			replies = append(replies, s.Submitted(env, k, nc.User.Lang)...)
			card, err := s.card(tx, env, k, s.orgLang())
			if err != nil {
				return err
			}
			if err := tx.Enqueue(mamori.OutboxItem{Key: "card:" + k.Number, Target: s.channel(in.User.Platform, k.Channel), Message: card, Lang: s.orgLang(), Created: now}); err != nil {
				return err
			}
			if k.Kind == mamori.KindReport && k.Answers.Talk == "yes" {
				err = s.openCareTask(tx, now, k, mamori.CareReasonTalk, "")
			} else if k.Kind == mamori.KindReport && k.Answers.Wellbeing == "very_hard" {
				err = s.openCareTask(tx, now, k, mamori.CareReasonVeryHard, "")
			} else if k.Kind == mamori.KindConsult && k.Answers.Contact == "yes" {
				// "Please contact me" is tracked like a care task: due
				// by a time, reminded until HR acts.
				err = s.openCareTask(tx, now, k, mamori.CareReasonContact, "")
			}
			if err != nil {
				return err
			}
			out.End = true
		}
		if r := out.Reply; r != nil {
			if err := s.reply(tx, now, nc.User, r); err != nil {
				return err
			}
		}
		if w := out.Witness; w != nil {
			if err := s.witnessStatement(tx, now, nc.User, w); err != nil {
				return err
			}
		}
		if c := out.Checkin; c != nil {
			if err := s.checkedIn(tx, now, nc.User, c); err != nil {
				return err
			}
		}
		if typed := out.Check; typed != nil {
			answer, err := s.check(tx, now, nc.User, *typed)
			if err != nil {
				return err
			}
			replies = append(answer, replies...)
		}
		for _, m := range compact(replies) {
			m.Respond = in.Respond
			if err := enqueue(target, m, nc.User.Lang); err != nil {
				return err
			}
		}
		if out.Audit != "" {
			if err := tx.Audit(mamori.AuditEntry{At: now, Actor: key, Action: out.Audit, Subject: key}); err != nil {
				return err
			}
		}
		// The reminder to come back: scheduled once when a report starts;
		// each step after that leaves it as it is, and when it falls due
		// it moves itself to a day after the last step (see RunJob). So a
		// step costs no job writes.
		cancelRemind := func() error { return tx.CancelJobs(jobRemind + ":" + key) }
		if out.End && (nc.SOS != "" || nc.Checkin != "" || nc.ReplyDraft != "") {
			// A report filed or cancelled during an SOS: the SOS stays;
			// so do a check-in waiting and words kept to answer a case.
			started, updated := nc.Started, nc.Updated
			nc = fresh(env, nc)
			nc.Step, nc.Started, nc.Updated = stepMenu, started, updated
		} else if out.End || (wasFlow == "" && nc.Step == stepMenu && holdsNothing(nc)) {
			// Nothing worth keeping: a finished or cancelled report, or
			// someone who only looked at the menu (and typed nothing to
			// keep).
			if err := tx.DeleteConversation(key); err != nil && !errors.Is(err, mamori.ErrNotFound) {
				return err
			}
			return cancelRemind()
		}
		if nc.Step == "" && holdsNothing(nc) {
			if err := tx.DeleteConversation(key); err != nil {
				return err
			}
			return cancelRemind()
		}
		if out.Paused || nc.Flow != "" {
			// One is pending unless the report starts now or comes back
			// after the reminder was sent.
			if wasFlow == "" || c.Step == stepResume {
				if err := s.scheduleRemind(tx, nc.User, now); err != nil {
					return err
				}
			}
		} else if err := cancelRemind(); err != nil {
			return err
		}
		// Kept only for what they typed at the menu: cleared after a
		// while (Retention.Drafts), as nothing else would.
		if draftOnly(nc) {
			if err := s.scheduleDraftExpiry(tx, nc.User, now); err != nil {
				return err
			}
		}
		return tx.PutConversation(nc)
	})
	if err != nil {
		s.failures.Add(1)
		return fmt.Errorf("handle %s: %w", in.Kind, err)
	}
	if s.Kick != nil {
		s.Kick()
	}
	if stale {
		return fmt.Errorf("handle %s: %w", in.Kind, mamori.ErrStale)
	}
	return nil
}

// caseClick returns the case a click names: "from:N" (turn a
// consultation into a report) or "reply:N" (answer a question).
func caseClick(in mamori.Input) (string, bool) {
	if in.Kind != mamori.InputChoice {
		return "", false
	}
	if n, _, ok := checkinClick(in); ok {
		return n, true
	}
	if _, n, ok := sosClick(in); ok {
		return n, true
	}
	if n, _, ok := replyClick(in); ok {
		return n, true
	}
	for _, p := range []string{"from:", aboutPrefix, replyDraftPrefix, witnessPrefix} {
		if n, ok := strings.CutPrefix(in.Value, p); ok {
			return n, true
		}
	}
	return "", false
}

// replyClick reads an "Answer" button: "reply:<number>:<question>", or
// "reply:<number>" on buttons sent before questions were numbered.
func replyClick(in mamori.Input) (number string, question int, ok bool) {
	rest, ok := strings.CutPrefix(in.Value, "reply:")
	if !ok || in.Kind != mamori.InputChoice || rest == "" {
		return "", 0, false
	}
	if i := strings.LastIndex(rest, ":"); i > 0 {
		if q, err := strconv.Atoi(rest[i+1:]); err == nil && q > 0 {
			return rest[:i], q, true
		}
	}
	return rest, 0, true
}

// reminder is the gentle reminder about a report (or a question for HR)
// left unfinished: which one, how far it got, and continue or delete.
func (s *Service) reminder(c mamori.Conversation, now time.Time) mamori.Message {
	l := c.User.Lang
	t := s.Policy.T
	env := s.env(now)
	step := c.Step
	if step == stepResume && len(c.History) > 0 {
		step = c.History[len(c.History)-1]
	}
	c.Step = step
	n, total := progress(env, c)
	m := mamori.Message{Step: stepResume,
		Text: fmt.Sprintf(t(l, "remind.text."+c.Flow), showDate(s.local(c.Started).Format(dateLayout), l)),
		Choices: []mamori.Choice{
			{Value: "continue", Label: t(l, "resume.continue"), Style: mamori.StylePrimary},
			{Value: "delete", Label: t(l, "resume.delete"), Style: mamori.StyleDanger},
		}}
	if n > 0 {
		m.Note = fmt.Sprintf(t(l, "remind.progress"), n-1, total)
	}
	return m
}

// compact folds each plain line of text (a greeting, "saved", a hint)
// into the question after it, so a step reaches the person as one message:
// one post, quicker on screen and within a platform's per-conversation
// pace.
func compact(ms []mamori.Message) []mamori.Message {
	out := make([]mamori.Message, 0, len(ms))
	var carry string
	for _, m := range ms {
		plain := m.Text != "" && m.Header == "" && len(m.Fields) == 0 && len(m.Choices) == 0 && m.Multi == nil &&
			m.Prompt == "" && len(m.Controls) == 0 && m.Note == "" && !m.Urgent && m.Image == nil && m.Ref == "" && m.Step == ""
		if carry != "" {
			if m.Step != "" && m.Image == nil && !m.Urgent {
				m.Text = carry + "\n\n" + m.Text
				m.Text = strings.TrimSuffix(m.Text, "\n\n")
				carry = ""
			} else {
				out = append(out, mamori.Message{Text: carry})
				carry = ""
			}
		}
		if plain {
			carry = m.Text
			continue
		}
		out = append(out, m)
	}
	if carry != "" {
		out = append(out, mamori.Message{Text: carry})
	}
	return out
}

// holdsNothing reports whether conversation c, outside a report or a
// consultation, keeps nothing for later: no answer awaited, no SOS, no
// check, no check-in waiting, nothing typed to keep.
func holdsNothing(c mamori.Conversation) bool {
	return c.Flow == "" && c.Reply == "" && c.Witness == "" && c.SOS == "" && !c.Check && c.Draft == "" && c.ReplyDraft == "" && c.Checkin == ""
}

// replyDraftPrefix is the click that sends what was typed at the menu as
// the answer to a case's open question.
const replyDraftPrefix = "replydraft:"

// noteAsked notes in the reporter's conversation, when they are writing
// a report or a question, that case k has just asked them something: what
// they type next may answer either, and they are asked which (Step).
func noteAsked(tx mamori.Tx, k mamori.Case, now time.Time) error {
	c, err := tx.Conversation(k.Reporter.Key())
	if errors.Is(err, mamori.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !inFlow(c) {
		return nil // at the menu, the host looks (awaiting)
	}
	c.Asked, c.AskedAt = k.Number, now
	return tx.PutConversation(c)
}

// awaiting is the number of the case of the person (user key) whose
// newest question to them is still unanswered, or "".
func awaiting(tx mamori.Tx, key string) (string, time.Time, error) {
	cases, err := tx.CasesOf(key)
	if err != nil {
		return "", time.Time{}, err
	}
	number, at := "", time.Time{}
	for _, k := range cases {
		if k.Purged() || k.Decision == nil || k.Status == mamori.StatusClosed {
			continue
		}
		for _, q := range k.Decision.Questions {
			if q.Answer == "" && q.Text != "" && q.At.After(at) {
				number, at = k.Number, q.At
			}
		}
	}
	return number, at, nil
}
