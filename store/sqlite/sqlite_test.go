package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/sqlite"
	"github.com/mamori-oss/mamori/store/storetest"
)

var t0 = time.Date(2026, 4, 1, 9, 30, 0, 0, time.UTC)

var testKey = bytes.Repeat([]byte{0x42}, seal.KeySize)

// Confidential text the tests store and then look for in the files.
const (
	narrative = "秘密のナラティブ"
	customer  = "顧客 太郎"
	words     = "お前を許さない"
)

var alice = mamori.User{Platform: mamori.PlatformSlack, ID: "U01ALICE", Name: "Alice", Lang: mamori.JA}

func MustSealer(tb testing.TB, key []byte) *seal.Sealer {
	tb.Helper()
	s, err := seal.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustOpen opens the database at path with the test key and closes it
// when the test ends.
func MustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path, MustSealer(tb, testKey), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustRaw opens the file with no guards, as an intruder or a careless
// operator with the sqlite3 shell would.
func MustRaw(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	raw, err := sql.Open("sqlite3", path+"?_busy_timeout=5000")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

func MustExec(tb testing.TB, db *sql.DB, query string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

func MustUpdate(tb testing.TB, s mamori.Store, fn func(mamori.Tx) error) {
	tb.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

func tempPath(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "mamori.db")
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mamori.Store { return MustOpen(t, tempPath(t)) })
}

func answers() mamori.Answers {
	a := storetest.Answers()
	a.Narrative = narrative
	a.Customer = customer
	a.Words = words
	return a
}

// fill stores one of everything, confidential text included.
func fill(tb testing.TB, s mamori.Store) {
	tb.Helper()
	MustUpdate(tb, s, func(tx mamori.Tx) error {
		if err := tx.PutConversation(mamori.Conversation{User: alice, Flow: mamori.FlowReport, Step: "summary", Answers: answers(), Started: t0, Updated: t0}); err != nil {
			return err
		}
		n, err := tx.NextNumber(mamori.KindReport, 2026)
		if err != nil {
			return err
		}
		if err := tx.InsertCase(mamori.Case{
			Number: fmt.Sprintf("KH-2026-%04d", n), Kind: mamori.KindReport, Reporter: alice,
			Department: "sales", Route: mamori.RouteDepartment, Channel: "C0SUPERVISORS",
			Status: mamori.StatusNew, Urgency: mamori.UrgencyHigh, Suggestion: mamori.SuggestKasuhara,
			Behaviours: []string{"shouting"}, Created: t0, Answers: answers(),
		}); err != nil {
			return err
		}
		if err := tx.Enqueue(mamori.OutboxItem{
			Key:     "card:KH-2026-0001",
			Target:  mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetChannel, ID: "C0SUPERVISORS"},
			Message: mamori.Message{Ref: "case:KH-2026-0001", Text: narrative, Fields: []mamori.Field{{Label: "顧客", Value: customer}, {Label: "言葉", Value: words}}},
			Lang:    mamori.JA,
			Created: t0,
		}); err != nil {
			return err
		}
		payload, _ := json.Marshal(map[string]string{"note": narrative})
		if err := tx.Schedule(mamori.Job{Key: "checkin:KH-2026-0001", Kind: "checkin", Due: t0.Add(24 * time.Hour), Payload: payload}); err != nil {
			return err
		}
		return tx.Audit(mamori.AuditEntry{At: t0, Actor: alice.Key(), Action: "case.submitted", Subject: "KH-2026-0001"})
	})
}

// fileBytes returns the database file and its WAL and shared-memory files.
func fileBytes(tb testing.TB, path string) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		files[filepath.Base(path+suffix)] = b
	}
	return files
}

func TestConfidentialAtRest(t *testing.T) {
	path := tempPath(t)
	db := MustOpen(t, path)
	fill(t, db)

	check := func(when string) {
		t.Helper()
		files := fileBytes(t, path)
		var all []byte
		for name, b := range files {
			for _, secret := range []string{narrative, customer, words} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s: %s holds %q in plaintext", when, name, secret)
				}
			}
			all = append(all, b...)
		}
		// The scan must see the data at all: non-confidential columns
		// are stored as they are.
		for _, plain := range []string{"KH-2026-0001", "C0SUPERVISORS", "case.submitted"} {
			if !bytes.Contains(all, []byte(plain)) {
				t.Errorf("%s: %q not found in the files; is the scan looking at the data?", when, plain)
			}
		}
	}
	check("before checkpoint")

	raw := MustRaw(t, path)
	MustExec(t, raw, "PRAGMA wal_checkpoint(FULL)")
	check("after checkpoint")

	// Deleted conversations leave only sealed bytes behind.
	MustUpdate(t, db, func(tx mamori.Tx) error { return tx.DeleteConversation(alice.Key()) })
	MustExec(t, raw, "PRAGMA wal_checkpoint(TRUNCATE)")
	check("after delete")

	raw.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	check("after close")
}

func TestFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits on Windows")
	}
	path := filepath.Join(t.TempDir(), "new", "dir", "mamori.db")
	db := MustOpen(t, path)
	fill(t, db)
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: permissions %#o, want 0600", filepath.Base(p), perm)
		}
	}
}

func TestAuditChain(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*sqlite.DB, *sql.DB) {
		path := tempPath(t)
		db := MustOpen(t, path)
		for i := range 5 {
			MustUpdate(t, db, func(tx mamori.Tx) error {
				return tx.Audit(mamori.AuditEntry{
					At:      t0.Add(time.Duration(i) * time.Minute),
					Actor:   "system",
					Action:  "case.step",
					Subject: fmt.Sprintf("KH-2026-%04d", i%2+1),
					Detail:  fmt.Sprint("step ", i),
				})
			})
		}
		n, err := db.VerifyAudit(ctx)
		if err != nil || n != 5 {
			t.Fatalf("VerifyAudit = %d, %v; want 5, nil", n, err)
		}
		return db, MustRaw(t, path)
	}

	t.Run("Trail", func(t *testing.T) {
		db, _ := setup(t)
		got, err := db.AuditTrail(ctx, "KH-2026-0002")
		if err != nil {
			t.Fatal(err)
		}
		want := []mamori.AuditEntry{
			{At: t0.Add(1 * time.Minute), Actor: "system", Action: "case.step", Subject: "KH-2026-0002", Detail: "step 1"},
			{At: t0.Add(3 * time.Minute), Actor: "system", Action: "case.step", Subject: "KH-2026-0002", Detail: "step 3"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AuditTrail (-want +got):\n%s", diff)
		}
	})

	t.Run("Triggers", func(t *testing.T) {
		db, raw := setup(t)
		fill(t, db)
		for _, q := range []string{
			"UPDATE audit SET detail = 'x' WHERE id = 2",
			"DELETE FROM audit WHERE id = 2",
			"DELETE FROM audit",
			"DELETE FROM cases",
		} {
			if _, err := raw.Exec(q); err == nil {
				t.Errorf("%s succeeded, want the trigger to refuse", q)
			}
		}
		if n, err := db.VerifyAudit(ctx); err != nil || n != 6 {
			t.Errorf("VerifyAudit = %d, %v; want 6, nil", n, err)
		}
	})

	t.Run("Altered", func(t *testing.T) {
		db, raw := setup(t)
		MustExec(t, raw, "DROP TRIGGER audit_no_update")
		MustExec(t, raw, "UPDATE audit SET detail = 'tampered' WHERE id = 3")
		n, err := db.VerifyAudit(ctx)
		if !errors.Is(err, sqlite.ErrAuditBroken) || !strings.Contains(err.Error(), "row 3") {
			t.Errorf("VerifyAudit error = %v, want ErrAuditBroken at row 3", err)
		}
		if n != 2 {
			t.Errorf("VerifyAudit n = %d, want 2", n)
		}
	})

	t.Run("Rehashed", func(t *testing.T) {
		// Fixing up the row's own hash still breaks the next row's link.
		db, raw := setup(t)
		MustExec(t, raw, "DROP TRIGGER audit_no_update")
		MustExec(t, raw, "UPDATE audit SET hash = 'f00d' WHERE id = 3")
		n, err := db.VerifyAudit(ctx)
		if !errors.Is(err, sqlite.ErrAuditBroken) || !strings.Contains(err.Error(), "row 3") || n != 2 {
			t.Errorf("VerifyAudit = %d, %v; want 2, ErrAuditBroken at row 3", n, err)
		}
	})

	t.Run("Removed", func(t *testing.T) {
		db, raw := setup(t)
		MustExec(t, raw, "DROP TRIGGER audit_no_delete")
		MustExec(t, raw, "DELETE FROM audit WHERE id = 2")
		n, err := db.VerifyAudit(ctx)
		if !errors.Is(err, sqlite.ErrAuditBroken) || !strings.Contains(err.Error(), "row 3") || n != 1 {
			t.Errorf("VerifyAudit = %d, %v; want 1, ErrAuditBroken at row 3", n, err)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		db := MustOpen(t, tempPath(t))
		if n, err := db.VerifyAudit(ctx); err != nil || n != 0 {
			t.Errorf("VerifyAudit on an empty trail = %d, %v; want 0, nil", n, err)
		}
	})
}

func TestAuditRollback(t *testing.T) {
	db := MustOpen(t, tempPath(t))
	ctx := context.Background()
	errBoom := errors.New("boom")
	err := db.Update(ctx, func(tx mamori.Tx) error {
		if err := tx.Audit(mamori.AuditEntry{At: t0, Actor: "system", Action: "a", Subject: "s"}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if got, err := db.AuditTrail(ctx, "s"); err != nil || len(got) != 0 {
		t.Errorf("AuditTrail after rollback = %v, %v; want none", got, err)
	}
}

// TestSealedRowsBound checks that a sealed blob copied onto another row
// does not open there.
func TestSealedRowsBound(t *testing.T) {
	path := tempPath(t)
	db := MustOpen(t, path)
	bob := mamori.User{Platform: mamori.PlatformSlack, ID: "U02BOB"}
	MustUpdate(t, db, func(tx mamori.Tx) error {
		for _, u := range []mamori.User{alice, bob} {
			if err := tx.PutConversation(mamori.Conversation{User: u, Answers: answers(), Started: t0, Updated: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	raw := MustRaw(t, path)
	MustExec(t, raw, `UPDATE conversations SET sealed_state = (SELECT sealed_state FROM conversations WHERE user_key = ?) WHERE user_key = ?`, bob.Key(), alice.Key())
	err := db.View(context.Background(), func(tx mamori.Tx) error {
		_, err := tx.Conversation(alice.Key())
		return err
	})
	if !errors.Is(err, seal.ErrOpen) {
		t.Errorf("Conversation with another row's blob: err = %v, want seal.ErrOpen", err)
	}
}

func TestRestart(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	db := MustOpen(t, path)
	fill(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = MustOpen(t, path)
	MustUpdate(t, db, func(tx mamori.Tx) error {
		c, err := tx.Conversation(alice.Key())
		if err != nil {
			return err
		}
		if c.Answers.Narrative != narrative {
			t.Errorf("conversation narrative after restart = %q", c.Answers.Narrative)
		}
		k, err := tx.Case("KH-2026-0001")
		if err != nil {
			return err
		}
		if k.Answers.Customer != customer {
			t.Errorf("case customer after restart = %q", k.Answers.Customer)
		}
		if n, err := tx.NextNumber(mamori.KindReport, 2026); err != nil || n != 2 {
			t.Errorf("NextNumber after restart = %d, %v; want 2", n, err)
		}
		return nil
	})
	items, err := db.ClaimOutbox(ctx, t0, time.Minute, 10)
	if err != nil || len(items) != 1 || items[0].Message.Text != narrative {
		t.Errorf("ClaimOutbox after restart = %+v, %v; want the card", items, err)
	}
	jobs, err := db.ClaimJobs(ctx, t0.Add(48*time.Hour), time.Minute, 10)
	if err != nil || len(jobs) != 1 || !strings.Contains(string(jobs[0].Payload), narrative) {
		t.Errorf("ClaimJobs after restart = %+v, %v; want the check-in", jobs, err)
	}
	if n, err := db.VerifyAudit(ctx); err != nil || n != 1 {
		t.Errorf("VerifyAudit after restart = %d, %v; want 1, nil", n, err)
	}
	db.Close()

	// Another key is refused at once, naming what to restore, rather than
	// leaving every sealed row unreadable.
	other, err := sqlite.Open(ctx, path, MustSealer(t, bytes.Repeat([]byte{1}, seal.KeySize)), nil)
	if err == nil {
		other.Close()
		t.Fatal("opened with another key")
	}
	if !strings.Contains(err.Error(), "another encryption key") {
		t.Errorf("wrong-key error = %v", err)
	}
}

// TestConcurrentUpdates runs writers on two handles of one file, as two
// processes would, so they contend for SQLite's write lock and rely on
// the busy timeout rather than on one connection pool.
func TestConcurrentUpdates(t *testing.T) {
	path := tempPath(t)
	dbs := []*sqlite.DB{MustOpen(t, path), MustOpen(t, path)}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		db := dbs[w%len(dbs)]
		wg.Go(func() {
			for i := range each {
				err := db.Update(context.Background(), func(tx mamori.Tx) error {
					key := fmt.Sprintf("Ev-%d-%d", w, i)
					if fresh, err := tx.Seen(key, t0); err != nil || !fresh {
						return fmt.Errorf("seen %s: %v, %v", key, fresh, err)
					}
					if _, err := tx.NextNumber(mamori.KindReport, 2026); err != nil {
						return err
					}
					return tx.Enqueue(mamori.OutboxItem{Key: key, Target: mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: "U1"}, Message: mamori.Message{Text: narrative}, Created: t0})
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	MustUpdate(t, dbs[0], func(tx mamori.Tx) error {
		n, err := tx.NextNumber(mamori.KindReport, 2026)
		if n != workers*each+1 {
			t.Errorf("NextNumber after %d updates = %d, want %d", workers*each, n, workers*each+1)
		}
		return err
	})
	items, err := dbs[1].ListOutbox(context.Background(), mamori.OutboxPending, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != workers*each {
		t.Errorf("outbox holds %d items, want %d", len(items), workers*each)
	}
}

func TestUpdatePanic(t *testing.T) {
	db := MustOpen(t, tempPath(t))
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic to go on", r)
			}
		}()
		db.Update(context.Background(), func(tx mamori.Tx) error {
			tx.PutConversation(mamori.Conversation{User: alice})
			panic("boom")
		})
	}()
	// The write connection is free again and nothing was kept.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := db.Update(ctx, func(tx mamori.Tx) error {
		_, err := tx.Conversation(alice.Key())
		if !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("Conversation after panic: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, tempPath(t))
	fill(t, db)

	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dest); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("backup permissions %#o, want 0600", fi.Mode().Perm())
	}
	// Writes after the backup are not in it.
	MustUpdate(t, db, func(tx mamori.Tx) error { return tx.DeleteConversation(alice.Key()) })

	// An existing file is never overwritten.
	if err := db.Backup(ctx, dest); err == nil {
		t.Errorf("Backup onto an existing file succeeded")
	}

	b := MustOpen(t, dest)
	MustUpdate(t, b, func(tx mamori.Tx) error {
		c, err := tx.Conversation(alice.Key())
		if err != nil {
			return err
		}
		if c.Answers.Narrative != narrative {
			t.Errorf("backup narrative = %q", c.Answers.Narrative)
		}
		k, err := tx.Case("KH-2026-0001")
		if err != nil {
			return err
		}
		if k.Answers.Customer != customer {
			t.Errorf("backup case customer = %q", k.Answers.Customer)
		}
		return nil
	})
	if n, err := b.VerifyAudit(ctx); err != nil || n != 1 {
		t.Errorf("VerifyAudit on backup = %d, %v; want 1, nil", n, err)
	}
	for name, data := range fileBytes(t, dest) {
		if bytes.Contains(data, []byte(narrative)) {
			t.Errorf("backup %s holds the narrative in plaintext", name)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	s := MustSealer(t, testKey)
	for _, path := range []string{"", ":memory:"} {
		if db, err := sqlite.Open(ctx, path, s, nil); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
	if db, err := sqlite.Open(ctx, tempPath(t), nil, nil); err == nil {
		db.Close()
		t.Errorf("Open without a sealer succeeded")
	}
}

// TestUnreadableOutbox: an item that cannot be opened is failed for good
// by the claim, and the others are still sent.
func TestUnreadableOutbox(t *testing.T) {
	path := tempPath(t)
	db := MustOpen(t, path)
	ctx := context.Background()
	MustUpdate(t, db, func(tx mamori.Tx) error {
		for _, id := range []string{"U1", "U2"} {
			to := mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: id}
			if err := tx.Enqueue(mamori.OutboxItem{Key: "k" + id, Target: to, Lang: mamori.JA, Created: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	MustExec(t, MustRaw(t, path), `UPDATE outbox SET sealed_message = x'00' WHERE key = 'kU1'`)
	got, err := db.ClaimOutbox(ctx, t0, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Key != "kU2" {
		t.Fatalf("ClaimOutbox = %+v, %v; want kU2 alone", got, err)
	}
	if failed, err := db.CountOutbox(ctx, "kU1"); err != nil || failed["failed"] != 1 {
		t.Errorf("CountOutbox(kU1) = %v, %v; want it failed", failed, err)
	}
}
