package main

import (
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

func TestRegisterConfig(t *testing.T) {
	for _, tc := range []struct {
		in   registerSection
		want flows.Register
		bad  string
	}{
		{in: registerSection{}, want: flows.Register{}},
		{in: registerSection{By: "hr", Term: "2 years", Review: "3 months", Notice: "7 days"},
			want: flows.Register{Term: flows.Period{Years: 2}, Review: flows.Period{Months: 3}, Notice: 7 * 24 * time.Hour}},
		{in: registerSection{By: "department"}, want: flows.Register{ByDepartment: true}},
		{in: registerSection{By: "everyone"}, bad: "register.by"},
		{in: registerSection{Term: "never"}, bad: "register.term"},
		{in: registerSection{Review: "soon"}, bad: "register.review"},
		{in: registerSection{Notice: "1 month"}, bad: "register.notice"},
		{in: registerSection{Term: "6 months", Review: "1 year"}, bad: "register.review"},
	} {
		got, err := registerConfig(tc.in)
		switch {
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%+v: %v, want an error naming %s", tc.in, err, tc.bad)
		case tc.bad == "" && (err != nil || got != tc.want):
			t.Errorf("%+v: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	// The built-in example has the section, and loads.
	cfg, err := loadConfig("")
	if err != nil || cfg.register.Term != (flows.Period{Years: 1}) {
		t.Errorf("the example's register: %+v %v", cfg.register, err)
	}
}

// TestChatRepeatCustomer is issue 16 as a new user tries it in the
// terminal: three reports about one customer, typed three ways, are
// linked; the supervisor judges the third with a refusal of service; HR
// records the customer, keeping the form's pre-filled values; a colleague
// at the store checks the customer and hears "do not serve"; someone in
// another department, and someone not in the directory, do not. The
// register exports as CSV; the database file holds no identifier.
func TestChatRepeatCustomer(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		chatRepeatCustomer(t, e)
		checkFileClean(t, e["MAMORI_DB"])
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		e := postgresEnv(t)
		chatRepeatCustomer(t, e)
		checkPostgresClean(t, e["MAMORI_DB"])
	})
}

// checkPostgresClean wants no customer identifier in the clear in any
// row of the tables that could hold one, on the database at dbURL.
func checkPostgresClean(t *testing.T, dbURL string) {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := 0
	for _, table := range []string{"cases", "conversations", "outbox", "jobs", "audit", "customer_index", "case_links", "register", "register_index"} {
		r, err := db.Query(`SELECT t::text FROM ` + table + ` t`)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for r.Next() {
			var row string
			if err := r.Scan(&row); err != nil {
				t.Fatal(err)
			}
			rows++
			for _, s := range customerSecrets {
				// A bytea column reads as hex.
				if strings.Contains(row, s) || strings.Contains(row, hex.EncodeToString([]byte(s))) {
					t.Errorf("a row of %s holds %q in the clear", table, s)
				}
			}
		}
		r.Close()
	}
	if rows == 0 {
		t.Error("no rows read: is the check looking at the data?")
	}
}

func chatRepeatCustomer(t *testing.T, e testEnv) {
	p := builtinPolicy(t)
	ja := func(key string) string { return p.T(mamori.JA, key) }
	report := func(ids, narrative string) []string {
		return []string{"/start report", "1", "1", "昨日の15時ごろ", narrative, "1", "新宿店のレジ", "50代くらいの男性", ids, "返金",
			"1,3", "「辞めさせてやる」", "2", "2", "同僚の鈴木さん", "2", "2", "2", "2", "1", "1"}
	}
	var lines []string
	lines = append(lines, report("090-1234-5678", "大声で怒鳴られた")...)
	lines = append(lines, "/as tanaka")
	lines = append(lines, report("山田太郎様 ０９０１２３４５６７８", "また同じ人に怒鳴られた")...)
	lines = append(lines, "/as me")
	lines = append(lines, report("携帯 ０９０−１２３４−５６７８", "三度目。カウンターを叩かれた")...)
	out := typeChat(t, e, append(lines, "/quit"))
	third := frame(out[strings.LastIndex(out, "KH-2026-0003")-2000:], "#store-supervisors")
	if !strings.Contains(out, "KH-2026-0003") || !strings.Contains(third, ja("card.repeat")) {
		t.Fatalf("the third card names no earlier report:\n%s", out)
	}
	var cards []string
	for _, f := range frames(out) {
		if strings.Contains(f, "【カスハラ報告 KH-2026-0003】") {
			cards = append(cards, f)
		}
	}
	if len(cards) == 0 || !strings.Contains(cards[0], "KH-2026-0001（") || !strings.Contains(cards[0], "KH-2026-0002（") {
		t.Errorf("the third card: %q", cards)
	}
	for _, f := range frames(out) {
		for _, s := range customerSecrets {
			if strings.Contains(f, s) {
				t.Errorf("a channel shows %q:\n%s", s, f)
			}
		}
	}

	out = typeChat(t, e, []string{
		"/as sato", "/judge KH-2026-0003", "録音で確認した", "3", "2", "2", "1", "1,2", "-", "-",
		"/as hr", "/register KH-2026-0003", "=", "=", "=", "=", "=", "-",
		"/as tanaka", "確認 090-1234-5678",
		"/as yamada", "確認 09012345678",
		"/as stranger", "確認 090-1234-5678",
		"/quit"})
	after := func(marker string) string {
		i := strings.Index(out, marker)
		if i < 0 {
			t.Fatalf("no %q in:\n%s", marker, out)
		}
		rest := out[i:]
		if j := strings.Index(rest[len(marker):], "いまは "); j >= 0 {
			return rest[:len(marker)+j]
		}
		return rest
	}
	if got := after("RF-2026-0001 として"); !strings.Contains(got, "【拒否リスト RF-2026-0001】") {
		t.Errorf("HR's register entry:\n%s", got)
	}
	if got := after("tanaka として操作"); !strings.Contains(got, ja("check.found.header")) || !strings.Contains(got, ja("onsite.header")) {
		t.Errorf("the store's check:\n%s", got)
	}
	if got := after("yamada として操作"); strings.Contains(got, ja("check.found.header")) || !strings.Contains(got, ja("check.none.header")) {
		t.Errorf("the other department's check:\n%s", got)
	}
	if got := after("stranger として操作"); !strings.Contains(got, ja("check.refused")) {
		t.Errorf("the stranger's check:\n%s", got)
	}

	csvPath := filepath.Join(t.TempDir(), "register.csv")
	MustRunStderr(t, e, "register", "export", "-by", "人事 加藤", "-o", csvPath)
	b, err := os.ReadFile(csvPath)
	if err != nil || !strings.Contains(string(b), "RF-2026-0001,active,store,") || !strings.Contains(string(b), "t:09012345678") {
		t.Errorf("the CSV: %s %v", b, err)
	}
	if list := MustRun(t, e, "", "register", "list"); !strings.Contains(list, "RF-2026-0001") || strings.Contains(list, "1234") {
		t.Errorf("the list: %s", list)
	}
	if v := MustRun(t, e, "", "audit", "verify"); !strings.Contains(v, "audit trail intact") {
		t.Errorf("audit verify: %s", v)
	}
}
