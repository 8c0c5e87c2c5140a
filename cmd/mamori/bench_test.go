package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// checkReport wants a bench report with every request answered 200.
func checkReport(t *testing.T, out string, n int) {
	t.Helper()
	t.Logf("mamori bench:\n%s", out)
	for _, want := range []string{"requests   " + strconv.Itoa(n) + " in ", "req/s", "errors     0\n", "p50 ", "p99 ", "server memory"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report has no %q", want)
		}
	}
}

// TestBenchSlack runs `mamori bench` against `mamori serve` with the
// Slack fake of the other tests: signed commands, clicks and events, all
// acknowledged.
func TestBenchSlack(t *testing.T) {
	t.Parallel()
	r := startServe(t)
	const users = 40
	for i := range users {
		id := benchSlackUser(i)
		r.api.AddUser(slacktest.User{ID: id, Name: strings.ToLower(id), RealName: id, Email: strings.ToLower(id) + "@example.co.jp", Locale: "ja-JP"})
	}
	out := MustRun(t, r.env, "", "bench", "-url", r.base, "-n", "300", "-c", "16", "-users", "40", "-pid", strconv.Itoa(os.Getpid()))
	checkReport(t, out, 300)
	for _, kind := range []string{"slack command", "slack click", "slack event"} {
		if !strings.Contains(out, kind) {
			t.Errorf("the report has no %q", kind)
		}
	}
	if !strings.Contains(out, "VmRSS") {
		t.Errorf("the report has no resident memory with -pid")
	}
}

// TestBenchBoth serves the bench's own fakes — Slack Web API, Teams
// OpenID metadata and keys, token endpoint and Connector — points serve at
// them, and sends Slack requests and Teams activities with JWTs signed by
// the bench's key.
func TestBenchBoth(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "bench.pem")
	key, err := benchKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: &benchFakes{key: key, kid: benchKid(key)}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	e := newEnv(t)
	e["MAMORI_CONFIG"] = filepath.Join(t.TempDir(), "mamori.yaml")
	if err := os.WriteFile(e["MAMORI_CONFIG"], []byte(teamsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	e["SLACK_BOT_TOKEN"] = testBotToken
	e["SLACK_SIGNING_SECRET"] = testSecret
	e["SLACK_API_URL"] = "http://" + addr + "/api/"
	e["MICROSOFT_APP_ID"] = teamsAppID
	e["MICROSOFT_APP_PASSWORD"] = "test-client-secret"
	e["MICROSOFT_APP_TENANT_ID"] = benchTenant
	e["MAMORI_TEAMS_OPENID_METADATA_URL"] = "http://" + addr + "/v1/.well-known/openidconfiguration"
	e["MAMORI_TEAMS_TOKEN_URL"] = "http://" + addr + "/" + benchTenant + "/oauth2/v2.0/token"
	r := startTeams(t, nil, e)

	// The fakes' address is in use: bench uses them, with the same key.
	out := MustRun(t, e, "", "bench", "-url", r.base, "-n", "300", "-c", "16", "-users", "40", "-mix", "both",
		"-fake-slack", addr, "-teams-keys", addr, "-teams-key", keyFile)
	checkReport(t, out, 300)
	for _, kind := range []string{"slack command", "teams message"} {
		if !strings.Contains(out, kind) {
			t.Errorf("the report has no %q", kind)
		}
	}
	if strings.Contains(r.logs.String(), "teams: request refused") || strings.Contains(r.logs.String(), `"level":"ERROR"`) {
		t.Errorf("serve logged errors:\n%s", r.logs.String())
	}
}
