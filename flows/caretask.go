package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// Care tasks: a reporter who asked to talk, or who is not fine, is a task
// for HR with a due date. HR acknowledges it, notes the contacts made and
// closes it; an open task is brought up again until it is closed.

const jobCareRemind = "care.task_reminder"

func (c Care) taskDue() time.Duration {
	if c.TaskDue > 0 {
		return c.TaskDue
	}
	return 24 * time.Hour
}

func (c Care) remindEvery() time.Duration {
	if c.RemindEvery > 0 {
		return c.RemindEvery
	}
	return 24 * time.Hour
}

type careRemindPayload struct {
	ID    int64 `json:"id"`
	Round int   `json:"round"`
}

// careSaidFine is what a check-in's "fine" adds to an open task; a task
// is never opened for it.
const careSaidFine = "checkin_fine"

// openCareTaskFor returns the care task still open for case k, if any:
// there is at most one per case (and so per person and case), whatever
// was said when it was opened.
func openCareTaskFor(tx mamori.Tx, k mamori.Case) (mamori.CareTask, bool, error) {
	open, err := tx.CareTasks(true)
	if err != nil {
		return mamori.CareTask{}, false, err
	}
	for _, c := range open {
		if c.Number == k.Number && c.Reporter.Key() == k.Reporter.Key() {
			return c, true, nil
		}
	}
	return mamori.CareTask{}, false, nil
}

// openCareTask opens a care task for case k, or, when one is still open
// for the case, adds what the reporter said to it: one task per person
// and case, one card in the HR channel.
func (s *Service) openCareTask(tx mamori.Tx, now time.Time, k mamori.Case, reason, words string) error {
	if s.Org.HRChannel == "" {
		return nil
	}
	if c, ok, err := openCareTaskFor(tx, k); err != nil || ok {
		if err != nil {
			return err
		}
		return s.addToCareTask(tx, now, c, reason, words)
	}
	due := s.Care.WorkingTime(now.Add(s.Care.taskDue()), s.Location)
	task := mamori.CareTask{Number: k.Number, Reporter: k.Reporter, Reason: reason, Words: words, Status: mamori.CareOpen, Due: due, Created: now}
	id, fresh, err := tx.InsertCareTask(task)
	if err != nil {
		return err
	}
	if !fresh {
		c, err := tx.CareTask(id)
		if err != nil {
			return err
		}
		return s.addToCareTask(tx, now, c, reason, words)
	}
	l := s.orgLang()
	hr := s.channel(k.Reporter.Platform, s.Org.HRChannel)
	key := fmt.Sprintf("care:%d:%s", id, replyKey(mamori.Input{}, 0))
	task.ID = id
	if err := tx.Enqueue(mamori.OutboxItem{Key: key, Target: hr, Message: s.CareCard(task, l), Lang: l, Created: now}); err != nil {
		return err
	}
	p, _ := json.Marshal(careRemindPayload{ID: id, Round: 1})
	if err := tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%d", jobCareRemind, id), Kind: jobCareRemind, Due: due, Payload: p}); err != nil {
		return err
	}
	return tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "care.task_opened", Subject: k.Number, Detail: fmt.Sprintf("task=%d", id)})
}

// addToCareTask records a later answer of the reporter (said: a
// CareReason, or careSaidFine) on their open task: an entry of its own,
// stored encrypted like HR's notes; the card is updated in place and the
// answer said in its thread, so HR reads the whole story in one place.
// Its status, assignee and due date stay: whoever took it goes on.
func (s *Service) addToCareTask(tx mamori.Tx, now time.Time, c mamori.CareTask, said, words string) error {
	c.Notes = append(c.Notes, mamori.CareNote{At: now, By: c.Reporter.Key(), Text: said, Words: words})
	c.Updated = now
	if err := tx.UpdateCareTask(c); err != nil {
		return err
	}
	l := s.orgLang()
	hr := s.channel(c.Reporter.Platform, s.Org.HRChannel)
	if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("care:%d:%s", c.ID, replyKey(mamori.Input{}, 0)), Target: hr,
		Message: s.CareCard(c, l), Lang: l, Created: now}); err != nil {
		return err
	}
	hr.Thread = careRef(c.ID)
	m := mamori.Message{Urgent: wantsTalk(said), Text: fmt.Sprintf(s.Policy.T(l, "caretask.again"), s.Policy.T(l, "caretask.reason."+said))}
	if c.Assignee != "" {
		m.Text += "\n" + fmt.Sprintf(s.Policy.T(l, "caretask.again.assignee"), mention(c.Assignee))
	}
	if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("care:%d:%s", c.ID, replyKey(mamori.Input{}, 1)), Target: hr, Message: m, Lang: l, Created: now}); err != nil {
		return err
	}
	return tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "care.task_added", Subject: c.Number, Detail: fmt.Sprintf("task=%d", c.ID)})
}

// wantsTalk reports whether what was said is a wish to talk.
func wantsTalk(said string) bool {
	return said == mamori.CareReasonTalk || said == mamori.CareReasonCheckTalk
}

// careEntries splits a task's notes into the reporter's later answers
// and HR's contacts.
func careEntries(c mamori.CareTask) (said, contacts []mamori.CareNote) {
	for _, n := range c.Notes {
		if n.By == c.Reporter.Key() {
			said = append(said, n)
		} else {
			contacts = append(contacts, n)
		}
	}
	return said, contacts
}

func careRef(id int64) string { return fmt.Sprintf("care:%d", id) }

// putCareTask stores care task c and updates its card in place.
func (s *Service) putCareTask(tx mamori.Tx, now time.Time, c mamori.CareTask) error {
	if err := tx.UpdateCareTask(c); err != nil {
		return err
	}
	ol := s.orgLang()
	return tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("care:%d:%s", c.ID, replyKey(mamori.Input{}, 0)),
		Target: s.channel(c.Reporter.Platform, s.Org.HRChannel), Message: s.CareCard(c, ol), Lang: ol, Created: now})
}

// careText is the text of key in l for care task c: a consultation's
// "please contact me" has words of its own, for the person who asked a
// question, where they differ (key + ".consult").
func (s *Service) careText(c mamori.CareTask, l mamori.Lang) func(string) string {
	if c.Reason != mamori.CareReasonContact {
		return func(key string) string { return s.Policy.T(l, key) }
	}
	return func(key string) string {
		if v := s.Policy.T(l, key+".consult"); v != key+".consult" {
			return v
		}
		return s.Policy.T(l, key)
	}
}

// CareCard is HR's card for a task: who, which case, what they said, the
// due date and where it stands. The report itself stays behind "view
// details".
func (s *Service) CareCard(c mamori.CareTask, l mamori.Lang) mamori.Message {
	t := s.careText(c, l)
	said, contacts := careEntries(c)
	talk := wantsTalk(c.Reason)
	// What they said: when the task opened, then each later answer, dated.
	// Their own words stay behind details; the card says there are some.
	words := func(w string) string {
		if w == "" {
			return ""
		}
		return t("caretask.words.marker")
	}
	saidText := t("caretask.reason."+c.Reason) + words(c.Words)
	if len(said) > 0 {
		saidText = fmt.Sprintf(t("caretask.said.entry"), s.local(c.Created).Format("2006-01-02"), saidText)
	}
	for _, n := range said {
		talk = talk || wantsTalk(n.Text)
		saidText += "\n" + fmt.Sprintf(t("caretask.said.entry"), s.local(n.At).Format("2006-01-02"), t("caretask.reason."+n.Text)+words(n.Words))
	}
	m := mamori.Message{Ref: careRef(c.ID), Step: mamori.StepCard, Urgent: c.Status == mamori.CareOpen && talk,
		Header: fmt.Sprintf(t("caretask.header"), c.Number),
		Text:   t("caretask.next." + c.Status),
		Fields: []mamori.Field{
			{Label: t("caretask.who"), Value: "<@" + c.Reporter.ID + ">"},
			{Label: t("caretask.case"), Value: c.Number},
			{Label: t("caretask.said"), Value: saidText},
			{Label: t("caretask.due"), Value: s.local(c.Due).Format("2006-01-02 15:04")},
			{Label: t("caretask.status"), Value: t("caretask.status." + c.Status)},
		},
		Note: t("caretask.note")}
	if c.Assignee != "" {
		m.Fields = append(m.Fields, mamori.Field{Label: t("caretask.assignee"), Value: mention(c.Assignee)})
	}
	if n := len(contacts); n > 0 {
		m.Fields = append(m.Fields, mamori.Field{Label: t("caretask.contacts"),
			Value: fmt.Sprintf(t("caretask.contacts.value"), n, s.local(contacts[n-1].At).Format("2006-01-02 15:04"))})
	}
	id := strconv.FormatInt(c.ID, 10)
	b := func(action, label, style string) mamori.Choice {
		return mamori.Choice{Value: action + ":" + id, Label: t(label), Style: style}
	}
	switch c.Status {
	case mamori.CareOpen:
		m.Choices = append(m.Choices, b(mamori.CareAck, "caretask.ack", mamori.StylePrimary))
		fallthrough
	case mamori.CareAcked:
		m.Choices = append(m.Choices, b(mamori.CareNoteAction, "caretask.note_contact", ""), b(mamori.CareCloseTask, "caretask.close", ""))
	}
	m.Choices = append(m.Choices, mamori.Choice{Value: mamori.CardDetails + ":" + c.Number, Label: t("card.details")})
	return m
}

// CareAction is HR acting on care task id: acknowledge it, note a
// contact made (text), or close it (with an optional last note). Only HR
// may; the card is updated in place and the action audited. It returns a
// message for the actor alone.
func (s *Service) careAction(ctx context.Context, actor mamori.User, action, id, note string) (mamori.Message, error) {
	now := s.Clock()
	l := actor.Lang
	if l == "" {
		l = mamori.JA
	}
	t := func(key string) string { return s.Policy.T(l, key) }
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return text(t("caretask.not_found")), fmt.Errorf("care task %q: %w", id, mamori.ErrNotFound)
	}
	note = strings.TrimSpace(note)
	var reply mamori.Message
	var result error
	err = s.Store.Update(ctx, func(tx mamori.Tx) error {
		reply, result = mamori.Message{}, nil
		c, err := tx.CareTask(n)
		if errors.Is(err, mamori.ErrNotFound) {
			reply, result = text(t("caretask.not_found")), err
			return nil
		} else if err != nil {
			return err
		}
		if !s.Org.IsHR(actor) {
			reply, result = text(t("caretask.refused")), mamori.ErrForbidden
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "care.task_refused", Subject: c.Number, Detail: fmt.Sprintf("task=%d", c.ID)})
		}
		switch {
		case c.Status == mamori.CareClosed:
			reply, result = text(t("caretask.already_closed")), mamori.ErrConflict
			return nil
		case action == mamori.CareNoteAction && note == "":
			result = refuse(fieldNote, "caretask.note_empty")
			reply = text(s.say(l, result))
			return nil
		case utf8.RuneCountInString(note) > MaxText:
			result = refuse(fieldNote, "nav.too_long", MaxText)
			reply = text(s.say(l, result))
			return nil
		}
		if again, err := deliveredBefore(ctx, tx, now); again || err != nil {
			reply = text(fmt.Sprintf(t("caretask.done."+action), c.Number))
			return err
		}
		switch action {
		case mamori.CareAck:
			if c.Status == mamori.CareAcked {
				reply, result = text(fmt.Sprintf(t("caretask.already_acked"), mention(c.Assignee))), mamori.ErrConflict
				return nil
			}
			c.Status = mamori.CareAcked
		case mamori.CareNoteAction:
			if c.Status == mamori.CareOpen {
				c.Status = mamori.CareAcked
			}
		case mamori.CareCloseTask:
			c.Status = mamori.CareClosed
		default:
			return fmt.Errorf("care action %q: %w", action, mamori.ErrInvalid)
		}
		if c.Assignee == "" {
			c.Assignee = actor.Key()
		}
		if note != "" {
			c.Notes = append(c.Notes, mamori.CareNote{At: now, By: actor.Key(), Text: note})
		}
		c.Updated = now
		if err := s.putCareTask(tx, now, c); err != nil {
			return err
		}
		reply = text(fmt.Sprintf(t("caretask.done."+action), c.Number))
		return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "care." + strings.TrimPrefix(action, "care_"),
			Subject: c.Number, Detail: fmt.Sprintf("task=%d", c.ID)})
	})
	if err != nil {
		return text(t("error")), fmt.Errorf("care %s: %w", action, err)
	}
	if s.Kick != nil {
		s.Kick()
	}
	return reply, result
}

// runCareRemind brings an open care task up again in its thread, and
// schedules the next reminder, until it is closed.
func (s *Service) runCareRemind(tx mamori.Tx, j mamori.Job, now time.Time) error {
	var p careRemindPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	c, err := tx.CareTask(p.ID)
	if errors.Is(err, mamori.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if c.Status == mamori.CareClosed {
		return nil
	}
	if w := s.Care.WorkingTime(now, s.Location); w.After(now) {
		return tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%d:%d:later:%d", jobCareRemind, c.ID, p.Round, w.Unix()), Kind: jobCareRemind, Due: w, Payload: j.Payload})
	}
	l := s.orgLang()
	who := s.Policy.T(l, "caretask.remind.nobody")
	if c.Assignee != "" {
		who = mention(c.Assignee)
	}
	hr := s.channel(c.Reporter.Platform, s.Org.HRChannel)
	hr.Thread = careRef(c.ID)
	t := s.careText(c, l)
	m := mamori.Message{Urgent: c.Status == mamori.CareOpen, Header: fmt.Sprintf(t("caretask.header"), c.Number),
		Text: fmt.Sprintf(t("caretask.remind."+c.Status), c.Number, s.local(c.Due).Format("2006-01-02 15:04"), who)}
	if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("job:%d", j.ID), Target: hr, Message: m, Lang: l, Created: now}); err != nil {
		return err
	}
	next, _ := json.Marshal(careRemindPayload{ID: c.ID, Round: p.Round + 1})
	if err := tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%d:%d", jobCareRemind, c.ID, p.Round+1), Kind: jobCareRemind,
		Due: s.Care.WorkingTime(now.Add(s.Care.remindEvery()), s.Location), Payload: next}); err != nil {
		return err
	}
	return tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: jobCareRemind, Subject: c.Number, Detail: fmt.Sprintf("task=%d round=%d status=%s", c.ID, p.Round, c.Status)})
}

// hrRecords are HR's records on case k, shown to HR in its details: each
// contact noted on its care tasks, and the reason of a legal hold.
func (s *Service) hrRecords(tx mamori.Tx, k mamori.Case, l mamori.Lang) ([]mamori.Field, error) {
	t := func(key string) string { return s.Policy.T(l, key) }
	at := func(x time.Time) string { return s.local(x).Format("2006-01-02 15:04") }
	var fs []mamori.Field
	tasks, err := tx.CareTasks(false)
	if err != nil {
		return nil, err
	}
	for _, c := range tasks {
		if c.Number != k.Number {
			continue
		}
		said, contacts := careEntries(c)
		// What they said in their own words, with the answers they gave.
		if c.Words != "" {
			fs = append(fs, mamori.Field{Label: fmt.Sprintf(t("caretask.words.at"), at(c.Created)), Value: c.Words})
		}
		for _, n := range said {
			if n.Words != "" {
				fs = append(fs, mamori.Field{Label: fmt.Sprintf(t("caretask.words.at"), at(n.At)), Value: n.Words})
			}
		}
		for _, n := range contacts {
			fs = append(fs, mamori.Field{Label: fmt.Sprintf(t("caretask.contact.at"), at(n.At), mention(n.By)), Value: n.Text})
		}
	}
	if k.Decision.Held() {
		h := k.Decision.Hold
		fs = append(fs, mamori.Field{Label: fmt.Sprintf(t("details.hold"), at(h.At), mention(h.By)), Value: h.Reason})
	}
	return fs, nil
}
