package main

import (
	"bytes"
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
)

// `mamori retention plan` and `run` as an operator uses them: a report
// typed into the terminal and judged is listed with its rule and due
// day; a run before that day deletes nothing; a run as of a day after it
// replaces its sealed content in the database file by a tombstone, which
// the export and the audit trail still show.
func TestRetentionCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := reports[mamori.JA]
	lines := append(r.firstHalf(), r.secondHalf()...)
	lines = append(lines, "/as sato", "/take KH-", "/judge KH-", "録音で確認した", "3", "2", "2", "1", "1", "-", "-", "/quit")
	year := time.Now().In(tokyo(t)).Year()
	number := "KH-" + strconv.Itoa(year) + "-0001"
	for i, l := range lines {
		if l == "/take KH-" || l == "/judge KH-" {
			lines[i] = strings.TrimSuffix(l, "KH-") + number
		}
	}
	out := typeChat(t, e, lines)
	if !strings.Contains(out, number+" の判断を記録") {
		t.Fatalf("the report was not judged:\n%s", out)
	}
	raw, err := sql.Open("sqlite3", e["MAMORI_DB"])
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	blobs := func() (answers, decision []byte, reporter string) {
		t.Helper()
		if err := raw.QueryRow(`SELECT sealed_answers, sealed_decision, reporter_key FROM cases WHERE number = ?`, number).
			Scan(&answers, &decision, &reporter); err != nil {
			t.Fatal(err)
		}
		return answers, decision, reporter
	}
	answers, decision, reporter := blobs()

	plan := MustRun(t, e, "", "retention", "plan")
	due := time.Now().In(tokyo(t)).AddDate(5, 0, 0).Format("2006-01-02")
	if !strings.Contains(plan, number) || !strings.Contains(plan, " report ") ||
		!strings.Contains(plan, due) || !strings.Contains(plan, "0 past their rule") || !strings.Contains(plan, "rows: cases 1") {
		t.Errorf("plan (want %s due %s):\n%s", number, due, plan)
	}
	before := time.Now().In(tokyo(t)).AddDate(5, 0, -1).Format("2006-01-02")
	if run := MustRun(t, e, "", "retention", "run", "-at", before); !strings.Contains(run, "0 deleted") {
		t.Errorf("run the day before it is due:\n%s", run)
	}
	if a, d, _ := blobs(); !bytes.Equal(a, answers) || !bytes.Equal(d, decision) {
		t.Fatal("content changed before its rule")
	}
	after := time.Now().In(tokyo(t)).AddDate(5, 0, 1).Format("2006-01-02")
	if out := MustRun(t, e, "", "retention", "run", "-at", after, "-by", "tester"); !strings.Contains(out, "deleted "+number+" (report") ||
		!strings.Contains(out, "1 deleted") {
		t.Errorf("run after it is due:\n%s", out)
	}
	a, d, rk := blobs()
	if bytes.Equal(a, answers) || bytes.Equal(d, decision) || len(a) >= len(answers) || rk == reporter || rk != mamori.PurgedKey(number) {
		t.Errorf("sealed content after the run: answers %d → %d bytes, decision %d → %d, reporter %q → %q",
			len(answers), len(a), len(decision), len(d), reporter, rk)
	}
	var notes int
	if err := raw.QueryRow(`SELECT count(*) FROM care_tasks WHERE number = ? AND reporter LIKE '%"id":"me"%'`, number).Scan(&notes); err != nil || notes != 0 {
		t.Errorf("care tasks still naming the reporter: %d, %v", notes, err)
	}
	// The audit trail holds and says who ran it and under which rule;
	// the export shows the tombstone, without the confidential answers.
	if v := MustRun(t, e, "", "audit", "verify"); !strings.Contains(v, "intact") {
		t.Errorf("audit verify: %s", v)
	}
	if trail := MustRun(t, e, "", "audit", "show", number); !strings.Contains(trail, "case.purged") || !strings.Contains(trail, "tester") ||
		!strings.Contains(trail, "rule=report") {
		t.Errorf("audit show:\n%s", trail)
	}
	export := MustRun(t, e, "", "export", "-by", "tester", "-case", number, "-format", "csv")
	for _, secret := range r.confidential() {
		if strings.Contains(export, secret) {
			t.Errorf("the export of the tombstone holds %q", secret)
		}
	}
	if !strings.Contains(export, number) || !strings.Contains(export, "kasuhara") {
		t.Errorf("export of the tombstone:\n%s", export)
	}
	if plan := MustRun(t, e, "", "retention", "plan"); strings.Contains(plan, number) {
		t.Errorf("plan after the run lists %s:\n%s", number, plan)
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"retention", "run", "-at", "soon"}, strings.NewReader(""), &bytes.Buffer{}, &stderr, e.get); err == nil ||
		!strings.Contains(err.Error(), "-at") {
		t.Errorf("-at soon: %v", err)
	}
}

func tokyo(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}
