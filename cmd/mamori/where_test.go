package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestChatSaysWhere: `mamori chat` first says, in the person's
// language, where its database and key are (new the first time) and
// which configuration it reads; then the welcome.
func TestChatSaysWhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := builtinPolicy(t)
	first := func(out string) string {
		line, rest, _ := strings.Cut(out, "\n")
		if !strings.HasPrefix(rest, p.T("ja", "local.welcome")) && !strings.HasPrefix(rest, p.T("en", "local.welcome")) {
			t.Errorf("the welcome does not follow the first line:\n%s", out)
		}
		return line
	}
	line := first(typeChat(t, e, []string{"/quit"}))
	for _, w := range []string{e["MAMORI_DB"] + "（新規）", e["MAMORI_KEY_FILE"] + "（いま作成", "組み込みの例", "サンプル株式会社", "mhlw-2022"} {
		if !strings.Contains(line, w) {
			t.Errorf("the first line lacks %q: %s", w, line)
		}
	}
	line = first(typeChat(t, e, []string{"/quit"}, "-lang", "en"))
	if !strings.Contains(line, "Data: "+e["MAMORI_DB"]+" · key: "+e["MAMORI_KEY_FILE"]+" · configuration: the built-in example") ||
		strings.Contains(line, "(new)") || strings.Contains(line, "made now") {
		t.Errorf("the second run's first line: %s", line)
	}

	m := newEnv(t)
	m["MAMORI_DB"] = "mem:"
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"chat", "-lang", "en"}, strings.NewReader("/quit\n"), &stdout, &stderr, m.get); err != nil {
		t.Fatal(err)
	}
	if line, _, _ := strings.Cut(stdout.String(), "\n"); !strings.HasPrefix(line, "Data: memory only (lost at exit) · key: none") {
		t.Errorf("in memory: %s", line)
	}
}

// TestStartupLogSaysWhere: the app's start (serve's startup log) says
// where the database and key are, whether they are new, and which
// configuration and organisation; a PostgreSQL URL without its password.
func TestStartupLogSaysWhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	a, err := newApp(context.Background(), cfg, e.get, slog.New(slog.NewJSONHandler(&buf, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	a.db.Close()
	var entry map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "mamori data" {
			entry = m
		}
	}
	want := map[string]any{"database": e["MAMORI_DB"], "new_database": true, "key": e["MAMORI_KEY_FILE"], "new_key": true,
		"config": "(built-in example)", "organisation": "サンプル株式会社", "policy": "mhlw-2022"}
	for k, v := range want {
		if entry[k] != v {
			t.Errorf("%s = %v, want %v (log:\n%s)", k, entry[k], v, buf.String())
		}
	}

	if got := redactURL("postgres://mamori:s3cret@db.internal:5432/mamori?sslmode=require&password=s3cret"); got != "postgres://mamori@db.internal:5432/mamori" {
		t.Errorf("redactURL = %s", got)
	}
}
