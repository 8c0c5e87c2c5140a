// Package audit is the keyed hash chain of Mamori's append-only audit
// trail, shared by every SQL store so that each computes and checks it
// alike, and the checkpoints that pin the chain's head outside the
// database.
//
// Each row's hash covers the row before's hash and its own fields. Since
// issue 15 the hash is an HMAC whose key is derived from the encryption
// key (Key), never stored in the database: someone holding only the
// database file can no longer rewrite a row and recompute the rest of the
// chain. Rows written before that keep their plain SHA-256 hash and are
// checked as such; the first keyed row of such a trail is an ActionKeyed
// entry, and no unkeyed row may follow a keyed one.
//
// The chain alone cannot show rows cut from its end, or a whole trail
// replaced by an older copy: a checkpoint (the head's sequence number and
// hash, kept by the operator and posted to HR) can.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/seal"
)

// ErrBroken is returned by Verify and Check when the trail does not hold:
// a row was altered, removed or inserted out of band, the trail is shorter
// than or differs from a checkpoint, or a case lacks its entry.
var ErrBroken = errors.New("audit chain broken")

// ActionKeyed is the action of the entry a store appends, on opening a
// trail whose newest row is not keyed, from which the chain is keyed.
const ActionKeyed = "audit.keyed"

// keyedPrefix marks a keyed hash in the hash column. Unkeyed (older)
// hashes are bare hex.
const keyedPrefix = "k1:"

// purpose names the audit chain's key among the keys derived from the
// encryption key.
const purpose = "mamori audit chain v1"

// Key returns the audit chain's HMAC key, derived from the encryption key
// s seals with. It is never stored: whoever has the key file or
// MAMORI_ENCRYPTION_KEY can recompute the chain, nobody else.
func Key(s *seal.Sealer) []byte { return s.Derive(purpose) }

// Querier reads: a *sql.DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

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

// Hash returns the row's unkeyed chain hash, in hex, as rows were hashed
// before the chain was keyed (and as the in-memory store still does):
//
//	sha256("mamori-audit-v1" | prev | id | at | actor | action | subject | detail)
//
// where every string is preceded by its length and every number is
// 8 bytes, all big-endian, so no two rows encode alike.
func (r Row) Hash() string {
	h := sha256.New()
	r.write(h, "mamori-audit-v1")
	return hex.EncodeToString(h.Sum(nil))
}

// MAC returns the row's keyed chain hash, as stored: "k1:" and, in hex,
//
//	HMAC-SHA256(key, "mamori-audit-v2" | prev | id | at | actor | action | subject | detail)
//
// encoded as for Hash.
func (r Row) MAC(key []byte) string {
	h := hmac.New(sha256.New, key)
	r.write(h, "mamori-audit-v2")
	return keyedPrefix + hex.EncodeToString(h.Sum(nil))
}

func (r Row) write(h hash.Hash, label string) {
	str := func(s string) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	num := func(n int64) { h.Write(binary.BigEndian.AppendUint64(nil, uint64(n))) }
	str(label)
	str(r.Prev)
	num(r.ID)
	num(r.At)
	str(r.Actor)
	str(r.Action)
	str(r.Subject)
	str(r.Detail)
}

// IsKeyed reports whether a stored hash is keyed (made by MAC).
func IsKeyed(hash string) bool { return strings.HasPrefix(hash, keyedPrefix) }

// Checkpoint is the head of the trail at one moment: its newest entry's
// sequence number (the row id) and hash. Kept outside the database, it
// shows entries cut from the end of the trail, or a trail rewritten.
type Checkpoint struct {
	Seq  int64
	Hash string // as stored ("k1:…"); "" for an empty trail
}

// checkpointPrefix begins a checkpoint's compact form.
const checkpointPrefix = "mamori-audit:v1:"

// emptyHash stands for the hash of an empty trail's head.
var emptyHash = strings.Repeat("0", 64)

// String returns the checkpoint's compact form, one line with no spaces:
//
//	mamori-audit:v1:<seq>:<hash in hex>
func (c Checkpoint) String() string {
	h := strings.TrimPrefix(c.Hash, keyedPrefix)
	if c.Seq == 0 {
		h = emptyHash
	}
	return checkpointPrefix + strconv.FormatInt(c.Seq, 10) + ":" + h
}

var checkpointRE = regexp.MustCompile(`mamori-audit:v1:[0-9]+:[0-9a-fA-F]{64}`)

// ParseCheckpoint parses a checkpoint's compact form (see String).
func ParseCheckpoint(s string) (Checkpoint, error) {
	s = strings.TrimSpace(s)
	if !checkpointRE.MatchString(s) || checkpointRE.FindString(s) != s {
		return Checkpoint{}, fmt.Errorf("not an audit checkpoint (want mamori-audit:v1:<seq>:<64 hex digits>): %.80q", s)
	}
	rest := strings.TrimPrefix(s, checkpointPrefix)
	i := strings.IndexByte(rest, ':')
	seq, err := strconv.ParseInt(rest[:i], 10, 64)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint %.80q: sequence number: %w", s, err)
	}
	c := Checkpoint{Seq: seq, Hash: keyedPrefix + strings.ToLower(rest[i+1:])}
	if seq == 0 {
		c.Hash = ""
	}
	return c, nil
}

// FindCheckpoints returns every checkpoint in text, in order: a file the
// operator appends one to each day, or a message copied from the HR
// channel.
func FindCheckpoints(text string) []Checkpoint {
	var cps []Checkpoint
	for _, s := range checkpointRE.FindAllString(text, -1) {
		if c, err := ParseCheckpoint(s); err == nil {
			cps = append(cps, c)
		}
	}
	return cps
}

// Result is what Verify and Check found.
type Result struct {
	// Entries is how many entries hold: the whole trail when there is
	// no error, those before the break otherwise.
	Entries int64
	// Unkeyed is how many of them, the oldest, were hashed before the
	// chain was keyed.
	Unkeyed int64
	// Head is the newest entry that holds.
	Head Checkpoint
	// Checkpoints is how many checkpoints the trail matches (Check).
	Checkpoints int
	// Cases is how many cases have their submission entry (Check).
	Cases int
}

// Verify walks the chain in table audit from its first row. At the first
// broken row it stops with an error wrapping ErrBroken that names the
// row. key is the chain's key (Key): a keyed row must carry its MAC; an
// unkeyed row is accepted only before the first keyed one; a trail with
// rows and no keyed row was written again without the key, since every
// store keys the trail it opens.
func Verify(ctx context.Context, q Querier, key []byte) (Result, error) {
	return walk(ctx, q, key, nil)
}

// walk is Verify, noting in at the hash of the rows whose ids it holds.
func walk(ctx context.Context, q Querier, key []byte, at map[int64]string) (res Result, err error) {
	rows, err := q.QueryContext(ctx, `SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY id`)
	if err != nil {
		return res, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev := ""
	keyed := false
	for rows.Next() {
		var (
			r Row
			h string
		)
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.Action, &r.Subject, &r.Detail, &r.Prev, &h); err != nil {
			return res, fmt.Errorf("verify audit: %w", err)
		}
		switch {
		case r.ID != res.Head.Seq+1:
			return res, fmt.Errorf("audit row %d: follows row %d: %w", r.ID, res.Head.Seq, ErrBroken)
		case r.Prev != prev:
			return res, fmt.Errorf("audit row %d: does not follow the row before: %w", r.ID, ErrBroken)
		case IsKeyed(h):
			if !hmac.Equal([]byte(r.MAC(key)), []byte(h)) {
				return res, fmt.Errorf("audit row %d: altered, or hashed without the key: %w", r.ID, ErrBroken)
			}
			if !keyed && res.Unkeyed > 0 && r.Action != ActionKeyed {
				return res, fmt.Errorf("audit row %d: the first keyed row after unkeyed ones is not the %s entry: %w", r.ID, ActionKeyed, ErrBroken)
			}
			keyed = true
		case keyed:
			return res, fmt.Errorf("audit row %d: hashed without the key after keyed rows: %w", r.ID, ErrBroken)
		case r.Hash() != h:
			return res, fmt.Errorf("audit row %d: altered: %w", r.ID, ErrBroken)
		default:
			res.Unkeyed++
		}
		if _, ok := at[r.ID]; ok {
			at[r.ID] = h
		}
		prev = h
		res.Head = Checkpoint{Seq: r.ID, Hash: h}
		res.Entries++
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("verify audit: %w", err)
	}
	if res.Entries > 0 && !keyed {
		return res, fmt.Errorf("audit trail: none of its %d rows is keyed: it was written again without the key: %w", res.Entries, ErrBroken)
	}
	return res, nil
}

// Check verifies the chain (see Verify), then that it holds every
// checkpoint given (it reaches the checkpoint's entry, and that entry's
// hash is the checkpoint's), then that every case in table cases has its
// submission entry (SubmissionAction) in the trail. The first failure is
// an error wrapping ErrBroken that says what was found.
func Check(ctx context.Context, q Querier, key []byte, checkpoints []Checkpoint) (Result, error) {
	at := map[int64]string{}
	for _, c := range checkpoints {
		if c.Seq > 0 {
			at[c.Seq] = ""
		}
	}
	res, err := walk(ctx, q, key, at)
	if err != nil {
		return res, err
	}
	for _, c := range checkpoints {
		switch {
		case c.Seq > res.Head.Seq:
			return res, fmt.Errorf("the trail ends at entry %d, but checkpoint %s was taken at entry %d: entries were removed from its end: %w", res.Head.Seq, c, c.Seq, ErrBroken)
		case c.Seq > 0 && at[c.Seq] != c.Hash:
			return res, fmt.Errorf("entry %d is not the one checkpoint %s was taken at: the trail was rewritten: %w", c.Seq, c, ErrBroken)
		}
		res.Checkpoints++
	}
	n, missing, err := casesWithout(ctx, q)
	if err != nil {
		return res, err
	}
	if len(missing) > 0 {
		return res, fmt.Errorf("%d case(s) without their submission entry in the audit trail (%s): the entries were removed, or the cases added behind Mamori's back: %w",
			len(missing), strings.Join(missing, ", "), ErrBroken)
	}
	res.Cases = n
	return res, nil
}

// SubmissionAction is the audit action every case of kind has from the
// moment it exists: "report.submitted", "consult.submitted" (flows' file)
// and "sos.alerted" (flows' raiseSOS).
func SubmissionAction(kind string) string {
	if kind == mamori.KindSOS {
		return "sos.alerted"
	}
	return kind + ".submitted"
}

// casesWithout counts the cases and lists (up to 10 of) those without
// their SubmissionAction entry.
func casesWithout(ctx context.Context, q Querier) (n int, missing []string, err error) {
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM cases`).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("verify audit: cases: %w", err)
	}
	// Both SQLite and PostgreSQL: || concatenates, CASE as in SubmissionAction.
	rows, err := q.QueryContext(ctx, `
		SELECT c.number FROM cases c
		WHERE NOT EXISTS (SELECT 1 FROM audit a WHERE a.subject = c.number
			AND a.action = CASE c.kind WHEN '`+mamori.KindSOS+`' THEN 'sos.alerted' ELSE c.kind || '.submitted' END)
		ORDER BY c.number`)
	if err != nil {
		return 0, nil, fmt.Errorf("verify audit: cases: %w", err)
	}
	defer rows.Close()
	total := 0
	for rows.Next() {
		var number string
		if err := rows.Scan(&number); err != nil {
			return 0, nil, fmt.Errorf("verify audit: cases: %w", err)
		}
		if total++; total <= 10 {
			missing = append(missing, number)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("verify audit: cases: %w", err)
	}
	if total > len(missing) {
		missing = append(missing, fmt.Sprintf("and %d more", total-len(missing)))
	}
	return n - total, missing, nil
}

// Unkeyed returns the id of the trail's newest row when that row is not
// keyed (a trail written before the chain was keyed), or 0: a store that
// gets other than 0 appends an ActionKeyed entry (see KeyedEntry).
func Unkeyed(ctx context.Context, q Querier) (int64, error) {
	var (
		id int64
		h  string
	)
	err := q.QueryRowContext(ctx, `SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&id, &h)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && IsKeyed(h)) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("audit: head: %w", err)
	}
	return id, nil
}

// KeyedEntry is the ActionKeyed entry that starts the keyed chain after
// the unkeyed rows up to last.
func KeyedEntry(last int64, now time.Time) mamori.AuditEntry {
	return mamori.AuditEntry{At: now, Actor: "mamori", Action: ActionKeyed, Subject: "audit",
		Detail: fmt.Sprintf("rows 1-%d are hashed without a key; from this row on every row is keyed (HMAC-SHA256 with a key derived from the encryption key)", last)}
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
