package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
)

func TestExport(t *testing.T) {
	t.Parallel()
	r := reports[mamori.JA]
	e := newEnv(t)
	out := typeChat(t, e, append(append(r.firstHalf(), r.secondHalf()...), "/as sato", "/take KH-"+year()+"-0001",
		"/judge KH-"+year()+"-0001", "-", "3", "2", "-", "1", "1", "-", "次回は出入り禁止", "/quit"))
	if !strings.Contains(out, "判断を記録") {
		t.Fatalf("judgement did not go through:\n%s", out)
	}
	number := "KH-" + year() + "-0001"

	var cases []exported
	if err := json.Unmarshal([]byte(MustRun(t, e, "", "export", "-by", "法務 佐藤", "-case", number)), &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || cases[0].Answers.Narrative != r.narrative || cases[0].Decision == nil ||
		cases[0].Decision.Outcome != mamori.OutcomeKasuhara || cases[0].Decision.Note != "次回は出入り禁止" || len(cases[0].Audit) < 3 {
		t.Fatalf("exported: %+v", cases)
	}

	file := filepath.Join(t.TempDir(), "cases.csv")
	today := time.Now().In(time.FixedZone("JST", 9*3600)).Format("2006-01-02") // the organisation's day
	MustRunStderr(t, e, "export", "-by", "hr", "-format", "csv", "-from", today, "-to", today, "-o", file)
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v %v", st, err)
	}
	b, _ := os.ReadFile(file)
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][0] != number || !strings.Contains(string(b), r.narrative) {
		t.Fatalf("csv: %v %v", rows, err)
	}

	trail := MustRun(t, e, "", "audit", "show", number)
	if strings.Count(trail, "case.exported") != 2 || !strings.Contains(trail, "cli:法務 佐藤") {
		t.Fatalf("exports not in the audit trail:\n%s", trail)
	}
	if v := MustRun(t, e, "", "audit", "verify"); !strings.Contains(v, "intact") {
		t.Fatal(v)
	}
	for _, args := range [][]string{
		{"export"},
		{"export", "-by", "x", "-format", "xml"},
		{"export", "-by", "x", "-case", number, "-from", today},
		{"export", "-by", "x", "-from", "2026/01/01"},
		{"export", "-by", "x", "-case", "KH-1999-0001"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, e.get); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// MustRunStderr runs mamori and allows it to write to stderr.
func MustRunStderr(tb testing.TB, e testEnv, args ...string) string {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, e.get); err != nil {
		tb.Fatalf("mamori %v: %v\n%s", args, err, stderr.String())
	}
	return stderr.String()
}

func year() string { return time.Now().In(time.FixedZone("JST", 9*3600)).Format("2006") }

// An SOS is exported beside the reports, told apart by kind: its place,
// what the employee typed and sent during it in the report's columns, no
// suggestion for judging, and who acknowledged it, when the employee was
// safe and how far it escalated in the columns added for it. Its audit
// trail shows with `mamori audit show`.
func TestExportSOS(t *testing.T) {
	t.Parallel()
	r := reports[mamori.JA]
	e := newEnv(t)
	sos := "SOS-" + year() + "-0001"
	lines := append(append(r.firstHalf(), r.secondHalf()...),
		"SOS", "2階 倉庫の前", "まだ怒鳴っています", "file:voice.m4a",
		"/as sato", "/sos_ack "+sos, "/as me", "1", // 1: I'm safe now
		"/quit")
	out := typeChat(t, e, lines)
	if !strings.Contains(out, "よかったです") {
		t.Fatalf("the SOS did not close:\n%s", out)
	}
	today := time.Now().In(time.FixedZone("JST", 9*3600)).Format("2006-01-02")
	b := MustRun(t, e, "", "export", "-by", "hr", "-format", "csv", "-from", today, "-to", today)
	rows, err := csv.NewReader(strings.NewReader(b)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("csv: %v %v\n%s", rows, err, b)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	// The columns before SOS stay where they were.
	for i, name := range []string{"number", "kind", "created", "department"} {
		if col[name] != i {
			t.Errorf("column %q moved to %d", name, col[name])
		}
	}
	if col["audit"] != 37 || len(rows[0]) != 46 {
		t.Errorf("columns: %v", rows[0])
	}
	byKind := map[string][]string{}
	for _, row := range rows[1:] {
		byKind[row[col["kind"]]] = row
	}
	report, s := byKind[mamori.KindReport], byKind[mamori.KindSOS]
	if report == nil || s == nil {
		t.Fatalf("kinds: %v", rows)
	}
	if report[col["place"]] != r.place || report[col["suggestion"]] == "" || report[col["sos_rounds"]] != "" || report[col["from_sos"]] != "" {
		t.Errorf("the report's row: %v", report)
	}
	for name, want := range map[string]string{
		"number": sos, "department": "store", "status": "完了", "urgency": "🔴 緊急", "suggestion": "", "reporter": "local:me",
		"place": "2階 倉庫の前", "files": "voice.m4a", "assignee": "local:sato", "sos_rounds": "0", "decision": "", "sos_report": "",
	} {
		if got := s[col[name]]; got != want {
			t.Errorf("the SOS's %s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"taken_at", "sos_safe_at"} {
		if _, err := time.Parse(time.RFC3339, s[col[name]]); err != nil {
			t.Errorf("the SOS's %s: %v", name, err)
		}
	}
	if !strings.HasSuffix(s[col["narrative"]], " まだ怒鳴っています") || !strings.Contains(s[col["audit"]], "sos.acked") {
		t.Errorf("the SOS's row: %v", s)
	}

	var cases []exported
	if err := json.Unmarshal([]byte(MustRun(t, e, "", "export", "-by", "hr", "-case", sos)), &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || cases[0].Kind != mamori.KindSOS || cases[0].Decision == nil || cases[0].Decision.Emergency == nil ||
		cases[0].Decision.Emergency.Place != "2階 倉庫の前" || cases[0].Decision.Emergency.Safe.IsZero() {
		t.Fatalf("exported: %+v", cases)
	}
	trail := MustRun(t, e, "", "audit", "show", sos)
	for _, action := range []string{"sos.alerted", "sos.place", "sos.note", "sos.file", "local:sato\tsos.acked", "sos.safe", "case.exported"} {
		if !strings.Contains(trail, action) {
			t.Errorf("no %q in the trail:\n%s", action, trail)
		}
	}
	if v := MustRun(t, e, "", "audit", "verify"); !strings.Contains(v, "intact") {
		t.Fatal(v)
	}
}
