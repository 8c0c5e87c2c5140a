package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/postgres"
	"github.com/mamori-oss/mamori/store/seal"
	"github.com/mamori-oss/mamori/store/storetest"
)

// envURL names the server the tests use; without it they skip.
const envURL = "MAMORI_TEST_POSTGRES"

var t0 = time.Date(2026, 4, 1, 9, 30, 0, 0, time.UTC)

var testKey = bytes.Repeat([]byte{0x42}, seal.KeySize)

func MustSealer(tb testing.TB, key []byte) *seal.Sealer {
	tb.Helper()
	s, err := seal.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustSchema makes a new, empty schema on the test server, dropped when
// the test ends, and returns a URL whose connections use it and a raw
// connection to it with no guards. It skips the test without a server.
func MustSchema(tb testing.TB) (string, *sql.DB) {
	tb.Helper()
	base := os.Getenv(envURL)
	if base == "" {
		tb.Skipf("%s is not set: set it to a PostgreSQL URL (postgres://user@127.0.0.1:5432/db) to run the PostgreSQL tests", envURL)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Close() })
	schema := "mamori_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		tb.Fatalf("%s: create schema: %v", envURL, err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	raw, err := sql.Open("pgx", u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return u.String(), raw
}

// MustOpen opens the store at url with the test key and closes it when
// the test ends.
func MustOpen(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url, MustSealer(tb, testKey), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func MustUpdate(tb testing.TB, s mamori.Store, fn func(mamori.Tx) error) {
	tb.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

func TestStore(t *testing.T) {
	MustSchema(t) // skips once here, not in every subtest
	storetest.Run(t, func(t *testing.T) mamori.Store {
		u, _ := MustSchema(t)
		return MustOpen(t, u)
	})
}

// TestConcurrentClaims runs two stores on one database, as two replicas,
// claiming at once: no job and no outbox item is claimed twice, and every
// one is claimed.
func TestConcurrentClaims(t *testing.T) {
	u, _ := MustSchema(t)
	a, b := MustOpen(t, u), MustOpen(t, u)
	const n = 200
	MustUpdate(t, a, func(tx mamori.Tx) error {
		for i := range n {
			if err := tx.Schedule(mamori.Job{Key: fmt.Sprintf("j%03d", i), Kind: "k", Due: t0}); err != nil {
				return err
			}
			target := mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: fmt.Sprintf("U%03d", i%20)}
			if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("m%03d", i), Target: target, Created: t0}); err != nil {
				return err
			}
		}
		return nil
	})

	var (
		mu     sync.Mutex
		jobs   = map[string]int{}
		items  = map[string]int{}
		order  = map[mamori.Target][]int64{} // item ids per target, in claim order
		wg     sync.WaitGroup
		errs   = make(chan error, 8)
		ctx    = context.Background()
		now    = t0.Add(time.Second)
		stores = []mamori.Store{a, b, a, b}
	)
	for _, s := range stores {
		wg.Go(func() {
			for idle := 0; idle < 3; {
				js, err := s.ClaimJobs(ctx, now, time.Hour, 7)
				if err != nil {
					errs <- err
					return
				}
				ms, err := s.ClaimOutbox(ctx, now, time.Hour, 7)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, j := range js {
					jobs[j.Key]++
				}
				for _, m := range ms {
					items[m.Key]++
					order[m.Target] = append(order[m.Target], m.ID)
				}
				mu.Unlock()
				// An item is claimed only once the one before it to its
				// target is sent: send what was claimed.
				for _, m := range ms {
					if err := s.SentOutbox(ctx, m.ID, mamori.Posted{Channel: "D", TS: "1"}, now); err != nil {
						errs <- err
						return
					}
				}
				if len(js)+len(ms) == 0 {
					idle++
					time.Sleep(5 * time.Millisecond)
				} else {
					idle = 0
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for name, claimed := range map[string]map[string]int{"jobs": jobs, "outbox items": items} {
		if len(claimed) != n {
			t.Errorf("%d %s claimed, want %d", len(claimed), name, n)
		}
		for k, c := range claimed {
			if c != 1 {
				t.Errorf("%s claimed %d times, want once", k, c)
			}
		}
	}
	// Enqueued in id order, so each target's items must come out in it.
	for target, ids := range order {
		for i := 1; i < len(ids); i++ {
			if ids[i] < ids[i-1] {
				t.Errorf("target %s: item %d claimed after %d", target.ID, ids[i], ids[i-1])
			}
		}
	}
}

// TestMigrateConcurrently opens several stores on one empty database at
// once, as replicas starting together: the advisory lock lets one migrate
// and the others find the schema ready.
func TestMigrateConcurrently(t *testing.T) {
	u, _ := MustSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := postgres.Open(context.Background(), u, MustSealer(t, testKey), nil)
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Open: %v", err)
	}
}

// TestAuditChain: the trail is append-only in the database, and
// VerifyAudit finds a row changed behind the triggers' back.
func TestAuditChain(t *testing.T) {
	u, raw := MustSchema(t)
	db := MustOpen(t, u)
	ctx := context.Background()
	for i := range 3 {
		MustUpdate(t, db, func(tx mamori.Tx) error {
			return tx.Audit(mamori.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "system", Action: "case.routed", Subject: "KH-2026-0001"})
		})
	}
	if n, err := db.VerifyAudit(ctx); n != 3 || err != nil {
		t.Fatalf("VerifyAudit = %d, %v; want 3, nil", n, err)
	}
	trail, err := db.AuditTrail(ctx, "KH-2026-0001")
	if err != nil || len(trail) != 3 || !trail[2].At.Equal(t0.Add(2*time.Second)) {
		t.Errorf("AuditTrail = %+v, %v; want the 3 entries", trail, err)
	}
	for _, q := range []string{
		`UPDATE audit SET actor = 'x'`,
		`DELETE FROM audit WHERE id = 2`,
		`TRUNCATE audit`,
	} {
		if _, err := raw.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only", q, err)
		}
	}
	// An intruder with the rights to drop the trigger.
	if _, err := raw.Exec(`ALTER TABLE audit DISABLE TRIGGER audit_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE audit SET detail = 'changed' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.VerifyAudit(ctx); !errors.Is(err, postgres.ErrAuditBroken) || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("VerifyAudit after an edit: err = %v, want row 2 broken", err)
	}
}

// TestCasesNotDeleted: no case can be deleted, even by hand.
func TestCasesNotDeleted(t *testing.T) {
	u, raw := MustSchema(t)
	db := MustOpen(t, u)
	MustUpdate(t, db, func(tx mamori.Tx) error {
		return tx.InsertCase(mamori.Case{Number: "KH-2026-0001", Kind: mamori.KindReport, Reporter: mamori.User{ID: "U1"}, Created: t0})
	})
	for _, q := range []string{`DELETE FROM cases`, `TRUNCATE cases CASCADE`} {
		if _, err := raw.Exec(q); err == nil || !strings.Contains(err.Error(), "cannot be deleted") {
			t.Errorf("%s: err = %v, want refused", q, err)
		}
	}
}

// TestConfidentialAtRest: confidential text is nowhere in the tables as
// plain text, and a sealed blob moved to another row does not open.
func TestConfidentialAtRest(t *testing.T) {
	u, raw := MustSchema(t)
	db := MustOpen(t, u)
	const secret = "秘密のナラティブ"
	a := storetest.Answers()
	a.Narrative = secret
	MustUpdate(t, db, func(tx mamori.Tx) error {
		for _, n := range []string{"KH-2026-0001", "KH-2026-0002"} {
			if err := tx.InsertCase(mamori.Case{Number: n, Kind: mamori.KindReport, Reporter: mamori.User{ID: "U1"}, Created: t0, Answers: a}); err != nil {
				return err
			}
		}
		return tx.PutConversation(mamori.Conversation{User: mamori.User{ID: "U1"}, Answers: a, Updated: t0})
	})
	var dump string
	err := raw.QueryRow(`SELECT string_agg(t::text, ' ') FROM (
		SELECT c::text AS t FROM cases c UNION ALL SELECT v::text FROM conversations v) x`).Scan(&dump)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, secret) || strings.Contains(dump, hex.EncodeToString([]byte(secret))) {
		t.Errorf("confidential text stored in the clear")
	}
	if _, err := raw.Exec(`ALTER TABLE cases DISABLE TRIGGER USER`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE cases SET sealed_answers = (SELECT sealed_answers FROM cases WHERE number = 'KH-2026-0001') WHERE number = 'KH-2026-0002'`); err != nil {
		t.Fatal(err)
	}
	err = db.View(context.Background(), func(tx mamori.Tx) error { _, err := tx.Case("KH-2026-0002"); return err })
	if err == nil {
		t.Errorf("a sealed blob moved to another case opened")
	}
}

// TestWrongKey: a store written with one key refuses another.
func TestWrongKey(t *testing.T) {
	u, _ := MustSchema(t)
	MustOpen(t, u).Close()
	other := bytes.Repeat([]byte{0x17}, seal.KeySize)
	_, err := postgres.Open(context.Background(), u, MustSealer(t, other), nil)
	if err == nil || !strings.Contains(err.Error(), "another encryption key") {
		t.Errorf("Open with another key: err = %v, want refused", err)
	}
}

// TestBackup: backups are pg_dump's job, and the error says so.
func TestBackup(t *testing.T) {
	u, _ := MustSchema(t)
	db := MustOpen(t, u)
	if err := db.Backup(context.Background(), t.TempDir()+"/b"); !errors.Is(err, postgres.ErrNoBackup) || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("Backup: err = %v, want ErrNoBackup naming pg_dump", err)
	}
}

func TestOpenErrors(t *testing.T) {
	s := MustSealer(t, testKey)
	for _, url := range []string{"mamori.db", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=2"} {
		_, err := postgres.Open(context.Background(), url, s, nil)
		if err == nil {
			t.Errorf("Open(%q) succeeded", url)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open error shows the password: %v", err)
		}
	}
}

// TestUnreadableOutbox: an item that cannot be opened is failed for good
// by the claim, and the others are still sent.
func TestUnreadableOutbox(t *testing.T) {
	u, raw := MustSchema(t)
	db := MustOpen(t, u)
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
	if _, err := raw.Exec(`UPDATE outbox SET sealed_message = '\x00' WHERE key = 'kU1'`); err != nil {
		t.Fatal(err)
	}
	got, err := db.ClaimOutbox(ctx, t0, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Key != "kU2" {
		t.Fatalf("ClaimOutbox = %+v, %v; want kU2 alone", got, err)
	}
	if failed, err := db.CountOutbox(ctx, "kU1"); err != nil || failed["failed"] != 1 {
		t.Errorf("CountOutbox(kU1) = %v, %v; want it failed", failed, err)
	}
}
