package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/mamori-oss/mamori"
)

// ErrAuditBroken is returned by VerifyAudit when the audit chain does not
// hold: a row was altered, removed or inserted out of band.
var ErrAuditBroken = errors.New("audit chain broken")

// auditRow is an audit entry as stored.
type auditRow struct {
	ID      int64
	At      int64 // unix milliseconds
	Actor   string
	Action  string
	Subject string
	Detail  string
	Prev    string // hash of the row before, "" for the first
}

// hash returns the row's chain hash, in hex, exactly as the SQLite
// backend computes it:
//
//	sha256("mamori-audit-v1" | prev | id | at | actor | action | subject | detail)
//
// where every string is preceded by its length and every number is
// 8 bytes, all big-endian, so no two rows encode alike.
func (r auditRow) hash() string {
	h := sha256.New()
	str := func(s string) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	num := func(n int64) { h.Write(binary.BigEndian.AppendUint64(nil, uint64(n))) }
	str("mamori-audit-v1")
	str(r.Prev)
	num(r.ID)
	num(r.At)
	str(r.Actor)
	str(r.Action)
	str(r.Subject)
	str(r.Detail)
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyAudit walks the audit chain from its first row and returns how
// many rows hold. At the first broken row it stops with an error wrapping
// ErrAuditBroken that names the row.
//
// The chain shows rows changed or removed inside it; removing rows at its
// end, or rewriting the whole chain, needs an outside copy of the latest
// hash to detect.
func (db *DB) VerifyAudit(ctx context.Context) (n int, err error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev := ""
	var lastID int64
	for rows.Next() {
		var (
			r    auditRow
			hash string
		)
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.Action, &r.Subject, &r.Detail, &r.Prev, &hash); err != nil {
			return n, fmt.Errorf("verify audit: %w", err)
		}
		switch {
		case r.ID != lastID+1:
			return n, fmt.Errorf("audit row %d: follows row %d: %w", r.ID, lastID, ErrAuditBroken)
		case r.Prev != prev:
			return n, fmt.Errorf("audit row %d: does not follow the row before: %w", r.ID, ErrAuditBroken)
		case r.hash() != hash:
			return n, fmt.Errorf("audit row %d: altered: %w", r.ID, ErrAuditBroken)
		}
		prev, lastID = hash, r.ID
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("verify audit: %w", err)
	}
	return n, nil
}

// AuditTrail returns the audit entries about subject, oldest first.
func (db *DB) AuditTrail(ctx context.Context, subject string) ([]mamori.AuditEntry, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT at, actor, action, subject, detail FROM audit WHERE subject = $1 ORDER BY id`, subject)
	if err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	defer rows.Close()
	var entries []mamori.AuditEntry
	for rows.Next() {
		var (
			e  mamori.AuditEntry
			at int64
		)
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, fmt.Errorf("audit trail: %w", err)
		}
		e.At = fromMillis(at)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	return entries, nil
}
