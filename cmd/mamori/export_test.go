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
