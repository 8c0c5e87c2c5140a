package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// runErr runs the command in args and returns what it printed and its
// error.
func runErr(e testEnv, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(""), &out, &errOut, e.get)
	return out.String(), errOut.String(), err
}

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out, stderr, err := runErr(e, "migrate")
	if err != nil || !strings.Contains(out, "up to date") || !strings.Contains(stderr, "migrated") {
		t.Errorf("mamori migrate = %q, %q, %v; want the migrations applied", out, stderr, err)
	}
	if out, _, err := runErr(e, "migrate"); err != nil || !strings.Contains(out, "up to date") {
		t.Errorf("mamori migrate again = %q, %v", out, err)
	}
}

// TestPostgresNeedsKey: a key file made beside a URL would differ on
// every replica; PostgreSQL needs the key named.
func TestPostgresNeedsKey(t *testing.T) {
	t.Parallel()
	e := testEnv{"MAMORI_DB": "postgres://mamori@127.0.0.1:1/mamori"}
	_, _, err := runErr(e, "migrate")
	if err == nil || !strings.Contains(err.Error(), "MAMORI_ENCRYPTION_KEY") {
		t.Errorf("migrate on PostgreSQL without a key: err = %v, want MAMORI_ENCRYPTION_KEY named", err)
	}
}

// TestPostgresCommands runs the operator's commands against PostgreSQL
// in a schema of its own on the server MAMORI_TEST_POSTGRES names.
func TestPostgresCommands(t *testing.T) {
	t.Parallel()
	e := postgresEnv(t)

	if out, stderr, err := runErr(e, "migrate"); err != nil || !strings.Contains(out, "up to date") || !strings.Contains(stderr, "postgres: migrated") {
		t.Fatalf("mamori migrate = %q, %q, %v; want the migrations applied", out, stderr, err)
	}
	if out, _, err := runErr(e, "audit", "verify"); err != nil || !strings.Contains(out, "intact: 0 entries") {
		t.Errorf("mamori audit verify = %q, %v", out, err)
	}
	if out, _, err := runErr(e, "outbox"); err != nil || !strings.Contains(out, "0 pending") {
		t.Errorf("mamori outbox = %q, %v", out, err)
	}
	if _, _, err := runErr(e, "backup", t.TempDir()+"/b.db"); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("mamori backup on PostgreSQL: err = %v, want pg_dump named", err)
	}
	e["MAMORI_ENCRYPTION_KEY"] = strings.Repeat("17", 32)
	if _, _, err := runErr(e, "migrate"); err == nil || !strings.Contains(err.Error(), "another encryption key") {
		t.Errorf("mamori migrate with another key: err = %v, want refused", err)
	}
}

// postgresEnv is an environment on a schema of its own on the server
// MAMORI_TEST_POSTGRES names, dropped when the test ends.
func postgresEnv(t *testing.T) testEnv {
	t.Helper()
	base := os.Getenv("MAMORI_TEST_POSTGRES")
	if base == "" {
		t.Skip("MAMORI_TEST_POSTGRES is not set: set it to a PostgreSQL URL to run the PostgreSQL tests")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := "mamori_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return testEnv{"MAMORI_DB": u.String(), "MAMORI_ENCRYPTION_KEY": strings.Repeat("42", 32)}
}
