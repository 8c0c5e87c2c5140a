package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// A database whose key file went missing: serve refuses to start, says
// why, and makes no new key anywhere (a new key would seal new answers
// with a key the old ones do not open).
func TestServeMissingKeyFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	// First start: the database and its key are made.
	MustRun(t, e, "/quit\n", "chat")
	dir := filepath.Dir(e["MAMORI_DB"])
	key := filepath.Join(dir, "mamori.key")
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("no key file after the first start: %v", err)
	}
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve"}, strings.NewReader(""), &stdout, &stderr, e.get)
	if err == nil || !strings.Contains(err.Error(), "key file") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Stat(key); err == nil {
		t.Error("a new key file was made")
	}
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if strings.Contains(en.Name(), "key") {
			t.Errorf("a key file appeared: %s", en.Name())
		}
	}
}

// A directory mamori may not write: the message says so. (root writes
// anywhere, so this runs only as another user.)
func TestServeReadOnlyDirectory(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root may write into a read-only directory")
	}
	e := newEnv(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	e["MAMORI_DB"] = filepath.Join(dir, "mamori.db")
	e["MAMORI_ADDR"] = "256.0.0.1:1"
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"serve"}, strings.NewReader(""), &stdout, &stderr, e.get)
	if err == nil || !strings.Contains(err.Error(), "read-only") || strings.Contains(err.Error(), "no such file") {
		t.Fatalf("serve: %v", err)
	}
}

// A database file mamori may open but not write (another user's): serve
// stops at start, naming MAMORI_DB, instead of serving and failing each
// report. (root writes any file, so this runs only as another user.)
func TestServeReadOnlyFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root may write a read-only file")
	}
	e := newEnv(t)
	MustRun(t, e, "/quit\n", "chat")
	for _, f := range []string{e["MAMORI_DB"], e["MAMORI_DB"] + "-wal", e["MAMORI_DB"] + "-shm"} {
		os.Chmod(f, 0o444)
	}
	t.Cleanup(func() { os.Chmod(e["MAMORI_DB"], 0o644) })
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, io.Discard, e.get)
	if err == nil || !strings.Contains(err.Error(), "MAMORI_DB") || !strings.Contains(err.Error(), "cannot be written") {
		t.Fatalf("serve: %v", err)
	}
}

// An address already in use stops serve before it opens the database: no
// worker runs beside the instance already there, no file is made.
func TestServeAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := newEnv(t)
	e["MAMORI_ADDR"] = ln.Addr().String()
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"serve"}, strings.NewReader(""), io.Discard, &stderr, e.get)
	if err == nil || !strings.Contains(err.Error(), "MAMORI_ADDR") {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Stat(e["MAMORI_DB"]); err == nil {
		t.Error("the database was made")
	}
	if strings.Contains(stderr.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged before the address was refused:\n%s", stderr.String())
	}
}

// Slack's production mode serves no Teams route: without MICROSOFT_APP_ID
// (and without MAMORI_TEAMS_EMULATOR=on) /api/messages is not there, so a
// proxy on the same host cannot turn it into an unauthenticated way in.
func TestServeSlackNoTeamsRoute(t *testing.T) {
	t.Parallel()
	r := startServe(t)
	body := `{"type":"message","text":"SOS","serviceUrl":"http://127.0.0.1:1/","from":{"id":"29:x"},"conversation":{"id":"a:1"},"channelId":"msteams"}`
	resp, err := r.client.Post(r.base+"/api/messages", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /api/messages: %d, want 404", resp.StatusCode)
	}
	if out := MustRun(t, r.env, "", "outbox"); strings.Contains(out, "teams") {
		t.Errorf("something was queued for Teams:\n%s", out)
	}
}

// /readyz is not ready while the database cannot be written, and ready
// again when it can. The disk is "full" in a child process whose file
// size limit drops to zero (every write to a file then fails, as on a
// full disk) on SIGUSR1 and is restored on SIGUSR2: a limit is the
// process's, so it cannot be set inside this one, which runs other
// tests beside.
func TestReadyzFullDisk(t *testing.T) {
	t.Parallel()
	if os.Getenv("MAMORI_READYZ_CHILD") != "" {
		t.Skip("the child")
	}
	e := newEnv(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadyzChild$", "-test.v")
	cmd.Env = append(os.Environ(), "MAMORI_READYZ_CHILD=1", "MAMORI_DB="+e["MAMORI_DB"], "MAMORI_ADDR=127.0.0.1:0")
	stderr, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	var logs syncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write([]byte(sc.Text() + "\n"))
			if a := listening(sc.Text()); a != "" {
				select {
				case addr <- a:
				default:
				}
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatalf("the child did not start:\n%s", logs.String())
	}
	client := &http.Client{Timeout: 5 * time.Second}
	ready := func() int {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for ready() != want {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never %d %s:\n%s", want, what, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(http.StatusOK, "at first")
	cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(http.StatusServiceUnavailable, "on a full disk")
	cmd.Process.Signal(syscall.SIGUSR2)
	waitFor(http.StatusOK, "once there is room again")
	if !strings.Contains(logs.String(), "the database cannot be written") {
		t.Errorf("the log does not say why it was not ready:\n%s", logs.String())
	}
}

// TestReadyzChild is the child of TestReadyzFullDisk: mamori serve, its
// file size limit at zero between SIGUSR1 and SIGUSR2.
func TestReadyzChild(t *testing.T) {
	if os.Getenv("MAMORI_READYZ_CHILD") == "" {
		t.Skip("run by TestReadyzFullDisk")
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails instead
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range sig {
			lim := orig
			if s == syscall.SIGUSR1 {
				lim.Cur = 0
			}
			syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	getenv := func(k string) string { return os.Getenv(k) }
	if err := run(ctx, []string{"serve"}, strings.NewReader(""), os.Stdout, os.Stdout, getenv); err != nil {
		t.Log(err)
	}
}

// A command given a value it cannot use says which and why, and does
// nothing: no status, version or date range is taken as it comes.
func TestCommandArgumentErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  testEnv
		want []string
	}{
		{[]string{"outbox", "-status", "bogus"}, nil, []string{"-status", "pending, failed or sent", `"bogus"`}},
		{[]string{"manifest", "teams", "-url", "https://example.test", "-version", "abc"}, testEnv{"MICROSOFT_APP_ID": teamsAppID}, []string{"-version", "1.0.0"}},
		{[]string{"manifest", "slack", "-socket", "-url", "https://example.test"}, nil, []string{"-url", "-socket", "not both"}},
		{[]string{"manifest", "slack", "-url", "https://example.test?x=1"}, nil, []string{"without ? or #"}},
		{[]string{"export", "-by", "kato", "-from", "2026-12-31", "-to", "2026-01-01"}, nil, []string{"-to", "before", "-from"}},
		{[]string{"outbox"}, testEnv{"MAMORI_DB": os.TempDir()}, []string{"MAMORI_DB", "is a directory", "mamori.db"}},
		{[]string{"outbox"}, testEnv{"MAMORI_DB": "mysql://db/mamori"}, []string{"MAMORI_DB", "mysql://", "postgres://"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e := merge(newEnv(t), tc.env)
			e["MAMORI_KEY_FILE"] = filepath.Join(t.TempDir(), "none", "mamori.key")
			var stdout bytes.Buffer
			err := run(context.Background(), tc.args, strings.NewReader(""), &stdout, io.Discard, e.get)
			if err == nil {
				t.Fatalf("no error; printed %q", stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A bot token Slack refuses stops serve at start, naming the setting and
// Slack's reason, not at the first report.
func TestServeSlackTokenRefused(t *testing.T) {
	t.Parallel()
	api := slacktest.New(t, testBotToken)
	e := newEnv(t)
	e["MAMORI_CONFIG"] = filepath.Join(t.TempDir(), "mamori.yaml")
	if err := os.WriteFile(e["MAMORI_CONFIG"], []byte(slackConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	e["SLACK_BOT_TOKEN"] = "xoxb-revoked"
	e["SLACK_SIGNING_SECRET"] = testSecret
	e["SLACK_API_URL"] = api.URL
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, io.Discard, e.get)
	if err == nil || !strings.Contains(err.Error(), "SLACK_BOT_TOKEN") || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("serve: %v", err)
	}
	if strings.Contains(err.Error(), "xoxb-revoked") {
		t.Errorf("the error shows the token: %v", err)
	}
}
