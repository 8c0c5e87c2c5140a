//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// inflightBound is how soon after a replica comes back a question that was
// being posted when it died must be on its way to Slack (issue 12): the
// outbox lease is 3 s and renewed while a post is under way, so a dead
// replica's lease is over at most 3 s after it died; the worker looks
// every second. The replica that comes back runs its clock holdLease
// ahead, so that the lease has run out for it at once: within the bound,
// it takes the question over at its first pass.
const inflightBound = 5 * time.Second

// holdLease is how long a claimed message stays the worker's unless
// renewed (flows.Worker.Hold's default).
const holdLease = 3 * time.Second

// TestInflightAfterCrash: `mamori serve` is SIGKILLed while it posts the
// next question (a free-text one), and started again; the reporter types
// at once, before the question has reached them. The question must go out
// within inflightBound of the restart, what was typed must not answer the
// question they had not seen, and their next message must.
func TestInflightAfterCrash(t *testing.T) {
	t.Parallel()
	testInflight(t, newEnv(t))
}

// TestPostgresInflightAfterCrash is TestInflightAfterCrash on PostgreSQL.
func TestPostgresInflightAfterCrash(t *testing.T) {
	t.Parallel()
	testInflight(t, postgresEnv(t))
}

func testInflight(t *testing.T, e testEnv) {
	api := slacktest.New(t, testBotToken)
	api.AddUser(slacktest.User{ID: reporter, Name: "tanaka", RealName: "田中 花子", Email: "tanaka@example.co.jp", Locale: "ja-JP"})
	proxy := newHoldProxy(t, api.URL)
	e["MAMORI_CONFIG"] = filepath.Join(t.TempDir(), "mamori.yaml")
	if err := os.WriteFile(e["MAMORI_CONFIG"], []byte(slackConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	e["SLACK_BOT_TOKEN"] = testBotToken
	e["SLACK_SIGNING_SECRET"] = testSecret
	e["SLACK_API_URL"] = proxy.srv.URL + "/api/"
	policy := builtinPolicy(t)
	rep := reports[mamori.JA]
	const impatient = "まだですか？"

	r := &slackRig{t: t, api: api, client: &http.Client{Timeout: 10 * time.Second}, env: e}
	dm := &inbox{t: t, api: api, env: e}
	first := startProc(t, r, "first")
	r.command(reporter, "report")
	b := dm.question("safety")
	r.click(b, "safe")
	b = dm.question("for_whom")
	r.click(b, "self")
	dm.question("when")

	// The answer is committed; the next question, a free-text one, is held
	// on its way to Slack, and serve dies while it waits for Slack's answer.
	held, _ := proxy.hold("narrative")
	r.say(reporter, rep.when)
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatalf("the narrative question was not posted within 30 s\n%s", lastLines(first.logs.String(), 30))
	}
	// A couple of lease renewals happen while the post is under way.
	time.Sleep(1500 * time.Millisecond)
	first.kill()
	if p := dm.posts(); len(p) > dm.seen {
		t.Fatalf("something reached the reporter after the when question before the kill:\n%s", p[dm.seen].text)
	}

	// The replica comes back; the reporter types at once. The question's
	// post is let through only once what they typed is acknowledged, so
	// that it is typed while the question has not reached them, however
	// fast the worker is.
	arrived, release := proxy.hold("narrative")
	restart := time.Now()
	e[aheadEnv] = holdLease.String()
	second := startProc(t, r, "second")
	delete(e, aheadEnv)
	ready := time.Now()
	r.say(reporter, impatient)
	release()
	var postedAt time.Time
	select {
	case postedAt = <-arrived:
	case <-time.After(30 * time.Second):
		dumpOutbox(t, e)
		t.Fatalf("the narrative question was not posted within 30 s of the restart\n%s", lastLines(second.logs.String(), 30))
	}
	took := postedAt.Sub(restart)
	t.Logf("after the restart the question went to Slack in %s (%s after /healthz answered; start took %s); the bound is %s",
		took.Round(time.Millisecond), postedAt.Sub(ready).Round(time.Millisecond), ready.Sub(restart).Round(time.Millisecond), inflightBound)
	if took > inflightBound {
		t.Errorf("the question held by the killed replica went out %s after the restart, want within %s", took.Round(time.Millisecond), inflightBound)
	}

	// The question reaches the reporter, then the note that what they
	// typed was not taken as an answer.
	dm.question("narrative")
	dm.wait("the in-flight note", func(p posted) bool { return strings.Contains(p.text, policy.T(mamori.JA, "nav.in_flight")) })
	conv := conversation(t, e)
	if conv.Step != "narrative" || conv.Answers.Narrative != "" {
		t.Errorf("after %q typed before the question arrived: step %q, narrative %q; want the narrative question still open and unanswered",
			impatient, conv.Step, conv.Answers.Narrative)
	}
	if j, _ := json.Marshal(conv.Answers); strings.Contains(string(j), impatient) {
		t.Errorf("%q typed before the question arrived was stored as an answer: %s", impatient, j)
	}

	// The next message answers the question now shown.
	r.say(reporter, rep.narrative)
	dm.question("channel")
	conv = conversation(t, e)
	if conv.Answers.Narrative != rep.narrative || conv.Step != "channel" {
		t.Errorf("after the answer typed once the question arrived: step %q, narrative %q; want %q stored and the channel question next",
			conv.Step, conv.Answers.Narrative, rep.narrative)
	}
	if n := dm.count("narrative"); n != 1 {
		t.Errorf("the narrative question reached the reporter %d times, want once", n)
	}
	if err := second.stop(15 * time.Second); err != nil {
		t.Errorf("second serve: %v", err)
	}
}

// inbox is the reporter's DM channel as the fake Slack shows it.
type inbox struct {
	t    *testing.T
	api  *slacktest.Server
	env  testEnv
	seen int // posts already read
}

// posts lists the posts Slack accepted in the reporter's DM channel.
func (d *inbox) posts() []posted {
	d.t.Helper()
	var out []posted
	for _, c := range d.api.Calls("chat.postMessage") {
		if c.Error != "" || c.Channel() != "D"+reporter {
			continue
		}
		p := posted{channel: c.Channel(), text: c.Get("text") + "\n" + c.Get("blocks")}
		if c.Get("blocks") != "" {
			if err := c.Decode("blocks", &p.blocks); err != nil {
				d.t.Fatal(err)
			}
		}
		out = append(out, p)
	}
	return out
}

// wait waits for a post, after those already read, that match accepts,
// and marks it and those before it read.
func (d *inbox) wait(what string, match func(posted) bool) posted {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ps := d.posts()
		for i := d.seen; i < len(ps); i++ {
			if match(ps[i]) {
				d.seen = i + 1
				return ps[i]
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("no DM to the reporter with %s after 20 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// question waits for the question step and until nothing to the reporter
// is left pending: a post Slack accepted is marked sent a moment later,
// and only then may typed text answer it (a person cannot type in that
// moment; a test can).
func (d *inbox) question(step string) blocks {
	d.t.Helper()
	p := d.wait("step "+step, func(p posted) bool { return p.blocks.hasStep(step) })
	if err := delivered(d.env, mamori.PlatformSlack, reporter, 20*time.Second); err != nil {
		d.t.Fatalf("after the %s question was posted: %v", step, err)
	}
	return p.blocks
}

// count is how many posts asked the question step.
func (d *inbox) count(step string) int {
	n := 0
	for _, p := range d.posts() {
		if p.blocks.hasStep(step) {
			n++
		}
	}
	return n
}

// conversation reads the reporter's conversation from the store serve uses.
func conversation(t *testing.T, e testEnv) mamori.Conversation {
	t.Helper()
	ctx := context.Background()
	db, err := openStore(ctx, e.get, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c mamori.Conversation
	if err := db.View(ctx, func(tx mamori.Tx) error {
		var err error
		c, err = tx.Conversation(mamori.PlatformSlack + ":" + reporter)
		return err
	}); err != nil {
		t.Fatalf("the reporter's conversation: %v", err)
	}
	return c
}

// startProc runs `mamori serve` with r's environment in a process of its
// own (the test binary again, see TestMain), points r at it and waits
// until it answers /healthz.
func startProc(t *testing.T, r *slackRig, name string) *replica {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &replica{name: name, logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(exe, "serve")
	p.cmd.Env = []string{replicaEnv + "=1"}
	keys := make([]string, 0, len(r.env))
	for k := range r.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.cmd.Env = append(p.cmd.Env, k+"="+r.env[k])
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("serve %s logs:\n%s", name, lastLines(p.logs.String(), 40))
		}
	})
	r.base = ""
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("serve %s stopped at once: %v\n%s", name, p.err, p.logs.String())
		default:
		}
		if r.base == "" {
			if addr := listening(p.logs.String()); addr != "" {
				r.base = "http://" + addr
			}
		}
		if r.base != "" {
			if code, _ := r.get("/healthz"); code == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve %s: no /healthz after 30 s\n%s", name, p.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdProxy stands between serve and the fake Slack and can hold the posts
// of one question: Slack that has not answered yet.
type holdProxy struct {
	srv *httptest.Server

	mu      sync.Mutex
	step    string        // the question whose posts are held; "" for none
	gate    chan struct{} // closed: held posts go on to Slack
	arrived chan time.Time
}

func newHoldProxy(t *testing.T, apiURL string) *holdProxy {
	u, err := url.Parse(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	p := &holdProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if gate, arrived := p.held(r.Header.Get("Content-Type"), body); gate != nil {
				select {
				case arrived <- time.Now():
				default:
				}
				select {
				case <-gate:
				case <-r.Context().Done():
					return // serve died waiting: Slack never got it
				}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// hold holds the posts of the question step from now on; each one's
// arrival is sent on arrived. release lets them go to Slack, those held
// and those to come, whose arrivals are still sent on arrived.
func (p *holdProxy) hold(step string) (arrived <-chan time.Time, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	gate, ch := make(chan struct{}), make(chan time.Time, 16)
	p.step, p.gate, p.arrived = step, gate, ch
	return ch, sync.OnceFunc(func() { close(gate) })
}

// held returns the gate a post must wait for, or nil.
func (p *holdProxy) held(contentType string, body []byte) (chan struct{}, chan time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.step == "" {
		return nil, nil
	}
	c := slacktest.Call{}
	if ct, _, _ := mime.ParseMediaType(contentType); ct == "application/json" {
		if json.Unmarshal(body, &c.JSON) != nil {
			return nil, nil
		}
	} else if c.Params, _ = url.ParseQuery(string(body)); c.Params == nil {
		return nil, nil
	}
	var b blocks
	if c.Decode("blocks", &b) != nil || !b.hasStep(p.step) {
		return nil, nil
	}
	return p.gate, p.arrived
}

// dumpOutbox logs the outbox, for a failure: keys, targets, attempts and
// errors, never a message's text.
func dumpOutbox(t *testing.T, e testEnv) {
	t.Helper()
	db, err := openStore(context.Background(), e.get, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Logf("outbox: %v", err)
		return
	}
	defer db.Close()
	for _, st := range []string{"pending", "sent", "failed"} {
		items, _ := db.ListOutbox(context.Background(), st, 0)
		for _, it := range items {
			t.Logf("%s %d %s %+v attempts %d err %q step %q", st, it.ID, it.Key, it.Target, it.Attempts, it.LastErr, it.Message.Step)
		}
	}
}
