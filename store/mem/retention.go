package mem

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mamori-oss/mamori"
)

// Retention (issue 15), as the SQL stores do it: a case becomes its
// tombstone in place, its care tasks are emptied, and what the outbox
// still holds of it goes.

func (t *tx) PurgeCase(c mamori.Case) error {
	what := "purge case " + c.Number
	if err := t.writable(what, tCases|tCare|tOutKeys|tPosted); err != nil {
		return err
	}
	r, ok := t.s.cases[c.Number]
	if !ok {
		return fmt.Errorf("%s: %w", what, mamori.ErrNotFound)
	}
	reporter, err := mustJSON(c.Reporter)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	answers, err := mustJSON(c.Answers)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	r.decision = nil
	if c.Decision != nil {
		if r.decision, err = mustJSON(c.Decision); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	r.reporterKey, r.reporter, r.answers, r.assignee = mamori.PurgedKey(c.Number), reporter, answers, ""
	t.s.cases[c.Number] = r
	for id, cr := range t.s.care {
		if cr.number == c.Number {
			if err := t.PurgeCareTask(id); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
	}
	t.purgeOutbox(c.Number, func(key string) bool { return mamori.NamesCase(key, c.Number) })
	return nil
}

func (t *tx) PurgeCareTask(id int64) error {
	what := fmt.Sprintf("purge care task %d", id)
	if err := t.writable(what, tCare|tOutKeys|tPosted); err != nil {
		return err
	}
	r, ok := t.s.care[id]
	if !ok {
		return fmt.Errorf("%s: %w", what, mamori.ErrNotFound)
	}
	for k, open := range t.s.careOpen {
		if open == id {
			delete(t.s.careOpen, k)
		}
	}
	var err error
	if r.reporter, err = mustJSON(mamori.User{}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if r.sealed, err = mustJSON(careSealed{}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	r.status = mamori.CareClosed
	t.s.care[id] = r
	ref := "care:" + strconv.FormatInt(id, 10)
	t.purgeOutbox(ref, func(key string) bool { return key == ref || strings.HasPrefix(key, ref+":") })
	return nil
}

// purgeOutbox deletes the sent and failed items whose key names (by
// names) a case or a care task, the failed ones whose message mentions
// it, and where the messages with such a Ref were posted. A deleted
// item leaves an empty row behind: the ids are a vec.
func (t *tx) purgeOutbox(name string, names func(string) bool) {
	var gone []int64
	t.s.outbox.all(func(id int64, r outRow) bool {
		switch {
		case r.status == mamori.OutboxSent && names(r.key),
			r.status == mamori.OutboxFailed && (names(r.key) || mamori.Mentions(string(r.message), name)):
			gone = append(gone, id)
		}
		return true
	})
	for _, id := range gone {
		t.dropOutbox(id)
	}
	for ref := range t.s.posted {
		if names(ref) {
			delete(t.s.posted, ref)
		}
	}
}

// dropOutbox empties outbox row id, which is sent or failed (never
// pending), and forgets its key.
func (t *tx) dropOutbox(id int64) {
	r, _ := t.s.outbox.get(id)
	if t.s.outKeys[r.key] == id {
		delete(t.s.outKeys, r.key)
	}
	t.s.outbox.set(id, outRow{id: id})
}
