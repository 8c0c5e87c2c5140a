package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
)

var checkpointRE = regexp.MustCompile(`^mamori-audit:v1:([0-9]+):[0-9a-f]{64}$`)

// TestAuditCheckpoint: the operator takes a checkpoint after a report,
// `audit verify -checkpoint` holds it (a value or a file), and finds the
// trail cut by someone with the sqlite3 shell — the newest entries, or
// all of them — which the chain alone does not show; with the append-only
// triggers dropped, nothing opens the database until `mamori audit
// triggers` puts them back.
func TestAuditCheckpoint(t *testing.T) {
	t.Parallel()
	r := reports[mamori.JA]
	e := newEnv(t)
	if out := typeChat(t, e, append(append(r.firstHalf(), r.secondHalf()...), "/quit")); !strings.Contains(out, "KH-") {
		t.Fatalf("no report filed:\n%s", out)
	}

	cp := strings.TrimSpace(MustRun(t, e, "", "audit", "checkpoint"))
	if !checkpointRE.MatchString(cp) {
		t.Fatalf("mamori audit checkpoint = %q", cp)
	}
	file := filepath.Join(t.TempDir(), "checkpoints.txt")
	if out := MustRun(t, e, "", "audit", "checkpoint", "-o", file); !strings.Contains(out, file) {
		t.Errorf("mamori audit checkpoint -o: %s", out)
	}
	if b, err := os.ReadFile(file); err != nil || strings.TrimSpace(string(b)) != cp {
		t.Fatalf("checkpoint file = %q, %v; want %q", b, err, cp)
	}
	for _, arg := range []string{cp, file} {
		out := MustRun(t, e, "", "audit", "verify", "-checkpoint", arg)
		for _, want := range []string{"audit trail intact", "1 cases, each with its submission entry", "holds 1 checkpoint", "head: " + cp} {
			if !strings.Contains(out, want) {
				t.Errorf("audit verify -checkpoint %s: no %q in\n%s", arg, want, out)
			}
		}
	}
	if out := MustRun(t, e, "", "audit", "verify"); !strings.Contains(out, "no checkpoint given") {
		t.Errorf("audit verify without a checkpoint does not say what it cannot see:\n%s", out)
	}

	raw, err := sql.Open("sqlite3", e["MAMORI_DB"]+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	restore := MustRun(t, e, "", "audit", "triggers")

	// The newest entry cut: only the checkpoint shows it.
	exec(`DROP TRIGGER audit_no_delete`)
	if _, _, err := runErr(e, "audit", "verify"); err == nil || !strings.Contains(err.Error(), "append-only triggers are missing or changed (audit_no_delete)") {
		t.Errorf("audit verify with a trigger dropped: err = %v; want the start refused, naming it", err)
	}
	exec(`DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)`)
	exec(restore)
	if _, _, err := runErr(e, "audit", "verify"); err != nil {
		t.Errorf("audit verify without the checkpoint: %v (the chain alone holds)", err)
	}
	_, _, err = runErr(e, "audit", "verify", "-checkpoint", file)
	if err == nil || !strings.Contains(err.Error(), "entries were removed from its end") {
		t.Errorf("audit verify -checkpoint after the newest entry was cut: err = %v", err)
	}
	if _, _, err := runErr(e, "audit", "checkpoint"); err != nil {
		t.Errorf("audit checkpoint: %v", err) // the chain holds: a new one can be taken
	}

	// Every entry gone: the case has no submission entry any more.
	exec(`DROP TRIGGER audit_no_delete`)
	exec(`DELETE FROM audit`)
	exec(restore)
	if out, _, err := runErr(e, "audit", "verify"); err == nil || !strings.Contains(err.Error(), "without their submission entry in the audit trail (KH-") {
		t.Errorf("audit verify of a wiped trail = %q, %v; want the case without its entry", out, err)
	}
	if _, _, err := runErr(e, "audit", "verify", "-checkpoint", cp); err == nil || !strings.Contains(err.Error(), "the trail ends at entry 0") {
		t.Errorf("audit verify -checkpoint of a wiped trail: err = %v", err)
	}
	if out, _, err := runErr(e, "audit", "checkpoint"); err == nil {
		t.Errorf("audit checkpoint of a wiped trail = %q; want none", out)
	}

	for _, args := range [][]string{
		{"audit"},
		{"audit", "bogus"},
		{"audit", "verify", "extra"},
		{"audit", "show"},
		{"audit", "checkpoint", "-o"},
		{"audit", "verify", "-checkpoint", filepath.Join(t.TempDir(), "none.txt")},
		{"audit", "verify", "-checkpoint", "mamori-audit:v1:3:abc"},
		{"audit", "verify", "-checkpoint", e["MAMORI_KEY_FILE"]}, // a file with no checkpoint
	} {
		if _, _, err := runErr(e, args...); err == nil {
			t.Errorf("mamori %s succeeded", strings.Join(args, " "))
		}
	}
}

// TestAuditCheckpointPostgres: the same commands on PostgreSQL.
func TestAuditCheckpointPostgres(t *testing.T) {
	t.Parallel()
	e := postgresEnv(t)
	cp := strings.TrimSpace(MustRun(t, e, "", "audit", "checkpoint"))
	if m := checkpointRE.FindStringSubmatch(cp); m == nil || m[1] != "0" {
		t.Fatalf("mamori audit checkpoint of an empty trail = %q", cp)
	}
	if out := MustRun(t, e, "", "audit", "verify", "-checkpoint", cp); !strings.Contains(out, "intact: 0 entries") {
		t.Errorf("audit verify -checkpoint: %s", out)
	}
	if out := MustRun(t, e, "", "audit", "triggers"); !strings.Contains(out, "BEFORE TRUNCATE ON audit") {
		t.Errorf("audit triggers on PostgreSQL:\n%s", out)
	}
}
