//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// The replicas of TestPostgresReplicas are this test binary run again:
// TestMain sees replicaEnv and runs main, so each one is `mamori serve` in
// a process of its own that a SIGKILL really kills.

// replicaEnv makes the test binary run `mamori serve` instead of the tests.
const replicaEnv = "MAMORI_TEST_REPLICA"

// aheadEnv, a duration, runs that serve on a clock so far ahead of the
// real one (clockKey): a lease left by a replica killed just before has
// run out for it at once, rather than that much later.
const aheadEnv = "MAMORI_TEST_CLOCK_AHEAD"

// The end-to-end tests spend their time waiting — on Slack's pace of a
// message a second to a DM, on leases running out — not on the CPU, and
// each has its own ports, files and fake platform: unless -parallel is
// given, up to testParallel of them run at once (not GOMAXPROCS, which is
// 2 on a small machine).
const testParallel = 8

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) != "" {
		ahead, err := time.ParseDuration(os.Getenv(aheadEnv))
		if err != nil {
			main() // os.Args[1:] is "serve"; main exits 1 on an error
			os.Exit(0)
		}
		clock := mamori.Clock(func() time.Time { return time.Now().Add(ahead) })
		if err := run(context.WithValue(context.Background(), clockKey{}, clock), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, "mamori:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(testParallel)); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

const (
	// replicaLease is how long a claimed outbox item or job stays the
	// claimer's (MAMORI_WORKER_LEASE): the shortest serve takes, so that
	// the leases the killed replicas leave really run out during the test
	// and the others take their work over by themselves.
	replicaLease = 10 * time.Second
	// takeReminder is the job that reminds a channel of a case nobody took;
	// the configuration below makes it due takeAfter after the report.
	takeReminder = "case.take_reminder"
	takeAfter    = 2 * time.Second
	// escalation is the job that tells HR of a case not judged in time;
	// the configuration makes it due long after the test.
	escalation = "case.escalate"
	// slackLatency is the fake Slack's answer time.
	slackLatency = 10 * time.Millisecond
)

// TestPostgresReplicas runs two `mamori serve` processes on one
// PostgreSQL database behind one fake Slack and drives reports through
// them alternately, each step to the other replica than the step before.
// Under load one replica is killed with SIGKILL in the middle of a job
// (its work committed, the job not yet marked done) and the other while
// its posts are on their way to Slack; replacements start and the
// conversations go on. The leases the killed replicas held run out
// (MAMORI_WORKER_LEASE is 10 s) and the live replicas take the job and
// the messages over. Then it checks that every acknowledged step is
// stored, no case is filed twice or lost, every reminder job had its
// effect once (one audit entry, one message — the one run again too), and
// every message the outbox and the jobs scheduled reached Slack exactly
// once — but for the one window the README names (a message Slack had
// received from the killed replica, not yet marked sent), which is
// counted.
func TestPostgresReplicas(t *testing.T) {
	t.Parallel()
	pg := postgresEnv(t)
	dbURL, key := pg["MAMORI_DB"], pg["MAMORI_ENCRYPTION_KEY"]
	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()

	api := slacktest.New(t, testBotToken)
	// Slack never answers at once.
	api.SetLatency(slackLatency)
	for _, u := range []slacktest.User{
		{ID: "U0SATO", Name: "sato", RealName: "佐藤 一郎", Locale: "ja-JP"},
		{ID: "U0SUZUKI", Name: "suzuki", RealName: "鈴木 次郎", Locale: "ja-JP"},
		{ID: "U0HR", Name: "kato", RealName: "加藤 人事", Locale: "ja-JP"},
	} {
		api.AddUser(u)
	}

	// Wave one starts at once and files its reports; wave two starts when
	// wave one is 80% of the way, so it is in mid-conversation when the
	// kills come. Three of wave two stop part way, like people who walk away.
	const wave1, wave2 = 4, 6
	stops := map[int]int{7: 6, 8: 10, 9: 15} // reporter → inputs sent
	var reps []*person
	for i := range wave1 + wave2 {
		r := &person{id: fmt.Sprintf("U0R%02d", i), inputs: reportPlan(i), last: i % 2}
		r.stop = len(r.inputs)
		if n, ok := stops[i]; ok {
			r.stop = n
		}
		r.dept, r.channel = "store", "C0STORE"
		if i%2 == 1 {
			r.dept, r.channel = "support", "C0SUPPORT"
		}
		api.AddUser(slacktest.User{ID: r.id, Name: strings.ToLower(r.id), RealName: "報告者 " + r.id, Locale: "ja-JP"})
		reps = append(reps, r)
	}
	cfgPath := filepath.Join(t.TempDir(), "mamori.yaml")
	if err := os.WriteFile(cfgPath, []byte(replicaConfig(reps)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &replicaRig{t: t, api: api, raw: raw, dbURL: dbURL, tag: strings.ToLower(rand.Text()[:6]),
		env: []string{"MAMORI_CONFIG=" + cfgPath, "MAMORI_ENCRYPTION_KEY=" + key, "MAMORI_ADDR=127.0.0.1:0",
			"SLACK_BOT_TOKEN=" + testBotToken, "SLACK_SIGNING_SECRET=" + testSecret,
			"MAMORI_WORKER_LEASE=" + replicaLease.String()},
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
	}

	// Both start at once: migrations run under an advisory lock.
	var a, b *replica
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a, errA = c.start("a") }()
	go func() { defer wg.Done(); b, errB = c.start("b") }()
	wg.Wait()
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	c.slots = [2]*replica{a, b}
	t.Logf("replicas up after %s: a at %s, b at %s", time.Since(began).Round(time.Millisecond), a.base, b.base)

	var drivers sync.WaitGroup
	drive := func(rs []*person) {
		for _, r := range rs {
			drivers.Add(1)
			go func() { defer drivers.Done(); c.drive(ctx, r) }()
		}
	}
	drive(reps[:wave1])
	planned := plannedSteps(reps[:wave1])
	if !pollUntil(ctx, 20*time.Second, 20*time.Millisecond, func() bool { return ackedSteps(reps[:wave1]) >= planned*8/10 }) {
		t.Fatalf("wave one did not get 80%% of the way in 20 s: %d of %d steps acknowledged", ackedSteps(reps[:wave1]), planned)
	}
	drive(reps[wave1:])

	// Two kills under load, each followed at once by a replacement: the
	// first reminder job falls due and the replica running it dies in
	// the middle of it, its work committed but the job not yet marked
	// done; at once the other one dies while its posts are on their way
	// to Slack. The conversations go on through the replacements.
	k1, err := c.killInJob(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.logKill(k1, began, plannedSteps(reps))
	k2, err := c.killInSend(ctx, 1-k1.slot)
	if err != nil {
		t.Fatal(err)
	}
	c.logKill(k2, began, plannedSteps(reps))
	// No one ends the leases the dead replicas left: they run out
	// replicaLease after their claims, and the live replicas take the job
	// and the messages over by themselves. The conversations whose next
	// message a dead replica holds wait for that.

	done := make(chan struct{})
	go func() { drivers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("the conversations did not end in time: %d of %d steps acknowledged", ackedSteps(reps), plannedSteps(reps))
	}
	for _, r := range reps {
		if r.err != nil {
			t.Errorf("%s: %v", r.id, r.err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	drivenAt := time.Now()

	// Everything due is delivered: every outbox item sent, every reminder
	// run.
	var pending, failed, dueJobs int
	if !pollUntil(ctx, 20*time.Second, 50*time.Millisecond, func() bool {
		raw.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed') FROM outbox`).Scan(&pending, &failed)
		raw.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE status = 'pending' AND (kind = $1 OR due <= $2)`,
			takeReminder, time.Now().UnixMilli()).Scan(&dueJobs)
		return failed > 0 || (pending == 0 && dueJobs == 0)
	}) || failed > 0 {
		t.Fatalf("the outbox did not drain: %d pending, %d failed; %d due jobs not done\n%s", pending, failed, dueJobs, c.outboxState(ctx))
	}
	drainedAt := time.Now()

	// What the dead replicas held was taken over once their leases ran out.
	took := c.takeovers(ctx, k1, k2)

	// The replacements stop cleanly on SIGTERM.
	for _, r := range c.slots {
		if err := r.stop(10 * time.Second); err != nil {
			t.Errorf("replica %s: %v", r.name, err)
		}
	}

	db, err := openStore(ctx, testEnv{"MAMORI_DB": dbURL, "MAMORI_ENCRYPTION_KEY": key}.get, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	policy := builtinPolicy(t)

	// 1. Every acknowledged step is stored.
	for _, r := range reps {
		checkStored(t, db, r)
	}

	// 2. No case is filed twice and none is lost: one case per finished
	// report, numbered 1…n without a gap.
	numbers := checkCases(t, raw, reps)

	// 3. Every message the outbox holds went to Slack exactly once, except
	// in the one window the README names.
	dups := c.checkExactlyOnce(ctx, db, took.outbox)

	// 4. Every case's reminder job is done and had its effect once, even
	// the one run again after a kill; the reminder, the receipt and the
	// card arrived (how often is check 3's to judge).
	c.checkPerCase(ctx, policy, reps, numbers, took)

	// The audit trail is intact after the kills.
	if out, _, err := runErr(testEnv{"MAMORI_DB": dbURL, "MAMORI_ENCRYPTION_KEY": key}, "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("mamori audit verify = %q, %v", out, err)
	}

	same, retried := 0, 0
	for _, r := range reps {
		same += r.sameTwice
		retried += len(r.retries)
		for _, n := range r.retries {
			t.Logf("%s: %s", r.id, n)
		}
	}
	if same > 0 {
		t.Logf("%d steps went to the replica of the step before, because the other one was down", same)
	}
	t.Logf("summary: %d reporters, %d cases, %d steps acknowledged (by replica: %v), %d requests answered only when sent again, %d Slack posts and updates, %d leased items taken over after their lease (%d jobs, %d messages), %d duplicates in the documented window; driven in %s, drained in %s, %s in all",
		len(reps), len(numbers), ackedSteps(reps), c.ackedBy(), retried,
		len(c.api.Calls("chat.postMessage", "chat.update")), len(took.jobs)+len(took.outbox), len(took.jobs), len(took.outbox), dups,
		drivenAt.Sub(began).Round(time.Millisecond), drainedAt.Sub(drivenAt).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// replicaConfig is slackConfig with the reporters as members and a take
// deadline of a few seconds, so that a reminder job runs during the test.
// The judge deadline is far off: its escalations repeat.
func replicaConfig(reps []*person) string {
	members := map[string][]string{}
	for _, r := range reps {
		members[r.dept] = append(members[r.dept], r.id)
	}
	// slackConfig, with the deadlines and these members.
	cfg := strings.NewReplacer(
		"remind_after: 24h\n", fmt.Sprintf("remind_after: 24h\ndeadlines:\n  take: %s\n  urgent_take: %s\n  judge: 1000h\n  urgent_judge: 1000h\n", takeAfter, takeAfter),
		"members: [U0TANAKA]", "members: ["+strings.Join(members["store"], ", ")+"]",
		"members: [U0YAMADA]", "members: ["+strings.Join(members["support"], ", ")+"]",
	).Replace(slackConfig)
	if strings.Count(cfg, "deadlines:") != 1 || strings.Contains(cfg, "U0TANAKA") {
		panic("replicaConfig: slackConfig changed its shape")
	}
	return cfg
}

// reportInput is one thing a reporter does: the slash command, typed
// text, a button or the behaviours' checkboxes.
type reportInput struct {
	step  string // the question it answers; "" for the slash command
	kind  string // command, say, click, tick
	value string // the text typed, or the button's value
	ticks []int  // tick: the options checked, by index
}

// reportPlan is a whole report, from /kasuhara to submit; its free-text
// answers carry the reporter's number, so each is known for its own.
func reportPlan(i int) []reportInput {
	tag := fmt.Sprintf("R%02d ", i)
	return []reportInput{
		{kind: "command", value: "report"},
		{step: "safety", kind: "click", value: "safe"},
		{step: "for_whom", kind: "click", value: "self"},
		{step: "when", kind: "say", value: tag + "昨日の15時ごろ"},
		{step: "narrative", kind: "say", value: tag + "大声で三十分怒鳴られ、カウンターを叩かれた"},
		{step: "channel", kind: "click", value: []string{"in_person", "phone"}[i%2]},
		{step: "place", kind: "say", value: tag + "新宿店のレジ"},
		{step: "customer", kind: "say", value: tag + "青い帽子の常連客"},
		{step: "customer_id", kind: "say", value: fmt.Sprintf("会員番号 M-%05d", i)},
		{step: "demand", kind: "say", value: tag + "返金と店長の土下座"},
		{step: "behaviours", kind: "tick", ticks: []int{i % 5, 5 + i%6}},
		{step: "words", kind: "say", value: tag + "「辞めさせてやる」と何度も言われた"},
		{step: "duration", kind: "click", value: "under30"},
		{step: "repeat", kind: "click", value: "first"},
		{step: "witnesses", kind: "say", value: tag + "同僚の鈴木さん"},
		{step: "evidence", kind: "click", value: "recording"},
		{step: "fault", kind: "click", value: "no"},
		{step: "wellbeing", kind: "click", value: "hard"},
		{step: "talk", kind: "click", value: []string{"no", "no", "yes"}[i%3]},
		{step: "route", kind: "click", value: mamori.RouteDepartment},
		{step: "summary", kind: "click", value: "submit"},
	}
}

// answerOf is what the store holds for the question step.
func answerOf(a mamori.Answers, step string) string {
	switch step {
	case "safety":
		return a.Safety
	case "for_whom":
		return a.ForWhom
	case "when":
		return a.When
	case "channel":
		return a.Channel
	case "place":
		return a.Place
	case "customer":
		return a.Customer
	case "customer_id":
		return a.CustomerIDs
	case "demand":
		return a.Demand
	case "fault":
		return a.Fault
	case "behaviours":
		return strings.Join(a.Behaviours, ",")
	case "narrative":
		return a.Narrative
	case "words":
		return a.Words
	case "duration":
		return a.Duration
	case "repeat":
		return a.Repeat
	case "witnesses":
		return a.Witnesses
	case "evidence":
		return a.Evidence
	case "wellbeing":
		return a.Wellbeing
	case "talk":
		return a.Talk
	case "route":
		return a.Route
	}
	return ""
}

// person is one reporter, and what happened to their requests.
type person struct {
	id      string
	dept    string
	channel string // the department's supervisor channel
	inputs  []reportInput
	stop    int // how many inputs they send: len(inputs) for a whole report

	acked     atomic.Int32 // inputs acknowledged (HTTP 200), in order
	ticked    string       // the behaviours' values checked
	number    string       // the case number of the receipt
	last      int          // the slot the previous input went to
	seen      int          // DM posts already read
	sameTwice int          // inputs sent to the replica of the one before (the other was down)
	retries   []string     // requests that got no answer at first
	err       error
}

// finished reports whether r sends a whole report.
func (r *person) finished() bool { return r.stop == len(r.inputs) }

func ackedSteps(rs []*person) int {
	n := 0
	for _, r := range rs {
		n += int(r.acked.Load())
	}
	return n
}

func plannedSteps(rs []*person) int {
	n := 0
	for _, r := range rs {
		n += r.stop
	}
	return n
}

// replicaRig is the replicas, the fake Slack in front of them and the
// test's own connection to their database.
type replicaRig struct {
	t      *testing.T
	api    *slacktest.Server
	raw    *sql.DB
	dbURL  string
	tag    string // in the replicas' application_name, to find their sessions
	env    []string
	client *http.Client
	seq    atomic.Int64

	mu      sync.Mutex
	slots   [2]*replica // the two replicas running; a replacement takes the slot of the one killed
	started int
	acks    map[string]int
}

// replica is one `mamori serve` process.
type replica struct {
	name     string
	cmd      *exec.Cmd
	logs     *syncBuffer
	base     string
	proxy    *slackProxy // its way to the fake Slack
	exited   chan struct{}
	err      error // how the process ended, once exited is closed
	down     atomic.Bool
	requests atomic.Int32 // requests to it under way
}

// start runs a replica and waits until it answers /healthz. It is killed
// when the test ends, whatever happens.
func (c *replicaRig) start(name string) (*replica, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(c.dbURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("application_name", c.appName(name)) // which replica a session is, in pg_stat_activity
	u.RawQuery = q.Encode()
	r := &replica{name: name, logs: &syncBuffer{}, exited: make(chan struct{}), proxy: newSlackProxy(c.t, c.api.URL)}
	r.cmd = exec.Command(exe, "serve")
	r.cmd.Env = append(slices.Clone(c.env), "MAMORI_DB="+u.String(), "SLACK_API_URL="+r.proxy.srv.URL+"/api/", replicaEnv+"=1")
	r.cmd.Stdout = r.logs
	r.cmd.Stderr = r.logs
	// Should the test binary itself die, its replicas die with it.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start replica %s: %w", name, err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.exited) }()
	c.t.Cleanup(func() {
		r.down.Store(true)
		r.cmd.Process.Kill()
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			c.t.Errorf("replica %s did not exit after SIGKILL", name)
		}
		if c.t.Failed() {
			c.t.Logf("replica %s logs:\n%s", name, lastLines(r.logs.String(), 60))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-r.exited:
			return nil, fmt.Errorf("replica %s stopped at once: %v\n%s", name, r.err, r.logs.String())
		default:
		}
		if r.base == "" {
			if addr := listening(r.logs.String()); addr != "" {
				r.base = "http://" + addr
			}
		}
		if r.base != "" {
			if resp, err := c.client.Get(r.base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return r, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("replica %s: no /healthz after 15 s\n%s", name, r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *replica) signal(s os.Signal) error {
	if err := r.cmd.Process.Signal(s); err != nil {
		return fmt.Errorf("replica %s: %v: %w", r.name, s, err)
	}
	return nil
}

// kill ends the replica with SIGKILL: no shutdown, no deferred work.
func (r *replica) kill() {
	r.down.Store(true)
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

// stop asks the replica to stop (SIGTERM) and wants a clean exit.
func (r *replica) stop(timeout time.Duration) error {
	r.down.Store(true)
	if err := r.signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-r.exited:
		if r.err != nil {
			return fmt.Errorf("exited with %v after SIGTERM", r.err)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("did not stop within %s of SIGTERM", timeout)
	}
}

// lastLines is the end of a replica's log, for a failure.
func lastLines(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// pollUntil polls cond every poll until it holds, for at most d; it reports
// whether it held.
func pollUntil(ctx context.Context, d, poll time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(poll)
	}
}

// next returns the slot of the replica an input goes to: the other one
// than the input before, unless that one is down.
func (c *replicaRig) next(last int) (int, *replica) {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := 1 - last
	if r := c.slots[want]; r != nil && !r.down.Load() {
		return want, r
	}
	return last, c.slots[last]
}

// ackedBy counts the steps each replica acknowledged.
func (c *replicaRig) ackedBy() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.acks)
}

// deliver sends a signed request as Slack would until a replica answers
// 200. A request that gets no answer or an error is sent again, to the
// other replica, with the same body: Slack retries events with the same
// event_id (and X-Slack-Retry-Num); a click or command sent again carries
// the same action_ts or trigger_id, which Mamori takes as the same
// delivery.
func (c *replicaRig) deliver(r *person, path, contentType string, body []byte) error {
	slot, rep := c.next(r.last)
	if slot == r.last {
		r.sameTwice++
	}
	var failures []string
	for attempt := range 6 {
		code, err := c.post(rep, path, contentType, body, attempt)
		if err == nil && code == http.StatusOK {
			r.last = slot
			c.mu.Lock()
			if c.acks == nil {
				c.acks = map[string]int{}
			}
			c.acks[rep.name]++
			c.mu.Unlock()
			if attempt > 0 {
				r.retries = append(r.retries, fmt.Sprintf("%s %s: %s; then answered by %s", path, r.step(), strings.Join(failures, "; "), rep.name))
			}
			return nil
		}
		if err == nil {
			err = fmt.Errorf("HTTP %d", code)
		}
		failures = append(failures, fmt.Sprintf("%s: %v", rep.name, err))
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
		slot, rep = c.next(slot)
	}
	return fmt.Errorf("%s %s was never acknowledged: %s", path, r.step(), strings.Join(failures, "; "))
}

// step names the input being sent, for messages.
func (r *person) step() string {
	n := int(r.acked.Load())
	if n >= len(r.inputs) {
		return "?"
	}
	if s := r.inputs[n].step; s != "" {
		return "(answer to " + s + ")"
	}
	return "(/kasuhara)"
}

func (c *replicaRig) post(r *replica, path, contentType string, body []byte, attempt int) (int, error) {
	r.requests.Add(1)
	defer r.requests.Add(-1)
	req, err := http.NewRequest(http.MethodPost, r.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	for k, v := range slacktest.Sign(testSecret, time.Now(), body) {
		req.Header[k] = v
	}
	if attempt > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(attempt))
		req.Header.Set("X-Slack-Retry-Reason", "http_error")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// nextID returns a new trigger id, event id or timestamp.
func (c *replicaRig) nextID(prefix string) string {
	return fmt.Sprintf("%s%06d", prefix, c.seq.Add(1))
}

// drive plays one reporter: each input once its question is in the DM,
// each to the other replica than the one before.
func (c *replicaRig) drive(ctx context.Context, r *person) {
	for k := range r.stop {
		if ctx.Err() != nil {
			r.err = fmt.Errorf("out of time after %d acknowledged steps", k)
			return
		}
		in := r.inputs[k]
		var b blocks
		if in.step != "" {
			var err error
			if b, err = c.question(ctx, r, in.step); err != nil {
				r.err = fmt.Errorf("after %d acknowledged steps: %w", k, err)
				return
			}
		}
		path, contentType, body, err := c.request(r, in, b)
		if err == nil {
			err = c.deliver(r, path, contentType, body)
		}
		if err != nil {
			r.err = err
			return
		}
		r.acked.Store(int32(k + 1))
	}
	if !r.finished() {
		// The question after the last acknowledged answer was asked.
		if _, err := c.question(ctx, r, r.inputs[r.stop].step); err != nil {
			r.err = fmt.Errorf("after its last acknowledged step: %w", err)
		}
		return
	}
	p, err := c.waitDM(ctx, r, "the receipt with a case number", func(p posted) bool { return caseNumber.MatchString(p.text) })
	if err != nil {
		r.err = fmt.Errorf("after submitting: %w", err)
		return
	}
	r.number = caseNumber.FindString(p.text)
}

// question waits for the DM asking step.
func (c *replicaRig) question(ctx context.Context, r *person, step string) (blocks, error) {
	p, err := c.waitDM(ctx, r, "the question "+step, func(p posted) bool { return p.blocks.hasStep(step) })
	if err != nil {
		return nil, err
	}
	// Typed text may only answer a question marked sent: wait for that
	// (a replica killed mid-post leaves it pending until its lease ends).
	env := testEnv{"MAMORI_DB": c.dbURL}
	for _, kv := range c.env {
		if k, v, _ := strings.Cut(kv, "="); k == "MAMORI_ENCRYPTION_KEY" {
			env[k] = v
		}
	}
	return p.blocks, delivered(env, mamori.PlatformSlack, r.id, 25*time.Second)
}

// waitDM waits for a post in r's DM, after those already read, that match
// accepts. The wait covers a lease left by the killed replica.
func (c *replicaRig) waitDM(ctx context.Context, r *person, what string, match func(posted) bool) (posted, error) {
	channel := "D" + r.id
	deadline := time.Now().Add(25 * time.Second)
	for {
		i := 0
		for _, call := range c.api.Calls("chat.postMessage") {
			if call.Error != "" || call.Channel() != channel {
				continue
			}
			i++
			if i <= r.seen {
				continue
			}
			p := posted{channel: channel, text: call.Get("text") + "\n" + call.Get("blocks")}
			if s := call.Get("blocks"); s != "" {
				if err := json.Unmarshal([]byte(s), &p.blocks); err != nil {
					return posted{}, err
				}
			}
			if match(p) {
				r.seen = i
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return posted{}, fmt.Errorf("no %s in the DM after 25 s (%d posts there, %d read)", what, i, r.seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// request builds what Slack sends for in, given the question's blocks.
func (c *replicaRig) request(r *person, in reportInput, b blocks) (path, contentType string, body []byte, err error) {
	switch in.kind {
	case "command":
		return "/slack/commands", formType, []byte(url.Values{
			"token":        {"legacy-verification-token"},
			"team_id":      {slacktest.TeamID},
			"channel_id":   {"C0GENERAL"},
			"channel_name": {"general"},
			"user_id":      {r.id},
			"command":      {"/kasuhara"},
			"text":         {in.value},
			"trigger_id":   {c.nextID("trigger.")},
			"response_url": {"https://hooks.slack.com/commands/T0000001/1/x"},
		}.Encode()), nil
	case "say":
		ts := c.nextID("1700000100.")
		body, err = json.Marshal(map[string]any{
			"token":      "legacy-verification-token",
			"team_id":    slacktest.TeamID,
			"api_app_id": "A0MAMORI",
			"type":       "event_callback",
			"event_id":   c.nextID("Ev"),
			"event_time": time.Now().Unix(),
			"event": map[string]any{"type": "message", "channel_type": "im", "channel": "D" + r.id,
				"user": r.id, "text": in.value, "ts": ts, "event_ts": ts},
		})
		return "/slack/events", "application/json", body, err
	case "click":
		action, err := c.buttonIn(b, in.value)
		if err != nil {
			return "", "", nil, err
		}
		body, err = c.interaction(r, b, action, nil)
		return "/slack/interactivity", formType, body, err
	case "tick":
		action, state, values, err := c.tickIn(b, in.ticks)
		if err != nil {
			return "", "", nil, err
		}
		r.ticked = strings.Join(values, ",")
		body, err = c.interaction(r, b, action, state)
		return "/slack/interactivity", formType, body, err
	}
	return "", "", nil, fmt.Errorf("unknown input %q", in.kind)
}

// buttonIn is slackRig.button without a test to fail.
func (c *replicaRig) buttonIn(b blocks, value string) (map[string]any, error) {
	ids, elems := b.elements()
	for i, e := range elems {
		if e["type"] == "button" && e["value"] == value {
			return map[string]any{"type": "button", "block_id": ids[i], "action_id": e["action_id"],
				"value": value, "text": e["text"], "action_ts": c.nextID("1700000200.")}, nil
		}
	}
	return nil, fmt.Errorf("no button with value %q in %v", value, b)
}

// tickIn is slackRig.tick without a test to fail: it checks the options
// at the indexes ticks and presses submit.
func (c *replicaRig) tickIn(b blocks, ticks []int) (action, state map[string]any, values []string, err error) {
	opts := b.options()
	want := map[string]bool{}
	for _, i := range ticks {
		if i >= len(opts) {
			return nil, nil, nil, fmt.Errorf("no option %d among %v", i, opts)
		}
		want[opts[i]] = true
		values = append(values, opts[i])
	}
	state = map[string]any{}
	ids, elems := b.elements()
	for i, e := range elems {
		switch e["type"] {
		case "checkboxes":
			selected := []any{}
			list, _ := e["options"].([]any)
			for _, o := range list {
				if om, _ := o.(map[string]any); want[fmt.Sprint(om["value"])] {
					selected = append(selected, om)
				}
			}
			state[ids[i]] = map[string]any{fmt.Sprint(e["action_id"]): map[string]any{"type": "checkboxes", "selected_options": selected}}
		case "button":
			if strings.HasPrefix(ids[i], "submit/") {
				action = map[string]any{"type": "button", "block_id": ids[i], "action_id": e["action_id"],
					"value": e["value"], "action_ts": c.nextID("1700000200.")}
			}
		}
	}
	if action == nil {
		return nil, nil, nil, fmt.Errorf("no submit button in %v", b)
	}
	return action, state, values, nil
}

// interaction is the block_actions payload of a click in r's DM, as
// slackRig.interact sends it.
func (c *replicaRig) interaction(r *person, b blocks, action, state map[string]any) ([]byte, error) {
	p := map[string]any{
		"type":       "block_actions",
		"api_app_id": "A0MAMORI",
		"token":      "legacy-verification-token",
		"team":       map[string]any{"id": slacktest.TeamID, "domain": "test"},
		"user":       map[string]any{"id": r.id, "team_id": slacktest.TeamID},
		"trigger_id": c.nextID("trigger."),
		"container":  map[string]any{"type": "message", "channel_id": "D" + r.id, "is_ephemeral": false},
		"channel":    map[string]any{"id": "D" + r.id},
		"message":    map[string]any{"type": "message", "user": slacktest.BotUserID, "blocks": b},
		"actions":    []any{action},
	}
	if state != nil {
		p["state"] = map[string]any{"values": state}
	}
	j, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return []byte(url.Values{"payload": {string(j)}}.Encode()), nil
}

// leases is what was leased when a replica died.
type leases struct {
	outbox, jobs map[int64]leaseRow // by id
	ran          []int64            // pending jobs whose run is recorded: their work is committed
}

// leaseRow is one leased outbox item or job.
type leaseRow struct {
	until    int64 // the lease's end, in Unix milliseconds
	attempts int   // claims so far
}

// leased reads what is leased at at: the items and jobs of the replica
// just killed, and those the live ones are working on.
func (c *replicaRig) leased(ctx context.Context, at time.Time) leases {
	rows := func(table string) map[int64]leaseRow {
		c.t.Helper()
		r, err := c.raw.QueryContext(ctx, `SELECT id, lease_until, attempts FROM `+table+` WHERE status = 'pending' AND lease_until > $1`, at.UnixMilli())
		if err != nil {
			c.t.Fatal(err)
		}
		defer r.Close()
		m := map[int64]leaseRow{}
		for r.Next() {
			var id int64
			var l leaseRow
			if err := r.Scan(&id, &l.until, &l.attempts); err != nil {
				c.t.Fatal(err)
			}
			m[id] = l
		}
		if err := r.Err(); err != nil {
			c.t.Fatal(err)
		}
		return m
	}
	return leases{outbox: rows("outbox"), jobs: rows("jobs"),
		ran: c.ids(ctx, `SELECT id FROM jobs j WHERE status = 'pending' AND EXISTS (SELECT 1 FROM seen WHERE key = 'job:' || j.id) ORDER BY id`)}
}

// takeover is what the live replicas took over from the dead ones once
// the leases ran out.
type takeover struct {
	// outbox and jobs are the messages and jobs taken over, each by the
	// last kill before which it was leased: by then its holder was dead.
	outbox map[int64]time.Time
	jobs   map[int64]time.Time
	reran  []int64 // jobs whose work was committed before the kill, run again
}

// takeovers finds, among what was leased at the kills, what was done only
// after its lease had run out, claimed again: a dead replica's, taken
// over. A live replica's item is done within milliseconds of its claim
// and a send is cut off at a third of the lease, so it is done before its
// lease ends. Which of the dead held an item claimed before both kills
// the database does not say; the replica killed in a job held the job,
// the one killed while posting the messages. It wants that job run again
// and a message taken over.
func (c *replicaRig) takeovers(ctx context.Context, jobKill, sendKill *replicaKill) takeover {
	t := c.t
	t.Helper()
	took := takeover{outbox: map[int64]time.Time{}, jobs: map[int64]time.Time{}}
	var notes [2][]string
	for i, tb := range []struct {
		table, done string
		held        func(*replicaKill) map[int64]leaseRow
		into        map[int64]time.Time
	}{
		{"jobs", "done_at", func(k *replicaKill) map[int64]leaseRow { return k.held.jobs }, took.jobs},
		{"outbox", "sent_at", func(k *replicaKill) map[int64]leaseRow { return k.held.outbox }, took.outbox},
	} {
		// Each lease, with the kills it was there at.
		type lease struct {
			leaseRow
			kill  *replicaKill // the last
			kills []string
		}
		leased := map[int64]lease{}
		for _, k := range []*replicaKill{jobKill, sendKill} {
			for id, l := range tb.held(k) {
				prev, ok := leased[id]
				switch {
				case ok && prev.until == l.until:
					leased[id] = lease{l, k, append(prev.kills, k.victim.name)}
				case !ok || prev.until < l.until:
					leased[id] = lease{l, k, []string{k.victim.name}}
				}
			}
		}
		for _, id := range slices.Sorted(maps.Keys(leased)) {
			l := leased[id]
			var (
				status   string
				attempts int
				done     sql.NullInt64
			)
			if err := c.raw.QueryRowContext(ctx, `SELECT status, attempts, `+tb.done+` FROM `+tb.table+` WHERE id = $1`, id).Scan(&status, &attempts, &done); err != nil {
				t.Fatalf("%s %d: %v", tb.table, id, err)
			}
			if !done.Valid || done.Int64 < l.until {
				continue // a live replica's, done in its lease
			}
			if attempts <= l.attempts {
				t.Errorf("%s %d was done after its lease ran out, but not claimed again: %d attempts, %d at the kill", tb.table, id, attempts, l.attempts)
			}
			tb.into[id] = l.kill.at
			// Times from the first kill.
			end := time.UnixMilli(l.until)
			from := func(at time.Time) string { return fmt.Sprintf("%+.2fs", at.Sub(jobKill.at).Seconds()) }
			notes[i] = append(notes[i], fmt.Sprintf("%d (claimed %s, leased at the kill of %s, lease out %s, done %s)", id,
				from(end.Add(-replicaLease)), strings.Join(l.kills, " and "), from(end), from(time.UnixMilli(done.Int64))))
		}
	}
	for _, id := range jobKill.held.ran {
		if _, ok := took.jobs[id]; ok {
			took.reran = append(took.reran, id)
		}
	}
	t.Logf("%d leases the dead replicas left ran out and were taken over (times from %s's kill; %s's at %s): jobs %v, of which run again after their work was committed %v; messages %v",
		len(took.jobs)+len(took.outbox), jobKill.victim.name, sendKill.victim.name, fmt.Sprintf("%+.2fs", sendKill.at.Sub(jobKill.at).Seconds()),
		notes[0], took.reran, notes[1])
	if len(took.reran) == 0 {
		t.Errorf("%s was killed after its job's work was committed (pending jobs with a recorded run: %v), but none of them was run again after its lease", jobKill.victim.name, jobKill.held.ran)
	}
	if len(took.outbox) == 0 {
		t.Errorf("%s was killed while posting, but no message was taken over after its lease", sendKill.victim.name)
	}
	return took
}

func (c *replicaRig) ids(ctx context.Context, query string, args ...any) []int64 {
	c.t.Helper()
	rows, err := c.raw.QueryContext(ctx, query, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			c.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	return ids
}

// outboxState lists the outbox items not sent and the jobs not done, for
// a failure message.
func (c *replicaRig) outboxState(ctx context.Context) string {
	var b strings.Builder
	rows, err := c.raw.QueryContext(ctx, `SELECT 'outbox', id, key, status, attempts, COALESCE(lease_until, 0), next_at, last_error FROM outbox WHERE status <> 'sent'
		UNION ALL SELECT 'job', id, key, status, attempts, COALESCE(lease_until, 0), due, kind FROM jobs WHERE status = 'pending' ORDER BY 1, 2`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	now := time.Now().UnixMilli()
	for rows.Next() {
		var (
			what, key, status, note string
			id, lease, due          int64
			attempts                int
		)
		if err := rows.Scan(&what, &id, &key, &status, &attempts, &lease, &due, &note); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "  %s %d %s %s attempts=%d lease=%+dms due=%+dms %s\n", what, id, key, status, attempts, lease-now, due-now, note)
	}
	return b.String()
}

// checkStored wants the store to hold every step r had acknowledged: a
// finished report as one case with every answer, an unfinished one as a
// conversation waiting at the next question with the answers so far.
func checkStored(t *testing.T, db storeDB, r *person) {
	t.Helper()
	var (
		cases []mamori.Case
		conv  mamori.Conversation
		err   error // the conversation's
	)
	userKey := mamori.PlatformSlack + ":" + r.id
	if verr := db.View(context.Background(), func(tx mamori.Tx) error {
		var cerr error
		if cases, cerr = tx.CasesOf(userKey); cerr != nil {
			return cerr
		}
		conv, err = tx.Conversation(userKey)
		return nil
	}); verr != nil {
		t.Fatalf("%s: %v", r.id, verr)
	}
	want := func(in reportInput) string {
		if in.kind == "tick" {
			return r.ticked
		}
		return in.value
	}
	if r.finished() {
		if len(cases) != 1 {
			t.Errorf("%s sent one report and has %d cases", r.id, len(cases))
			return
		}
		k := cases[0]
		if k.Number != r.number {
			t.Errorf("%s was told case %s, but its case is %s", r.id, r.number, k.Number)
		}
		if k.Department != r.dept || k.Channel != r.channel || k.Status != mamori.StatusNew {
			t.Errorf("%s's case %s: department %q channel %q status %q, want %q %q %q", r.id, k.Number, k.Department, k.Channel, k.Status, r.dept, r.channel, mamori.StatusNew)
		}
		for _, in := range r.inputs {
			if in.step == "" || in.step == "summary" {
				continue
			}
			if got := answerOf(k.Answers, in.step); got != want(in) {
				t.Errorf("%s's case %s: %s is %q, want %q", r.id, k.Number, in.step, got, want(in))
			}
		}
		if !errors.Is(err, mamori.ErrNotFound) {
			t.Errorf("%s: a conversation is left after the report was filed (%v): step %q", r.id, err, conv.Step)
		}
		return
	}
	if len(cases) != 0 {
		t.Errorf("%s never submitted but has %d cases", r.id, len(cases))
	}
	if err != nil {
		t.Errorf("%s: no conversation after %d acknowledged steps: %v", r.id, r.stop, err)
		return
	}
	if next := r.inputs[r.stop].step; conv.Flow != mamori.FlowReport || conv.Step != next {
		t.Errorf("%s stopped before %s but the stored conversation is at %s/%s", r.id, next, conv.Flow, conv.Step)
	}
	for i, in := range r.inputs {
		if in.step == "" || in.step == "summary" {
			continue
		}
		got, w := answerOf(conv.Answers, in.step), ""
		if i < r.stop {
			w = want(in)
		}
		if got != w {
			t.Errorf("%s's conversation: %s is %q, want %q (%d steps acknowledged)", r.id, in.step, got, w, r.stop)
		}
	}
}

// checkCases wants one case per finished report, numbered KH-<year>-0001
// to n with no number twice and none missing, and returns each one's
// channel by number.
func checkCases(t *testing.T, raw *sql.DB, reps []*person) map[string]string {
	t.Helper()
	rows, err := raw.Query(`SELECT number, reporter_key, channel FROM cases ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	channels := map[string]string{}
	reporters := map[string]int{}
	var numbers []string
	for rows.Next() {
		var number, reporterKey, channel string
		if err := rows.Scan(&number, &reporterKey, &channel); err != nil {
			t.Fatal(err)
		}
		if _, dup := channels[number]; dup {
			t.Errorf("case number %s is used twice", number)
		}
		channels[number] = channel
		reporters[reporterKey]++
		numbers = append(numbers, number)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	finished := 0
	for _, r := range reps {
		if r.finished() {
			finished++
		}
	}
	if len(numbers) != finished {
		t.Errorf("%d cases for %d finished reports: %v", len(numbers), finished, numbers)
	}
	for k, n := range reporters {
		if n != 1 {
			t.Errorf("%s filed %d cases", k, n)
		}
	}
	slices.Sort(numbers)
	for i, n := range numbers {
		if !strings.HasSuffix(n, fmt.Sprintf("-%04d", i+1)) {
			t.Errorf("case numbers are not 1…%d without a gap: %v", len(numbers), numbers)
			break
		}
	}
	return channels
}

// checkExactlyOnce compares what the outbox says it sent with what Slack
// received: for every channel (a DM is D+user) and message text, as many
// posts and updates as sent items. More is allowed only in the window
// the README names — the killed replica's send had reached Slack, its
// item was not yet marked sent, and it went again after its lease — and
// is counted. dead is the items taken over from the killed replicas, by
// the kill. It returns how many such duplicates there were.
func (c *replicaRig) checkExactlyOnce(ctx context.Context, db storeDB, dead map[int64]time.Time) int {
	t := c.t
	t.Helper()
	type key struct{ channel, text string }
	items, err := db.ListOutbox(ctx, mamori.OutboxSent, 0)
	if err != nil {
		t.Fatal(err)
	}
	sent := map[key][]int64{}
	for _, it := range items {
		ch := it.Target.ID
		if it.Target.Kind == mamori.TargetUser {
			ch = "D" + ch
		}
		k := key{ch, slack.Fallback(it.Message)}
		sent[k] = append(sent[k], it.ID)
	}
	got := map[key][]slacktest.Call{}
	for _, call := range c.api.Calls() {
		if call.Error != "" || call.Status != http.StatusOK {
			t.Errorf("Slack answered %s with %d %s", call.Method, call.Status, call.Error)
			continue
		}
		if call.Method != "chat.postMessage" && call.Method != "chat.update" {
			continue
		}
		k := key{call.Channel(), call.Get("text")}
		got[k] = append(got[k], call)
	}
	dups := 0
	for k, calls := range got {
		ids := sent[k]
		extra := len(calls) - len(ids)
		if extra <= 0 {
			continue
		}
		// The window: items a killed replica left leased, taken over after
		// the lease, of which Slack had received a copy before the kill.
		held, early := 0, 0
		var killed time.Time
		for _, id := range ids {
			if at, ok := dead[id]; ok {
				held++
				if at.After(killed) {
					killed = at
				}
			}
		}
		for _, call := range calls {
			if call.At.Before(killed) {
				early++
			}
		}
		if extra <= held && extra <= early {
			dups += extra
			t.Logf("duplicate in the documented window: %d more to %s than sent (outbox items %v, left leased by a killed replica and taken over; %d copies reached Slack before its kill): %.60q",
				extra, k.channel, ids, early, k.text)
			continue
		}
		t.Errorf("%s got %d posts of a message the outbox sent %d times (items %v; %d of them left by a killed replica): %.80q",
			k.channel, len(calls), len(ids), ids, held, k.text)
	}
	for k, ids := range sent {
		if n := len(got[k]); n < len(ids) {
			t.Errorf("outbox items %v are marked sent, but %s got %d of them: %.80q", ids, k.channel, n, k.text)
		}
	}
	return dups
}

// guardedJobs are the kinds of job that record their run in seen, in
// their own transaction (flows.ranBefore), so that one run twice changes
// nothing.
var guardedJobs = []string{takeReminder, escalation, "conversation.remind", "care.checkin", "care.task_reminder"}

// checkPerCase wants, for every case, its reminder job done once: its run
// recorded, one entry in the audit trail and one message in the outbox,
// claimed once unless a killed replica held it; its escalation scheduled
// once and not run; its filing audited once; and the reminder, the
// receipt in the reporter's DM and the card in the channel in Slack. More
// than one post is for checkExactlyOnce to judge; it is logged here.
func (c *replicaRig) checkPerCase(ctx context.Context, policy *mamori.Policy, reps []*person, channels map[string]string, took takeover) {
	t := c.t
	t.Helper()
	query := func(scan func(*sql.Rows) error, q string, args ...any) {
		t.Helper()
		rows, err := c.raw.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	type job struct {
		id       int64
		status   string
		attempts int
		ran      bool // its run is recorded in seen
		message  string
	}
	jobs := map[string]job{}
	query(func(rows *sql.Rows) error {
		var k string
		var j job
		var msg sql.NullString
		if err := rows.Scan(&k, &j.id, &j.status, &j.attempts, &j.ran, &msg); err != nil {
			return err
		}
		if _, dup := jobs[k]; dup {
			t.Errorf("reminder job %s twice", k)
		}
		j.message = msg.String
		jobs[k] = j
		return nil
	}, `SELECT j.key, j.id, j.status, j.attempts, EXISTS (SELECT 1 FROM seen WHERE key = 'job:' || j.id), o.status
		FROM jobs j LEFT JOIN outbox o ON o.key = 'job:' || j.id WHERE j.kind = $1`, takeReminder)
	escalations := map[string]int{}
	query(func(rows *sql.Rows) error {
		var k, status string
		if err := rows.Scan(&k, &status); err != nil {
			return err
		}
		number, _, _ := strings.Cut(strings.TrimPrefix(k, escalation+":"), ":")
		escalations[number]++
		if status != "pending" {
			t.Errorf("escalation %s is %s, but none falls due in the test", k, status)
		}
		return nil
	}, `SELECT key, status FROM jobs WHERE kind = $1`, escalation)
	audits := map[[2]string]int{}
	query(func(rows *sql.Rows) error {
		var action, subject string
		var n int
		if err := rows.Scan(&action, &subject, &n); err != nil {
			return err
		}
		audits[[2]string{action, subject}] = n
		return nil
	}, `SELECT action, subject, count(*) FROM audit GROUP BY action, subject`)
	// Every guarded job that is done has its run recorded.
	query(func(rows *sql.Rows) error {
		var id int64
		var kind string
		if err := rows.Scan(&id, &kind); err != nil {
			return err
		}
		t.Errorf("job %d (%s) is done, but its run is not recorded in seen", id, kind)
		return nil
	}, `SELECT id, kind FROM jobs j WHERE status = 'done' AND kind = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM seen WHERE key = 'job:' || j.id)`, guardedJobs)

	once := func(what, channel, want string) {
		t.Helper()
		n := 0
		for _, call := range c.api.Calls("chat.postMessage") {
			if call.Error == "" && call.Channel() == channel && strings.Contains(call.Get("text")+call.Get("blocks"), want) {
				n++
			}
		}
		switch {
		case n == 0:
			t.Errorf("%s never reached %s", what, channel)
		case n > 1:
			t.Logf("%s reached %s %d times", what, channel, n)
		}
	}
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	for _, r := range reps {
		if !r.finished() {
			continue
		}
		number := r.number
		channel := channels[number]
		j, ok := jobs[takeReminder+":"+number]
		if !ok || j.status != "done" {
			t.Errorf("%s: reminder job %+v, want one done", number, j)
		}
		_, tookOver := took.jobs[j.id]
		switch {
		case !j.ran:
			t.Errorf("%s: the reminder job %d is done, but its run is not recorded", number, j.id)
		case j.message != "sent":
			t.Errorf("%s: the reminder job %d's message is %q, want sent", number, j.id, j.message)
		case tookOver && j.attempts < 2:
			t.Errorf("%s: the reminder job %d was taken over after its lease, but claimed %d times", number, j.id, j.attempts)
		case !tookOver && j.attempts != 1:
			t.Errorf("%s: the reminder job %d was claimed %d times, but no killed replica held it", number, j.id, j.attempts)
		}
		if n := audits[[2]string{takeReminder, number}]; n != 1 {
			t.Errorf("%s: the reminder job %d (claimed %d times, run again after a kill: %v) is in the audit trail %d times, want once",
				number, j.id, j.attempts, slices.Contains(took.reran, j.id), n)
		}
		if n := audits[[2]string{string(mamori.KindReport) + ".submitted", number}]; n != 1 {
			t.Errorf("%s: filed %d times in the audit trail, want once", number, n)
		}
		if n := escalations[number]; n != 1 {
			t.Errorf("%s: %d escalations scheduled, want one", number, n)
		}
		once(number+"'s reminder", channel, ja("deadline.take.header", number))
		once(number+"'s receipt", "D"+r.id, ja("submitted.header.report", number))
		once(number+"'s card", channel, `"`+mamori.CardTake+":"+number+`"`)
	}
	for _, id := range took.reran {
		if !slices.ContainsFunc(slices.Collect(maps.Values(jobs)), func(j job) bool { return j.id == id }) {
			t.Logf("job %d, run again after a kill, is no reminder job", id)
		}
	}
}

// replicaKill is one replica killed with SIGKILL.
type replicaKill struct {
	victim   *replica
	slot     int
	how      string
	at       time.Time
	steps    int // steps acknowledged when it died
	requests int // requests to it under way when it died
	posts    int // its chat.postMessage calls under way when it died
	replaced string
	held     leases // what was leased when it died
}

// logKill starts a replacement for the replica k killed and says so.
func (c *replicaRig) logKill(k *replicaKill, began time.Time, steps int) {
	c.t.Helper()
	r, err := c.replace(k)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("%s killed with SIGKILL at %s %s: %d of %d steps acknowledged; %d requests to it and %d of its Slack posts under way; replacement %s up %s later",
		k.victim.name, k.at.Sub(began).Round(time.Millisecond), k.how, k.steps, steps, k.requests, k.posts, r.name, time.Since(k.at).Round(time.Millisecond))
}

func (c *replicaRig) appName(replica string) string { return "mamori-" + c.tag + "-" + replica }

// steps is how many steps the replicas have acknowledged.
func (c *replicaRig) steps() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.acks {
		n += v
	}
	return n
}

func (c *replicaRig) dying(slot int, how string) *replicaKill {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.slots[slot]
	return &replicaKill{victim: r, slot: slot, how: how, requests: int(r.requests.Load()), posts: r.proxy.posts()}
}

// killInJob kills the replica that runs the first reminder job when it
// falls due, in the middle of it: its work committed, the job not yet
// marked done — the window in which a job runs twice. The test holds the
// audit table's lock until a replica waits for it in a job, which names
// the replica; then it holds the rows of the leased jobs and lets the
// audit go, so the job's transaction commits and the replica waits to
// mark it done, lease held, until it dies. A request to it in flight is
// waited for, a second at most.
func (c *replicaRig) killInJob(ctx context.Context) (*replicaKill, error) {
	if !pollUntil(ctx, 30*time.Second, 10*time.Millisecond, func() bool {
		var due sql.NullInt64
		err := c.raw.QueryRowContext(ctx, `SELECT min(due) FROM jobs WHERE status = 'pending' AND kind = $1`, takeReminder).Scan(&due)
		return err == nil && due.Valid && time.UnixMilli(due.Int64).Before(time.Now().Add(300*time.Millisecond))
	}) {
		return nil, errors.New("no reminder job fell due within 30 s")
	}
	audit, err := c.raw.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer audit.Rollback()
	if _, err := audit.ExecContext(ctx, `LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	// The job runner: a session of a replica waiting for the audit lock
	// that has written no case and no conversation (a report being filed
	// has inserted its case; a report cancelled has written its
	// conversation). The job has recorded its run in seen.
	var app string
	if !pollUntil(ctx, 5*time.Second, 2*time.Millisecond, func() bool {
		return c.raw.QueryRowContext(ctx, `SELECT a.application_name FROM pg_stat_activity a
			WHERE a.datname = current_database() AND a.application_name LIKE $1
			AND a.wait_event_type = 'Lock' AND a.query LIKE 'LOCK TABLE audit%'
			AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted AND l.mode = 'RowExclusiveLock'
				AND l.relation IN ('cases'::regclass, 'conversations'::regclass))
			LIMIT 1`, c.appName("%")).Scan(&app) == nil
	}) {
		return nil, errors.New("no replica ran the reminder job within 5 s of its due time")
	}
	slot := slices.IndexFunc(c.slots[:], func(r *replica) bool { return c.appName(r.name) == app })
	if slot < 0 {
		return nil, fmt.Errorf("no replica has the application_name %s", app)
	}
	victim := c.slots[slot]
	// Its job is leased, and stays so while the rows are held: marking it
	// done waits for them. (A live replica's job done meanwhile waits too,
	// until the rows are let go.)
	rows, err := c.raw.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Rollback()
	var held int
	if err := rows.QueryRowContext(ctx, `WITH h AS (SELECT id FROM jobs WHERE status = 'pending' AND lease_until > $1 FOR UPDATE)
		SELECT count(*) FROM h`, time.Now().UnixMilli()).Scan(&held); err != nil {
		return nil, err
	}
	if held == 0 {
		return nil, fmt.Errorf("replica %s waits in a job, but no job is leased", victim.name)
	}
	if err := audit.Rollback(); err != nil {
		return nil, err
	}
	if !pollUntil(ctx, 5*time.Second, 2*time.Millisecond, func() bool {
		var n int
		return c.raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1
			AND wait_event_type = 'Lock' AND query LIKE 'SELECT status FROM jobs%'`, app).Scan(&n) == nil && n > 0
	}) {
		return nil, fmt.Errorf("replica %s did not come to mark its job done within 5 s of the audit lock's release", victim.name)
	}
	pollUntil(ctx, time.Second, time.Millisecond, func() bool { return victim.requests.Load() > 0 })
	k := c.dying(slot, "in the middle of a reminder job (its work committed, the job not marked done)")
	k.steps = c.steps()
	victim.kill()
	k.at = time.Now()
	k.held = c.leased(ctx, k.at)
	if len(k.held.ran) == 0 {
		return nil, fmt.Errorf("replica %s was killed before marking its job done, but no pending job has its run recorded", victim.name)
	}
	return k, rows.Rollback()
}

// killInSend kills the replica in slot while one of its posts is on its
// way to Slack: Slack slows down (300 ms a call) and once the replica has
// a post under way for 100 ms — received by Slack, not yet answered — it
// dies.
// Its item is left unmarked: the one window in which the README says a
// message goes out twice.
func (c *replicaRig) killInSend(ctx context.Context, slot int) (*replicaKill, error) {
	c.api.SetLatency(300 * time.Millisecond)
	defer c.api.SetLatency(slackLatency)
	c.mu.Lock()
	r := c.slots[slot]
	c.mu.Unlock()
	if !pollUntil(ctx, 5*time.Second, time.Millisecond, func() bool { return r.proxy.oldest() >= 100*time.Millisecond }) {
		return nil, fmt.Errorf("replica %s had no post on its way to Slack within 5 s", r.name)
	}
	k := c.dying(slot, "while posting to Slack")
	k.steps = c.steps()
	k.victim.kill()
	k.at = time.Now()
	k.held = c.leased(ctx, k.at)
	return k, nil
}

// replace starts a replica in the place of the one k killed.
func (c *replicaRig) replace(k *replicaKill) (*replica, error) {
	c.mu.Lock()
	c.started++
	name := string(rune('b' + c.started))
	c.mu.Unlock()
	r, err := c.start(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.slots[k.slot] = r
	c.mu.Unlock()
	return r, nil
}

// slackProxy stands between one replica and the fake Slack, and knows
// which of its posts are under way.
type slackProxy struct {
	srv      *httptest.Server
	mu       sync.Mutex
	seq      int
	inflight map[int]time.Time // chat.postMessage calls under way, by arrival
}

func newSlackProxy(t *testing.T, apiURL string) *slackProxy {
	u, err := url.Parse(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	// A replica killed mid-call: nothing to say.
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	p := &slackProxy{inflight: map[int]time.Time{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
			p.mu.Lock()
			p.seq++
			id := p.seq
			p.inflight[id] = time.Now()
			p.mu.Unlock()
			defer func() {
				p.mu.Lock()
				delete(p.inflight, id)
				p.mu.Unlock()
			}()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// posts is how many posts are under way.
func (p *slackProxy) posts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight)
}

// oldest is how long the oldest post under way has been.
func (p *slackProxy) oldest() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var d time.Duration
	for _, at := range p.inflight {
		d = max(d, time.Since(at))
	}
	return d
}
