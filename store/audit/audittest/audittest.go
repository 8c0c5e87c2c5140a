// Package audittest tampers with a SQL store's audit trail the ways
// someone holding the database, but not the key, could — by hand, with
// SQL on the real database — and checks that each is found against a
// checkpoint taken before: one suite, run against every SQL backend.
package audittest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/seal"
)

// Store is a SQL store with a keyed audit trail.
type Store interface {
	mamori.Store
	VerifyAudit(ctx context.Context) (int, error)
	CheckAudit(ctx context.Context, checkpoints ...audit.Checkpoint) (audit.Result, error)
	AuditCheckpoint(ctx context.Context) (string, error)
}

// Opener opens (and migrates) one test's database with key, logging to
// log.
type Opener func(key []byte, log *slog.Logger) (Store, error)

// Backend is what the suite needs of a SQL backend.
type Backend struct {
	// New makes an empty database for one test and returns how to open
	// it, and a connection to it that goes round the store, as an
	// intruder's would.
	New func(t *testing.T) (Opener, *sql.DB)
	// Dollar: raw takes $1, $2… placeholders instead of ?.
	Dollar bool
	// Unguard lets raw rewrite the trail: it drops or disables the
	// append-only triggers and the check that rows are keyed.
	Unguard []string
	// Restore is the SQL that puts the append-only triggers back (the
	// store's AuditTriggers): the intruder covering their tracks, or the
	// operator after checking the trail.
	Restore string
	// Disarm are ways to leave the trail unguarded; after any one, Open
	// must refuse the database.
	Disarm []string
	// Legacy makes a new database look as it was before the chain was
	// keyed: the check that rows are keyed and its migration's record go.
	Legacy []string
}

// Key is the key the suite's stores are opened with; Other is an
// intruder's guess.
var (
	Key   = bytes.Repeat([]byte{0x42}, seal.KeySize)
	Other = bytes.Repeat([]byte{0x17}, seal.KeySize)
)

var t0 = time.Date(2026, 4, 1, 9, 30, 0, 0, time.UTC)

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	t.Run("Tampering", func(t *testing.T) { tampering(t, b) })
	t.Run("Triggers", func(t *testing.T) { triggers(t, b) })
	t.Run("Holds", func(t *testing.T) { holds(t, b) })
	t.Run("CaseWithoutEntry", func(t *testing.T) { caseWithoutEntry(t, b) })
	t.Run("Legacy", func(t *testing.T) { legacy(t, b) })
}

// row is an audit row as stored, with its hash.
type row struct {
	audit.Row
	Hash string
}

func keyOf(tb testing.TB, key []byte) []byte {
	tb.Helper()
	s, err := seal.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	return audit.Key(s)
}

// tampering: each way of tampering, on a trail checkpointed just before,
// is found against the checkpoint, after the store is opened again on
// the tampered database; most are found without it too.
func tampering(t *testing.T, b Backend) {
	plain := func(r audit.Row) string { return r.Hash() }
	other := keyOf(t, Other)
	wrong := func(r audit.Row) string { return r.MAC(other) }
	forged := func(audit.Row) string { return "k1:" + strings.Repeat("ab", 32) }
	for _, tc := range []struct {
		name   string
		tamper func(rs []row) []row
		want   string // in the error against the checkpoint
		alone  bool   // found without the checkpoint
	}{
		{"EditRow", func(rs []row) []row { rs[3].Detail = "outcome=legitimate"; return rs }, "row 4: altered", true},
		{"DeleteFirst", func(rs []row) []row { return rs[1:] }, "row 2: follows row 0", true},
		{"DeleteMiddle", func(rs []row) []row { return drop(rs, 3) }, "row 5: follows row 3", true},
		{"DeleteNewest", func(rs []row) []row { return rs[:len(rs)-1] }, "ends at entry 7, but checkpoint", false},
		{"DeleteNewestTwo", func(rs []row) []row { return rs[:len(rs)-2] }, "entries were removed from its end", false},
		{"DeleteAll", func(rs []row) []row { return nil }, "ends at entry 0, but checkpoint", true},
		{"AppendForged", func(rs []row) []row { return add(rs, forged) }, "row 9: altered", true},
		{"AppendUnkeyed", func(rs []row) []row { return add(rs, plain) }, "row 9: hashed without the key", true},
		{"AppendOtherKey", func(rs []row) []row { return add(rs, wrong) }, "row 9: altered, or hashed without the key", true},
		{"EditRehashUnkeyed", func(rs []row) []row { rs[3].Detail = "outcome=legitimate"; return rechain(rs, 3, plain) }, "row 4: hashed without the key", true},
		{"EditRehashOtherKey", func(rs []row) []row { rs[3].Detail = "outcome=legitimate"; return rechain(rs, 3, wrong) }, "row 4: altered", true},
		{"RehashAllUnkeyed", func(rs []row) []row { rs[3].Detail = "outcome=legitimate"; return rechain(rs, 0, plain) }, "none of its 8 rows is keyed", true},
		{"DeleteSubmission", func(rs []row) []row { return drop(rs, 4) }, "row 6: follows row 4", true},
		{"DeleteSubmissionRehash", func(rs []row) []row { return rechain(renumber(drop(rs, 4)), 4, plain) }, "row 5: hashed without the key", true},
		{"DeleteSubmissionRehashOtherKey", func(rs []row) []row { return rechain(renumber(drop(rs, 4)), 4, wrong) }, "row 5: altered", true},
		{"Reorder", func(rs []row) []row { rs[2], rs[3] = rs[3], rs[2]; return renumber(rs) }, "row 3: does not follow the row before", true},
		{"ReorderRehashOtherKey", func(rs []row) []row { rs[2], rs[3] = rs[3], rs[2]; return rechain(renumber(rs), 2, wrong) }, "row 3: altered", true},
		// Cut back to before the SOS was raised: its case has no entry.
		{"TruncateBeforeCheckpoint", func(rs []row) []row { return rs[:4] }, "ends at entry 4, but checkpoint", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			open, raw := b.New(t)
			s := mustOpen(t, open, Key)
			seed(t, s)
			cp := checkpoint(t, s)
			if cp.Seq != 8 {
				t.Fatalf("checkpoint %s: want 8 entries", cp)
			}
			s.Close()

			rewrite(t, b, raw, tc.tamper(read(t, raw)))
			var log bytes.Buffer
			s, err := open(Key, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil {
				t.Fatalf("Open after tampering: %v", err)
			}
			defer s.Close()
			_, err = s.CheckAudit(ctx, cp)
			if !errors.Is(err, audit.ErrBroken) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckAudit(%s) = %v; want ErrBroken saying %q", cp, err, tc.want)
			}
			_, err = s.CheckAudit(ctx)
			if found := errors.Is(err, audit.ErrBroken); found != tc.alone {
				t.Errorf("CheckAudit() without the checkpoint = %v; want found %v", err, tc.alone)
			}
			// A trail found broken gets no checkpoint to bless it.
			if cp, err := s.AuditCheckpoint(ctx); tc.alone && err == nil {
				t.Errorf("AuditCheckpoint on the tampered trail = %s; want none", cp)
			}
		})
	}
}

// triggers: Open refuses a database whose append-only triggers were
// dropped, disabled or defused, saying so and logging it; with the
// triggers restored it opens again and the trail holds.
func triggers(t *testing.T, b Backend) {
	for i, q := range b.Disarm {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ctx := context.Background()
			open, raw := b.New(t)
			s := mustOpen(t, open, Key)
			seed(t, s)
			cp := checkpoint(t, s)
			s.Close()

			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			var log bytes.Buffer
			s, err := open(Key, slog.New(slog.NewTextHandler(&log, nil)))
			if err == nil {
				s.Close()
				t.Fatalf("Open after %s succeeded; want it refused", q)
			}
			if !strings.Contains(err.Error(), "append-only triggers") || !strings.Contains(err.Error(), "audit_no_") {
				t.Errorf("Open after %s: %v; want the missing trigger named", q, err)
			}
			if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "append-only triggers") {
				t.Errorf("Open after %s logged:\n%s\nwant an error about the triggers", q, log.String())
			}

			if _, err := raw.Exec(b.Restore); err != nil {
				t.Fatalf("restore the triggers: %v", err)
			}
			s = mustOpen(t, open, Key)
			if _, err := s.CheckAudit(ctx, cp); err != nil {
				t.Errorf("CheckAudit after the triggers were restored: %v", err)
			}
		})
	}
}

// holds: an untouched trail holds every checkpoint taken of it, old and
// new, and keeps holding as it grows.
func holds(t *testing.T, b Backend) {
	ctx := context.Background()
	open, _ := b.New(t)
	s := mustOpen(t, open, Key)
	if cp := checkpoint(t, s); cp.Seq != 0 {
		t.Errorf("checkpoint of an empty trail = %s", cp)
	}
	seed(t, s)
	first := checkpoint(t, s)
	entry(t, s, "case.noted", "KH-2026-0001")
	s.Close()
	s = mustOpen(t, open, Key)
	entry(t, s, "case.closed", "KH-2026-0001")
	second := checkpoint(t, s)
	r, err := s.CheckAudit(ctx, first, second)
	if err != nil {
		t.Fatalf("CheckAudit: %v", err)
	}
	if want := (audit.Result{Entries: 10, Head: second, Checkpoints: 2, Cases: 3}); r != want {
		t.Errorf("CheckAudit = %+v; want %+v", r, want)
	}
	if n, err := s.VerifyAudit(ctx); n != 10 || err != nil {
		t.Errorf("VerifyAudit = %d, %v; want 10, nil", n, err)
	}

	// Another key opens nothing (the key check), so the chain's key
	// cannot be swapped under the trail.
	if s3, err := open(Other, nil); err == nil {
		s3.Close()
		t.Errorf("Open with another key succeeded")
	}
}

// caseWithoutEntry: a case with no submission entry (added behind
// Mamori's back, or its entry lost) breaks the trail.
func caseWithoutEntry(t *testing.T, b Backend) {
	ctx := context.Background()
	open, _ := b.New(t)
	s := mustOpen(t, open, Key)
	seed(t, s)
	cp := checkpoint(t, s)
	if err := s.Update(ctx, func(tx mamori.Tx) error { return tx.InsertCase(newCase("KH-2026-0009", mamori.KindReport)) }); err != nil {
		t.Fatal(err)
	}
	_, err := s.CheckAudit(ctx, cp)
	if !errors.Is(err, audit.ErrBroken) || !strings.Contains(err.Error(), "KH-2026-0009") {
		t.Errorf("CheckAudit = %v; want KH-2026-0009 without its entry", err)
	}
	if n, err := s.VerifyAudit(ctx); n != 8 || err != nil {
		t.Errorf("VerifyAudit (the chain alone) = %d, %v; want 8, nil", n, err)
	}
}

// legacy: a trail written before the chain was keyed gets an
// audit.keyed entry when the migration that keys it runs, is checked
// with the plain hash before and the keyed one after, and cannot be
// rewritten before the cut either.
func legacy(t *testing.T, b Backend) {
	ctx := context.Background()
	open, raw := b.New(t)
	s := mustOpen(t, open, Key)
	s.Close()
	for _, q := range b.Legacy {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var rs []row
	for i := range 3 {
		rs = append(rs, row{Row: audit.Row{ID: int64(i + 1), At: t0.UnixMilli() + int64(i), Actor: "U1", Action: "case.step", Subject: "KH-2025-0001", Detail: fmt.Sprint("step ", i)}})
	}
	rs = rechain(rs, 0, func(r audit.Row) string { return r.Hash() })
	insert(t, b, raw, rs)

	s = mustOpen(t, open, Key)
	r, err := s.CheckAudit(ctx)
	if err != nil || r.Entries != 4 || r.Unkeyed != 3 {
		t.Fatalf("CheckAudit after keying = %+v, %v; want 4 entries, 3 unkeyed", r, err)
	}
	seed(t, s)
	cp := checkpoint(t, s)
	s.Close()
	// Opened again, nothing more is appended.
	s = mustOpen(t, open, Key)
	if r, err := s.CheckAudit(ctx, cp); err != nil || r.Entries != 12 || r.Unkeyed != 3 {
		t.Fatalf("CheckAudit = %+v, %v; want 12 entries, 3 unkeyed", r, err)
	}
	s.Close()

	// Rewriting the unkeyed rows, even rehashed, breaks the keyed one.
	rs = read(t, raw)
	rs[1].Detail = "rewritten"
	rewrite(t, b, raw, rechain(rs, 1, func(r audit.Row) string {
		if r.ID <= 3 {
			return r.Hash()
		}
		return r.MAC(keyOf(t, Other))
	}))
	s = mustOpen(t, open, Key)
	if _, err := s.CheckAudit(ctx, cp); !errors.Is(err, audit.ErrBroken) || !strings.Contains(err.Error(), "row 4: altered") {
		t.Errorf("CheckAudit after the unkeyed rows were rewritten = %v; want row 4 broken", err)
	}
}

func mustOpen(tb testing.TB, open Opener, key []byte) Store {
	tb.Helper()
	s, err := open(key, nil)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func checkpoint(tb testing.TB, s Store) audit.Checkpoint {
	tb.Helper()
	v, err := s.AuditCheckpoint(context.Background())
	if err != nil {
		tb.Fatalf("AuditCheckpoint: %v", err)
	}
	cp, err := audit.ParseCheckpoint(v)
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

func newCase(number, kind string) mamori.Case {
	return mamori.Case{Number: number, Kind: kind, Reporter: mamori.User{Platform: mamori.PlatformSlack, ID: "U1"},
		Department: "sales", Route: mamori.RouteDepartment, Channel: "C1", Status: mamori.StatusNew,
		Urgency: mamori.UrgencyNormal, Suggestion: mamori.SuggestUnclear, Created: t0}
}

// seed writes eight entries as the flows do, each case in the same
// transaction as its submission entry:
//
//	1 report.submitted KH  2 case.taken KH  3 consult.submitted SD
//	4 case.judged KH  5 sos.alerted SOS  6 sos.acked SOS
//	7 consult.replied SD  8 case.exported KH
func seed(tb testing.TB, s Store) {
	tb.Helper()
	for i, e := range []struct{ action, subject, kind string }{
		{"report.submitted", "KH-2026-0001", mamori.KindReport},
		{"case.taken", "KH-2026-0001", ""},
		{"consult.submitted", "SD-2026-0001", mamori.KindConsult},
		{"case.judged", "KH-2026-0001", ""},
		{"sos.alerted", "SOS-2026-0001", mamori.KindSOS},
		{"sos.acked", "SOS-2026-0001", ""},
		{"consult.replied", "SD-2026-0001", ""},
		{"case.exported", "KH-2026-0001", ""},
	} {
		err := s.Update(context.Background(), func(tx mamori.Tx) error {
			if e.kind != "" {
				if err := tx.InsertCase(newCase(e.subject, e.kind)); err != nil {
					return err
				}
			}
			return tx.Audit(mamori.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: "slack:U1", Action: e.action, Subject: e.subject, Detail: fmt.Sprint("n=", i)})
		})
		if err != nil {
			tb.Fatalf("seed: %v", err)
		}
	}
}

func entry(tb testing.TB, s Store, action, subject string) {
	tb.Helper()
	err := s.Update(context.Background(), func(tx mamori.Tx) error {
		return tx.Audit(mamori.AuditEntry{At: t0.Add(time.Hour), Actor: "slack:U1", Action: action, Subject: subject})
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// read returns the trail as stored.
func read(tb testing.TB, raw *sql.DB) []row {
	tb.Helper()
	rows, err := raw.Query(`SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.Action, &r.Subject, &r.Detail, &r.Prev, &r.Hash); err != nil {
			tb.Fatal(err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return rs
}

// rewrite replaces the trail with rs, going round the guards and putting
// the triggers back after, as a careful intruder would.
func rewrite(tb testing.TB, b Backend, raw *sql.DB, rs []row) {
	tb.Helper()
	for _, q := range b.Unguard {
		if _, err := raw.Exec(q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := raw.Exec(`DELETE FROM audit`); err != nil {
		tb.Fatal(err)
	}
	insert(tb, b, raw, rs)
	if _, err := raw.Exec(b.Restore); err != nil {
		tb.Fatalf("restore the triggers: %v", err)
	}
}

func insert(tb testing.TB, b Backend, raw *sql.DB, rs []row) {
	tb.Helper()
	q := `INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	if b.Dollar {
		q = `INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	}
	for _, r := range rs {
		if _, err := raw.Exec(q, r.ID, r.At, r.Actor, r.Action, r.Subject, r.Detail, r.Prev, r.Hash); err != nil {
			tb.Fatalf("insert row %d: %v", r.ID, err)
		}
	}
}

// drop removes rs[i], leaving the ids as they were.
func drop(rs []row, i int) []row { return append(rs[:i:i], rs[i+1:]...) }

// renumber gives the rows the ids 1, 2, … in their order.
func renumber(rs []row) []row {
	for i := range rs {
		rs[i].ID = int64(i + 1)
	}
	return rs
}

// rechain links the rows from rs[from] on again, hashing each with hash.
func rechain(rs []row, from int, hash func(audit.Row) string) []row {
	for i := from; i < len(rs); i++ {
		rs[i].Prev = ""
		if i > 0 {
			rs[i].Prev = rs[i-1].Hash
		}
		rs[i].Hash = hash(rs[i].Row)
	}
	return rs
}

// add appends a row after the newest, hashed with hash.
func add(rs []row, hash func(audit.Row) string) []row {
	last := rs[len(rs)-1]
	r := row{Row: audit.Row{ID: last.ID + 1, At: last.At + 1000, Actor: "slack:U1", Action: "case.judged", Subject: "KH-2026-0001", Detail: "outcome=legitimate", Prev: last.Hash}}
	r.Hash = hash(r.Row)
	return append(rs, r)
}
