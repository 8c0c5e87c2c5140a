// Package audit is the hash chain of Mamori's append-only audit trail,
// shared by every SQL store so that each computes and checks it alike.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/mamori-oss/mamori"
)

// ErrBroken is returned by Verify when the chain does not hold: a row was
// altered, removed or inserted out of band.
var ErrBroken = errors.New("audit chain broken")

// Row is an audit entry as stored.
type Row struct {
	ID      int64
	At      int64 // unix milliseconds
	Actor   string
	Action  string
	Subject string
	Detail  string
	Prev    string // hash of the row before, "" for the first
}

// Hash returns the row's chain hash, in hex:
//
//	sha256("mamori-audit-v1" | prev | id | at | actor | action | subject | detail)
//
// where every string is preceded by its length and every number is
// 8 bytes, all big-endian, so no two rows encode alike.
func (r Row) Hash() string {
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

// Verify walks the chain in table audit from its first row and returns
// how many rows hold. At the first broken row it stops with an error
// wrapping ErrBroken that names the row.
//
// The chain shows rows changed or removed inside it; removing rows at its
// end, or rewriting the whole chain, needs an outside copy of the latest
// hash to detect.
func Verify(ctx context.Context, db *sql.DB) (n int, err error) {
	rows, err := db.QueryContext(ctx, `SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev := ""
	var lastID int64
	for rows.Next() {
		var (
			r    Row
			hash string
		)
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.Action, &r.Subject, &r.Detail, &r.Prev, &hash); err != nil {
			return n, fmt.Errorf("verify audit: %w", err)
		}
		switch {
		case r.ID != lastID+1:
			return n, fmt.Errorf("audit row %d: follows row %d: %w", r.ID, lastID, ErrBroken)
		case r.Prev != prev:
			return n, fmt.Errorf("audit row %d: does not follow the row before: %w", r.ID, ErrBroken)
		case r.Hash() != hash:
			return n, fmt.Errorf("audit row %d: altered: %w", r.ID, ErrBroken)
		}
		prev, lastID = hash, r.ID
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("verify audit: %w", err)
	}
	return n, nil
}

// Trail returns the entries about subject, oldest first. query selects
// at, actor, action, subject and detail for the subject given as its one
// argument, in the backend's placeholder style.
func Trail(ctx context.Context, db *sql.DB, query, subject string) ([]mamori.AuditEntry, error) {
	rows, err := db.QueryContext(ctx, query, subject)
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
		e.At = time.UnixMilli(at).UTC()
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	return entries, nil
}
