package sqlrow

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/mamori-oss/mamori"
)

// Retention (issue 15): a case past its rule becomes a tombstone in
// place, never a deleted row (the cases table refuses deletes); what it
// said goes, with the copies of it the outbox still holds.

// PurgeCase keeps c, a case's tombstone, in place of the case; see
// mamori.Tx.
func (t *Tx) PurgeCase(c mamori.Case) error {
	what := "purge case " + c.Number
	reporter, err := json.Marshal(c.Reporter)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	answers, err := SealJSON(t.Sealer, c.Answers, CaseAAD(c.Number))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var decision []byte
	if c.Decision != nil {
		if decision, err = SealJSON(t.Sealer, c.Decision, DecisionAAD(c.Number)); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := t.update(what, `UPDATE cases SET reporter_key = ?, reporter = ?, sealed_answers = ?, sealed_decision = ?,
		assignee = '' WHERE number = ?`, mamori.PurgedKey(c.Number), string(reporter), answers, decision, c.Number); err != nil {
		return err
	}
	tasks, err := All(t, `SELECT id FROM care_tasks WHERE number = ?`, []any{c.Number}, One[int64])
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for _, id := range tasks {
		if err := t.PurgeCareTask(id); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := t.purgeOutbox(c.Number, func(key string) bool { return mamori.NamesCase(key, c.Number) }); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// PurgeCareTask closes care task id and empties it; see mamori.Tx.
func (t *Tx) PurgeCareTask(id int64) error {
	what := fmt.Sprintf("purge care task %d", id)
	sealed, err := SealJSON(t.Sealer, CareSealed{}, CareAAD(id))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	reporter, err := json.Marshal(mamori.User{})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := t.update(what, `UPDATE care_tasks SET reporter = ?, status = 'closed', open_key = NULL, sealed_care = ?
		WHERE id = ?`, string(reporter), sealed, id); err != nil {
		return err
	}
	ref := CareRef(id)
	if err := t.purgeOutbox(ref, func(key string) bool { return key == ref || strings.HasPrefix(key, ref+":") }); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// purgeOutbox deletes the outbox items, sent or failed, whose key names
// (by names) what a case or care task is called, and the places messages
// with such a Ref were posted. A failed item whose key does not name it
// (a deadline's "job:<id>") is looked into: those are few, and kept until
// their case goes. Pending items stay: they go out first, and are pruned
// once sent.
func (t *Tx) purgeOutbox(name string, names func(key string) bool) error {
	type row struct {
		id      int64
		key     string
		status  string
		message []byte
	}
	rows, err := All(t, `SELECT id, key, status, sealed_message FROM outbox
		WHERE status = 'failed' OR (status = 'sent' AND key LIKE ?)`, []any{"%" + name + "%"},
		func(s Scanner) (row, error) {
			var r row
			return r, s.Scan(&r.id, &r.key, &r.status, &r.message)
		})
	if err != nil {
		return err
	}
	var ids []int64
	for _, r := range rows {
		if names(r.key) {
			ids = append(ids, r.id)
			continue
		}
		if r.status != mamori.OutboxFailed {
			continue
		}
		// An item that cannot be read (another key, damaged) is left to
		// the operator.
		if b, err := t.Sealer.Open(r.message, OutboxAAD(r.key)); err == nil && mamori.Mentions(string(b), name) {
			ids = append(ids, r.id)
		}
	}
	if err := t.execIDs(`DELETE FROM outbox`, ids); err != nil {
		return err
	}
	refs, err := All(t, `SELECT ref FROM posted_refs WHERE ref LIKE ?`, []any{"%" + name + "%"}, One[string])
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if !names(ref) {
			continue
		}
		if _, err := t.exec(`DELETE FROM posted_refs WHERE ref = ?`, ref); err != nil {
			return err
		}
	}
	return nil
}

// CareRef is the Ref of care task id's card, and the beginning of the
// keys of the messages about it.
func CareRef(id int64) string { return "care:" + strconv.FormatInt(id, 10) }
