package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/flows"
)

// These tests drive the binary through run, with real SQLite files in a
// temporary directory and, for serve, a loopback fake of Slack's Web API.

// testEnv is the whole environment run sees: nothing leaks in from the
// machine running the tests.
type testEnv map[string]string

func (e testEnv) get(key string) string { return e[key] }

// newEnv returns an environment with a fresh database and key file.
func newEnv(tb testing.TB) testEnv {
	tb.Helper()
	dir := tb.TempDir()
	return testEnv{
		"MAMORI_DB":       filepath.Join(dir, "mamori.db"),
		"MAMORI_KEY_FILE": filepath.Join(dir, "mamori.key"),
		// The tests' Web API is a fake: no waiting a second a card.
		"MAMORI_SLACK_PACING": "off",
	}
}

// syncBuffer is a bytes.Buffer several goroutines may write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MustRun runs the command in args and returns what it printed.
func MustRun(tb testing.TB, e testEnv, stdin string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr, e.get); err != nil {
		tb.Fatalf("mamori %s: %v\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	if stderr.Len() > 0 {
		tb.Errorf("mamori %s wrote to stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String()
}

// typeChat runs `mamori chat` with lines typed in, one per line.
func typeChat(tb testing.TB, e testEnv, lines []string, args ...string) string {
	tb.Helper()
	return MustRun(tb, e, strings.Join(lines, "\n")+"\n", append([]string{"chat"}, args...)...)
}

// builtinPolicy is the policy of the built-in example configuration, for
// its texts: the tests look for what a person reads, in their language.
func builtinPolicy(tb testing.TB) *mamori.Policy {
	tb.Helper()
	cfg, err := loadConfig("")
	if err != nil {
		tb.Fatal(err)
	}
	return cfg.policy
}

// report is one report typed into the terminal: the free-text answers
// (the confidential ones among them must never reach a channel).
type report struct {
	when, place, customer, demand, narrative, words, witnesses string
	// customerIDs identify the customer in the company's systems.
	customerIDs string
}

var reports = map[mamori.Lang]report{
	mamori.JA: {
		when:        "先週の土曜日、開店直後",
		place:       "新宿店のレジ",
		customer:    "青い帽子の常連客",
		customerIDs: "会員番号 M-20931、携帯 090-4417-2388",
		demand:      "返金と店長の土下座",
		narrative:   "大声で三十分怒鳴られ、カウンターを叩かれた",
		words:       "「辞めさせてやる」と何度も言われた",
		witnesses:   "同僚の鈴木さん",
	},
	mamori.EN: {
		when:        "last Saturday, just after opening",
		place:       "the Shinjuku store till",
		customer:    "regular in a blue cap",
		customerIDs: "member no. M-20931, mobile 090-4417-2388",
		demand:      "a refund and a kneeling apology",
		narrative:   "He shouted at me for thirty minutes and banged the counter",
		words:       "He kept saying he would get me fired",
		witnesses:   "my colleague Suzuki",
	},
}

// firstHalf starts a report from the menu and answers up to the place.
func (r report) firstHalf() []string {
	return []string{
		"1",    // menu: report
		"1",    // safety: safe
		"1",    // for whom: myself
		r.when, // typed, not a button
		r.narrative,
		"1", // contact channel: in person
		r.place,
	}
}

// secondHalf answers the rest and submits.
func (r report) secondHalf() []string {
	return []string{
		r.customer,
		r.customerIDs,
		r.demand,
		"1,3", // behaviours: physical attack, intimidation
		r.words,
		"2", // duration: 10–29 minutes
		"1", // repeat: first time
		r.witnesses,
		"file:rec.m4a", // evidence file, then the evidence answer
		"2",            // evidence: a recording
		"2",            // anything to fix: nothing I know of
		"2",            // wellbeing: a bit hard
		"1",            // talk: yes
		"1",            // route: the department's supervisors
		"1",            // summary: submit
	}
}

func (r report) confidential() []string {
	return []string{r.customer, r.customerIDs, "M-20931", "4417-2388", r.demand, r.narrative, r.words, r.witnesses, r.place}
}

var caseNumber = regexp.MustCompile(`KH-\d{4}-\d{4}`)

// frame returns the channel message printed in the frame titled
// "┌── #channel", or "" when there is none.
func frame(out, channel string) string {
	start := strings.Index(out, "┌── "+channel+" ")
	if start < 0 {
		return ""
	}
	end := strings.Index(out[start:], "└")
	if end < 0 {
		return out[start:]
	}
	return out[start : start+end]
}

// frames returns every channel message printed.
func frames(out string) []string {
	var fs []string
	for rest := out; ; {
		i := strings.Index(rest, "┌── ")
		if i < 0 {
			return fs
		}
		rest = rest[i:]
		j := strings.Index(rest, "└")
		if j < 0 {
			return append(fs, rest)
		}
		fs = append(fs, rest[:j])
		rest = rest[j:]
	}
}

func TestChatReport(t *testing.T) {
	t.Parallel()
	p := builtinPolicy(t)
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		t.Run(string(l), func(t *testing.T) {
			r := reports[l]
			e := newEnv(t)
			lines := append(r.firstHalf(), r.secondHalf()...)
			out := typeChat(t, e, append(lines, "/quit"), "-lang", string(l))

			number := caseNumber.FindString(out)
			if number == "" || !strings.HasSuffix(number, "-0001") {
				t.Fatalf("no case number KH-<year>-0001 in the output:\n%s", out)
			}
			// Every step is in an intact audit trail.
			if v := MustRun(t, e, "", "audit", "verify"); !strings.Contains(v, "audit trail intact") {
				t.Errorf("audit verify: %s", v)
			}
			if trail := MustRun(t, e, "", "audit", "show", number); !strings.Contains(trail, "report.submitted") {
				t.Errorf("audit show %s:\n%s", number, trail)
			}
			if want := fmt.Sprintf(p.T(l, "submitted.header.report"), number); !strings.Contains(out, want) {
				t.Errorf("the reporter was not told %q:\n%s", want, out)
			}
			for _, answer := range append(r.confidential(), r.when, "rec.m4a") {
				if !strings.Contains(out, answer) {
					t.Errorf("the summary lacks the answer %q", answer)
				}
			}

			// The card in the supervisor channel (in the organisation's
			// language) has the number and nothing confidential.
			card := frame(out, "#store-supervisors")
			if card == "" {
				t.Fatalf("no card in #store-supervisors:\n%s", out)
			}
			if !strings.Contains(card, number) {
				t.Errorf("the card lacks %s:\n%s", number, card)
			}
			if frame(out, "#hr-desk") == "" {
				t.Errorf("the reporter asked to talk, but #hr-desk got nothing:\n%s", out)
			}
			for _, f := range frames(out) {
				for _, secret := range r.confidential() {
					if strings.Contains(f, secret) {
						t.Errorf("a channel message shows %q:\n%s", secret, f)
					}
				}
			}

			// The department's supervisor may read the details; a member
			// of another department may not.
			out = typeChat(t, e, []string{"/as sato", "/details " + number, "/as yamada", "/details " + number, "/quit"}, "-lang", string(l))
			asYamada := fmt.Sprintf(p.T(l, "local.as"), "yamada")
			sato, yamada, found := strings.Cut(out, asYamada)
			if !found {
				t.Fatalf("no %q in the output:\n%s", asYamada, out)
			}
			for _, answer := range []string{r.narrative, r.customer, r.words, "rec.m4a"} {
				if !strings.Contains(sato, answer) {
					t.Errorf("the supervisor's details lack %q:\n%s", answer, sato)
				}
			}
			if !strings.Contains(yamada, p.T(l, "details.refused")) {
				t.Errorf("yamada was not refused:\n%s", yamada)
			}
			for _, secret := range r.confidential() {
				if strings.Contains(yamada, secret) {
					t.Errorf("yamada was shown %q:\n%s", secret, yamada)
				}
			}
		})
	}
}

func TestChatResumeAfterRestart(t *testing.T) {
	t.Parallel()
	p := builtinPolicy(t)
	l := mamori.JA
	r := reports[l]
	e := newEnv(t)

	// The first session stops halfway, without saying "later".
	out := typeChat(t, e, append(r.firstHalf(), "/quit"))
	if !strings.Contains(out, p.T(l, "q.customer")) {
		t.Fatalf("the first session did not reach the customer question:\n%s", out)
	}

	// The second opens with the waiting question itself, picks up at the
	// first unanswered question and submits.
	out = typeChat(t, e, append(r.secondHalf(), "/quit"))
	resume := strings.Index(out, p.T(l, "resume.report"))
	if resume < 0 {
		t.Fatalf("the second session did not say there is an unfinished report:\n%s", out)
	}
	if strings.Contains(out, p.T(l, "menu.greeting")) {
		t.Errorf("the second session greeted with the menu instead of resuming")
	}
	if i := strings.Index(out, p.T(l, "q.customer")); i < resume {
		t.Errorf("after continuing, the customer question was not next:\n%s", out)
	}
	if strings.Contains(out, p.T(l, "q.place")) {
		t.Errorf("an answered question was asked again:\n%s", out)
	}
	_, summary, found := strings.Cut(out, p.T(l, "summary.header.report"))
	if !found {
		t.Fatalf("no summary:\n%s", out)
	}
	summary, _, _ = strings.Cut(summary, p.T(l, "summary.submit.report"))
	for _, answer := range []string{p.T(l, "a.safety.safe"), p.T(l, "a.for_whom.self"), r.when, "対面", r.place, r.customer, r.narrative} {
		if !strings.Contains(summary, answer) {
			t.Errorf("the summary lacks %q:\n%s", answer, summary)
		}
	}
	number := caseNumber.FindString(out)
	if number == "" || !strings.HasSuffix(number, "-0001") {
		t.Fatalf("want case KH-<year>-0001, got %q:\n%s", number, out)
	}
	if strings.Contains(out, "-0002") {
		t.Errorf("a second case was filed:\n%s", out)
	}

	// A third session: the report is done (the menu, no resume), filed
	// once.
	second := strings.TrimSuffix(number, "0001") + "0002"
	out = typeChat(t, e, []string{"/details " + second, "/details " + number, "/quit"})
	if strings.Contains(out, p.T(l, "resume.report")) || !strings.Contains(out, p.T(l, "menu.greeting")) {
		t.Errorf("after submitting, the next session should open with the menu:\n%s", out)
	}
	if !strings.Contains(out, p.T(l, "details.not_found")) {
		t.Errorf("%s exists:\n%s", second, out)
	}
	if !strings.Contains(out, r.narrative) {
		t.Errorf("the reporter cannot read %s:\n%s", number, out)
	}
}

func TestServeStartupErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := string(exampleConfig)
	change := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("the example configuration has no %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	unknownKey := file("unknown.yaml", good+"\nfavourite_colour: blue\n")
	noHR := file("nohr.yaml", change(`channel: "#hr-desk"`, `channel: ""`))
	badPreset := file("preset.yaml", change("policy: mhlw-2022", "policy: mhlw-1999"))
	badLang := file("lang.yaml", change("language: ja", "language: fr"))
	badAudience := file("audience.yaml", change("audience: everyone", "audience: [warehouse]"))
	badStart := file("start.yaml", change("start: 2026-10-01", "start: October"))
	hugeEvery := file("every.yaml", change("every_months: 6", "every_months: 9223372036854775807"))
	noContact := file("contact.yaml", change(`contact: {ja: "健康管理室 内線 5678", en: "Health office, ext. 5678"}`, `contact: ""`))
	slackEnv := testEnv{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}

	for _, tc := range []struct {
		name string
		env  testEnv
		want []string // every one must be in the error
	}{
		{"secret without bot token", testEnv{"SLACK_SIGNING_SECRET": "s"}, []string{"SLACK_BOT_TOKEN"}},
		{"app token without bot token", testEnv{"SLACK_APP_TOKEN": "xapp-1"}, []string{"SLACK_BOT_TOKEN"}},
		{"bot token alone", testEnv{"SLACK_BOT_TOKEN": "xoxb-1"}, []string{"SLACK_SIGNING_SECRET"}},
		{"app token of the wrong kind", testEnv{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, []string{"SLACK_APP_TOKEN", "xapp-"}},
		{"slack without config", slackEnv, []string{"MAMORI_CONFIG"}},
		{"user token for the bot", testEnv{"SLACK_BOT_TOKEN": "xoxp-1", "SLACK_SIGNING_SECRET": "s"}, []string{"SLACK_BOT_TOKEN", "xoxb-"}},
		{"secret with a line break", testEnv{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s\n"}, []string{"SLACK_SIGNING_SECRET", "line break"}},
		{"teams app id not a GUID", testEnv{"MICROSOFT_APP_ID": "notaguid", "MICROSOFT_APP_PASSWORD": "p", "MICROSOFT_APP_TENANT_ID": "t"}, []string{"MICROSOFT_APP_ID", "GUID"}},
		{"emulator with an app id", testEnv{"MICROSOFT_APP_ID": "11111111-2222-4333-8444-555555555555", "MICROSOFT_APP_PASSWORD": "p",
			"MICROSOFT_APP_TENANT_ID": "t", "MAMORI_TEAMS_EMULATOR": "on"}, []string{"MAMORI_TEAMS_EMULATOR", "MICROSOFT_APP_ID"}},
		{"emulator neither on nor off", testEnv{"MAMORI_TEAMS_EMULATOR": "yes"}, []string{"MAMORI_TEAMS_EMULATOR", `"yes"`}},
		{"pacing off against Slack", testEnv{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "MAMORI_SLACK_PACING": "off",
			"MAMORI_CONFIG": file("pacing.yaml", good)}, []string{"MAMORI_SLACK_PACING", "SLACK_API_URL"}},
		{"pacing neither on nor off", testEnv{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "MAMORI_SLACK_PACING": "no",
			"SLACK_API_URL": "http://127.0.0.1:1/api/", "MAMORI_CONFIG": file("pacing2.yaml", good)}, []string{"MAMORI_SLACK_PACING", `"no"`}},
		{"config missing", testEnv{"MAMORI_CONFIG": filepath.Join(dir, "nope.yaml")}, []string{"MAMORI_CONFIG", "nope.yaml"}},
		{"unknown key", testEnv{"MAMORI_CONFIG": unknownKey}, []string{"MAMORI_CONFIG", "favourite_colour"}},
		{"no hr channel", testEnv{"MAMORI_CONFIG": noHR}, []string{"hr.channel"}},
		{"unknown preset", testEnv{"MAMORI_CONFIG": badPreset}, []string{"policy", "mhlw-1999", "mhlw-2022"}},
		{"bad language", testEnv{"MAMORI_CONFIG": badLang}, []string{"language", "fr"}},
		{"training for a department that is not there", testEnv{"MAMORI_CONFIG": badAudience}, []string{"training[0]", "basics", "warehouse"}},
		{"training start not a date", testEnv{"MAMORI_CONFIG": badStart}, []string{"training[0]", "start", "2026-10-01"}},
		{"training every forever", testEnv{"MAMORI_CONFIG": hugeEvery}, []string{"training[0]", "every_months", "120"}},
		{"care resource without contact", testEnv{"MAMORI_CONFIG": noContact}, []string{"care.resources[1]", "contact"}},
		{"slack with a bad config", merge(slackEnv, testEnv{"MAMORI_CONFIG": unknownKey}), []string{"favourite_colour"}},
		{"a length of time without its unit", testEnv{"MAMORI_CONFIG": file("remind.yaml", change("remind_after: 24h", "remind_after: 24"))}, []string{"remind_after", "24h"}},
		{"a closed day not a day", testEnv{"MAMORI_CONFIG": file("closed.yaml", change(`"12-31"`, `"12/31"`))}, []string{"care.closed_days", "12/31", "MM-DD"}},
		{"holidays of no country", testEnv{"MAMORI_CONFIG": file("holidays.yaml", change("holidays: japan", "holidays: mars"))}, []string{"care.holidays", "mars", "none"}},
		{"lease too short", testEnv{"MAMORI_WORKER_LEASE": "2s"}, []string{"MAMORI_WORKER_LEASE", "10s"}},
		{"lease not a duration", testEnv{"MAMORI_WORKER_LEASE": "soon"}, []string{"MAMORI_WORKER_LEASE", "soon"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := merge(newEnv(t), tc.env)
			// Nothing may start: an address that cannot be bound would
			// show up as a different error if serve got that far.
			e["MAMORI_ADDR"] = "256.0.0.1:1"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, []string{"serve"}, strings.NewReader(""), &stdout, &stderr, e.get)
			if err == nil {
				t.Fatal("serve started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "xoxb-1") {
				t.Errorf("error %q shows the token", err)
			}
			// Settings are checked before the database is opened: a
			// wrong one leaves no new database or key behind.
			for _, f := range []string{e["MAMORI_DB"], e["MAMORI_KEY_FILE"]} {
				if _, err := os.Stat(f); err == nil {
					t.Errorf("%s was made", f)
				}
			}
		})
	}
}

func merge(envs ...testEnv) testEnv {
	out := testEnv{}
	for _, e := range envs {
		for k, v := range e {
			out[k] = v
		}
	}
	return out
}

func TestManifestSlack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := MustRun(t, e, "", "manifest", "slack", "-url", "https://mamori.example.co.jp/")
	var m map[string]any
	if err := yaml.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("the manifest is not YAML: %v\n%s", err, out)
	}
	for _, want := range []string{
		"/kasuhara",
		"https://mamori.example.co.jp/slack/commands",
		"https://mamori.example.co.jp/slack/interactivity",
		"https://mamori.example.co.jp/slack/events",
		"message.im",
		"chat:write",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the manifest lacks %q:\n%s", want, out)
		}
	}

	// The command comes from the configuration; Socket Mode has no URLs.
	path := filepath.Join(t.TempDir(), "mamori.yaml")
	cfg := strings.Replace(string(exampleConfig), "slash_command: /kasuhara", "slash_command: /mamori-report", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e["MAMORI_CONFIG"] = path
	out = MustRun(t, e, "", "manifest", "slack", "-socket")
	if !strings.Contains(out, "/mamori-report") || strings.Contains(out, "/slack/") {
		t.Errorf("socket-mode manifest for /mamori-report:\n%s", out)
	}

	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"manifest", "teams"}, strings.NewReader(""), &stdout, io.Discard, e.get); err == nil {
		t.Error("manifest teams: no error")
	}
}

// The end-to-end test below plays Slack: it signs requests with the
// signing secret, sends what Slack sends, and reads what Mamori posted
// from the fake Web API — including the blocks whose ids and values a
// click sends back.

const (
	testBotToken = "xoxb-test-token"
	testSecret   = "test-signing-secret"

	reporter   = "U0TANAKA"
	supervisor = "U0SATO"
	outsider   = "U0YAMADA"
)

const slackConfig = `organisation: テスト株式会社
language: ja
timezone: Asia/Tokyo
policy: mhlw-2022
slash_command: /kasuhara
remind_after: 24h
hr:
  channel: C0HR
  members: [U0HR]
departments:
  - id: store
    name: {ja: 店舗運営部, en: Store operations}
    supervisor_channel: C0STORE
    supervisors: [U0SATO]
    members: [U0TANAKA]
  - id: support
    name: {ja: カスタマーサポート部, en: Customer support}
    supervisor_channel: C0SUPPORT
    supervisors: [U0SUZUKI]
    members: [U0YAMADA]
training:
  - id: response
    name: {ja: カスハラ対応研修, en: Responding to customer harassment}
    link: https://lms.example/response
    response: true
`

// slackRig is a running `mamori serve` and the fake Slack around it.
type slackRig struct {
	t      *testing.T
	api    *slacktest.Server
	base   string // http://127.0.0.1:port, once serve listens
	client *http.Client
	logs   *syncBuffer
	env    testEnv
	stop   func() error
	// advance moves serve's clock on, where the rig gave it one
	// (startServeWith).
	advance func(time.Duration)

	seq  int // for trigger ids, event ids and action timestamps
	seen int // DM posts to the reporter already read
}

// listening returns the address serve logged it listens on, or "".
func listening(logs string) string {
	for _, line := range strings.Split(logs, "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "mamori serving" {
			return rec.Addr
		}
	}
	return ""
}

// startServe runs mamori serve for Slack with slackConfig.
func startServe(t *testing.T) *slackRig {
	t.Helper()
	return startServeWith(t, slackConfig)
}

// startServeWith runs `mamori serve` for Slack on a fake workspace, with config as
// its configuration and more people in the fake workspace.
func startServeWith(t *testing.T, config string, more ...slacktest.User) *slackRig {
	t.Helper()
	api := slacktest.New(t, testBotToken)
	for _, u := range append([]slacktest.User{
		{ID: reporter, Name: "tanaka", RealName: "田中 花子", Email: "tanaka@example.co.jp", Locale: "ja-JP"},
		{ID: supervisor, Name: "sato", RealName: "佐藤 一郎", Email: "sato@example.co.jp", Locale: "ja-JP"},
		{ID: outsider, Name: "yamada", RealName: "山田 太郎", Email: "yamada@example.co.jp", Locale: "ja-JP"},
		{ID: "U0HR", Name: "kato", RealName: "加藤 人事", Email: "kato@example.co.jp", Locale: "ja-JP"},
	}, more...) {
		api.AddUser(u)
	}
	e := newEnv(t)
	e["MAMORI_CONFIG"] = filepath.Join(t.TempDir(), "mamori.yaml")
	if err := os.WriteFile(e["MAMORI_CONFIG"], []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	e["SLACK_BOT_TOKEN"] = testBotToken
	e["SLACK_SIGNING_SECRET"] = testSecret
	e["SLACK_API_URL"] = api.URL

	r := &slackRig{t: t, api: api, client: &http.Client{Timeout: 10 * time.Second}, logs: &syncBuffer{}, env: e}
	// serve runs on a clock the test moves on (r.advance), ahead of the
	// real one, rather than waiting for it; its worker then looks for
	// what came due at once, not at its next poll.
	ahead := &atomic.Int64{}
	timers := &movedTimers{}
	r.advance = func(d time.Duration) { ahead.Add(int64(d)); timers.moved() }
	clock := mamori.Clock(func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), clockKey{}, testClock{now: clock, timers: timers}))
	stopped := make(chan struct{})
	var runErr error
	go func() {
		defer close(stopped)
		runErr = run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, r.logs, e.get)
	}()
	done := false
	r.stop = func() error {
		if done {
			return nil
		}
		done = true
		cancel()
		select {
		case <-stopped:
			return runErr
		case <-time.After(15 * time.Second):
			return errors.New("serve did not stop within 15 s of its context ending")
		}
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("serve logs:\n%s", r.logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-stopped:
			t.Fatalf("serve stopped at once: %v\n%s", runErr, r.logs.String())
		default:
		}
		if r.base == "" {
			if addr := listening(r.logs.String()); addr != "" {
				r.base = "http://" + addr
			}
		}
		if r.base != "" {
			if code, _ := r.get("/healthz"); code == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz after 10 s\n%s", r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *slackRig) get(path string) (int, string) {
	resp, err := r.client.Get(r.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *slackRig) next(prefix string) string {
	r.seq++
	return fmt.Sprintf("%s%06d", prefix, r.seq)
}

// post sends body to path as Slack would, signed with secret at ts.
func (r *slackRig) post(path, contentType string, body []byte, secret string, ts time.Time, extra http.Header) int {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.base+path, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	if secret != "" {
		for k, v := range slacktest.Sign(secret, ts, body) {
			req.Header[k] = v
		}
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// send posts a correctly signed request and wants it answered 200.
func (r *slackRig) send(path, contentType string, body []byte) {
	r.t.Helper()
	if code := r.post(path, contentType, body, testSecret, time.Now(), nil); code != http.StatusOK {
		r.t.Fatalf("POST %s answered %d, want 200\n%s", path, code, body)
	}
}

const formType = "application/x-www-form-urlencoded"

func (r *slackRig) command(user, text string) {
	r.t.Helper()
	body := url.Values{
		"token":        {"legacy-verification-token"},
		"team_id":      {slacktest.TeamID},
		"channel_id":   {"C0GENERAL"},
		"channel_name": {"general"},
		"user_id":      {user},
		"command":      {"/kasuhara"},
		"text":         {text},
		"trigger_id":   {r.next("trigger.")},
		"response_url": {"https://hooks.slack.com/commands/T0000001/1/x"},
	}.Encode()
	r.send("/slack/commands", formType, []byte(body))
}

// messageEvent is a message.im event callback; ev holds the event's fields
// beyond the common ones.
func (r *slackRig) messageEvent(user string, ev map[string]any) []byte {
	ts := r.next("1700000100.")
	ev["type"] = "message"
	ev["channel_type"] = "im"
	ev["channel"] = "D" + user
	ev["user"] = user
	ev["ts"] = ts
	ev["event_ts"] = ts
	b, err := json.Marshal(map[string]any{
		"token":      "legacy-verification-token",
		"team_id":    slacktest.TeamID,
		"api_app_id": "A0MAMORI",
		"type":       "event_callback",
		"event_id":   r.next("Ev"),
		"event_time": time.Now().Unix(),
		"event":      ev,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

// say sends text as a DM from user and returns the request body.
func (r *slackRig) say(user, text string) []byte {
	r.t.Helper()
	b := r.messageEvent(user, map[string]any{"text": text})
	r.send("/slack/events", "application/json", b)
	return b
}

// blocks is a message's Block Kit, as JSON values.
type blocks []map[string]any

// posted is one chat.postMessage the fake received.
type posted struct {
	channel string
	ts      string // the timestamp Slack gave it
	text    string // the fallback text and the blocks' JSON, for searching
	blocks  blocks
}

func (r *slackRig) posts(channel string) []posted {
	r.t.Helper()
	var out []posted
	for _, c := range r.api.Calls("chat.postMessage") {
		if c.Error != "" || c.Channel() != channel {
			continue
		}
		p := posted{channel: channel, text: c.Get("text") + "\n" + c.Get("blocks")}
		p.ts, _ = c.Reply["ts"].(string)
		if c.Get("blocks") != "" {
			if err := c.Decode("blocks", &p.blocks); err != nil {
				r.t.Fatal(err)
			}
		}
		out = append(out, p)
	}
	return out
}

// waitPost waits for a post to channel, from the from-th on, that match
// accepts, and returns it and its index.
func (r *slackRig) waitPost(channel string, from int, what string, match func(posted) bool) (posted, int) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := r.posts(channel)
		for i := from; i < len(ps); i++ {
			if match(ps[i]) {
				return ps[i], i
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, p := range ps[min(from, len(ps)):] {
				got = append(got, p.text)
			}
			r.t.Fatalf("no post to %s with %s after 10 s; since #%d it got:\n%s", channel, what, from, strings.Join(got, "\n---\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stepOf parses a block id "<kind>/<n>/<step>".
func stepOf(id string) string {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[2]
}

func (b blocks) hasStep(step string) bool {
	for _, blk := range b {
		if id, _ := blk["block_id"].(string); stepOf(id) == step {
			return true
		}
	}
	return false
}

// question waits for the reporter's next DM that asks step and returns
// its blocks and its index among the DMs.
func (r *slackRig) question(step string) (blocks, int) {
	r.t.Helper()
	p, i := r.waitPost("D"+reporter, r.seen, "step "+step, func(p posted) bool { return p.blocks.hasStep(step) })
	r.seen = i + 1
	r.delivered(reporter)
	return p.blocks, i
}

// elements lists the elements of the actions blocks, each with its block id.
func (b blocks) elements() (ids []string, elems []map[string]any) {
	for _, blk := range b {
		if blk["type"] != "actions" {
			continue
		}
		id, _ := blk["block_id"].(string)
		list, _ := blk["elements"].([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				ids = append(ids, id)
				elems = append(elems, m)
			}
		}
	}
	return ids, elems
}

// button returns the action a click on the button with value sends.
func (r *slackRig) button(b blocks, value string) map[string]any {
	r.t.Helper()
	ids, elems := b.elements()
	for i, e := range elems {
		if e["type"] == "button" && e["value"] == value {
			return map[string]any{"type": "button", "block_id": ids[i], "action_id": e["action_id"],
				"value": value, "text": e["text"], "action_ts": r.next("1700000200.")}
		}
	}
	r.t.Fatalf("no button with value %q in %v", value, b)
	return nil
}

// interact sends a block_actions payload for action on a message with
// blocks in channel, with the inputs' state.
func (r *slackRig) interact(user, channel string, b blocks, action map[string]any, state map[string]any) {
	r.t.Helper()
	p := map[string]any{
		"type":       "block_actions",
		"api_app_id": "A0MAMORI",
		"token":      "legacy-verification-token",
		"team":       map[string]any{"id": slacktest.TeamID, "domain": "test"},
		"user":       map[string]any{"id": user, "team_id": slacktest.TeamID},
		"trigger_id": r.next("trigger."),
		"container":  map[string]any{"type": "message", "channel_id": channel, "is_ephemeral": false},
		"channel":    map[string]any{"id": channel},
		"message":    map[string]any{"type": "message", "user": slacktest.BotUserID, "blocks": b},
		"actions":    []any{action},
	}
	if state != nil {
		p["state"] = map[string]any{"values": state}
	}
	j, err := json.Marshal(p)
	if err != nil {
		r.t.Fatal(err)
	}
	r.send("/slack/interactivity", formType, []byte(url.Values{"payload": {string(j)}}.Encode()))
}

// click presses the button with value on the reporter's DM message b.
func (r *slackRig) click(b blocks, value string) {
	r.t.Helper()
	r.interact(reporter, "D"+reporter, b, r.button(b, value), nil)
}

// tick checks the options with values in b's checkboxes and presses its
// submit button; the state carries every checkbox block, as Slack's does.
func (r *slackRig) tick(b blocks, values ...string) {
	r.t.Helper()
	submit, state := b.ticked(r.t, r.next("1700000200."), values...)
	r.interact(reporter, "D"+reporter, b, submit, state)
}

// ticked returns b's submit action (at actionTS) and the state of its
// checkboxes with values ticked, as Slack sends them.
func (b blocks) ticked(t testing.TB, actionTS string, values ...string) (submit, state map[string]any) {
	t.Helper()
	state = map[string]any{}
	ids, elems := b.elements()
	found := 0
	for i, e := range elems {
		switch e["type"] {
		case "checkboxes":
			selected := []any{}
			opts, _ := e["options"].([]any)
			for _, o := range opts {
				if om, _ := o.(map[string]any); slices.Contains(values, fmt.Sprint(om["value"])) {
					selected = append(selected, om)
					found++
				}
			}
			state[ids[i]] = map[string]any{fmt.Sprint(e["action_id"]): map[string]any{"type": "checkboxes", "selected_options": selected}}
		case "button":
			if strings.HasPrefix(ids[i], "submit/") {
				submit = map[string]any{"type": "button", "block_id": ids[i], "action_id": e["action_id"],
					"value": e["value"], "action_ts": actionTS}
			}
		}
	}
	if submit == nil || found != len(values) {
		t.Fatalf("multi-select: submit %v, %d of %v found in %v", submit, found, values, b)
	}
	return submit, state
}

// options lists the values of b's checkboxes, in order.
func (b blocks) options() []string {
	var vs []string
	_, elems := b.elements()
	for _, e := range elems {
		if e["type"] != "checkboxes" {
			continue
		}
		opts, _ := e["options"].([]any)
		for _, o := range opts {
			if om, ok := o.(map[string]any); ok {
				vs = append(vs, fmt.Sprint(om["value"]))
			}
		}
	}
	return vs
}

func TestServeSlack(t *testing.T) {
	t.Parallel()
	r := startServe(t)
	policy := builtinPolicy(t) // the configuration's policy is the same preset
	rep := reports[mamori.JA]
	const forged = "偽物のメッセージ"

	if code, body := r.get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", code, body)
	}

	// /kasuhara opens the menu in a DM.
	r.command(reporter, "")
	b, _ := r.question("menu")
	r.click(b, mamori.StartReport)
	safety, _ := r.question("safety")
	r.click(safety, "safe")
	b, _ = r.question("for_whom")
	r.click(b, "self")
	r.question("when")
	r.say(reporter, rep.when)

	// Forged requests are refused and change nothing.
	r.question("narrative")
	for _, f := range []struct {
		name   string
		secret string
		ts     time.Time
	}{
		{"wrong secret", "not-the-secret", time.Now()},
		{"unsigned", "", time.Now()},
		{"stale", testSecret, time.Now().Add(-6 * time.Minute)},
	} {
		body := r.messageEvent(reporter, map[string]any{"text": forged})
		if code := r.post("/slack/events", "application/json", body, f.secret, f.ts, nil); code != http.StatusUnauthorized {
			t.Errorf("%s: answered %d, want 401", f.name, code)
		}
	}
	forgedClick, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": reporter},
		"actions": []any{map[string]any{"block_id": "control/0/narrative", "action_id": "control/1", "value": "nav:cancel", "action_ts": "1"}}})
	if code := r.post("/slack/interactivity", formType, []byte(url.Values{"payload": {string(forgedClick)}}.Encode()), "wrong", time.Now(), nil); code != http.StatusUnauthorized {
		t.Errorf("forged click: answered %d, want 401", code)
	}

	// A delivery Slack retries (same event_id) is answered but not acted on.
	narrative := r.say(reporter, rep.narrative)
	b, words := r.question("channel")
	retry := http.Header{"X-Slack-Retry-Num": {"1"}, "X-Slack-Retry-Reason": {"http_timeout"}}
	if code := r.post("/slack/events", "application/json", narrative, testSecret, time.Now(), retry); code != http.StatusOK {
		t.Fatalf("retried event answered %d, want 200", code)
	}
	// A click on an old message changes nothing and brings the current
	// question back with a notice, in one post that must be the next
	// one, with no reply to the retry before it.
	r.click(safety, "safe")
	again, i := r.waitPost("D"+reporter, r.seen, "the stale-click notice", func(p posted) bool { return strings.Contains(p.text, policy.T(mamori.JA, "nav.stale")) })
	if i != words+1 {
		t.Errorf("the retried event got a reply: the stale-click notice came %d posts after the channel question, want 1", i-words)
	}
	if !again.blocks.hasStep("channel") {
		t.Fatalf("the retried event was taken as an answer: the current question is no longer the channel one:\n%s", again.text)
	}
	r.seen = i + 1
	r.click(b, "in_person")
	r.question("place")
	r.say(reporter, rep.place)
	r.question("customer")
	r.say(reporter, rep.customer)
	r.question("customer_id")
	r.say(reporter, rep.customerIDs)
	r.question("demand")
	r.say(reporter, rep.demand)

	// Behaviours: one option from each checkbox block (ten a block).
	b, _ = r.question("behaviours")
	opts := b.options()
	if len(opts) < 11 {
		t.Fatalf("want the policy's 12 behaviours, got %v", opts)
	}
	r.tick(b, opts[2], opts[10])
	r.question("words")
	r.say(reporter, rep.words)
	b, _ = r.question("duration")
	r.click(b, "under30")
	b, _ = r.question("repeat")
	r.click(b, "first")
	b, _ = r.question("witnesses")
	r.click(b, "nav:skip")

	// A file sent in the DM is evidence.
	evidence, _ := r.question("evidence")
	r.send("/slack/events", "application/json", r.messageEvent(reporter, map[string]any{
		"subtype": "file_share", "text": "",
		"files": []any{map[string]any{"id": "F0REC", "name": "rec.m4a", "title": "rec.m4a",
			"permalink": "https://test.slack.com/files/U0TANAKA/F0REC/rec.m4a"}},
	}))
	_, i = r.waitPost("D"+reporter, r.seen, "the file receipt", func(p posted) bool { return strings.Contains(p.text, "rec.m4a") })
	r.seen = i + 1
	r.click(evidence, "recording")
	b, _ = r.question("fault")
	r.click(b, "no")
	b, _ = r.question("wellbeing")
	r.click(b, "hard")
	b, _ = r.question("talk")
	r.click(b, "yes")
	b, _ = r.question("route")
	r.click(b, mamori.RouteDepartment)

	b, _ = r.question("summary")
	summary, _ := json.Marshal(b)
	for _, answer := range []string{rep.when, rep.place, rep.customer, rep.demand, rep.narrative, rep.words, "rec.m4a"} {
		if !strings.Contains(string(summary), answer) {
			t.Errorf("the summary lacks %q", answer)
		}
	}
	if strings.Contains(string(summary), forged) {
		t.Errorf("a forged request's text reached the summary")
	}
	r.click(b, "submit")

	// The reporter gets the case number in the DM.
	receipt, i := r.waitPost("D"+reporter, r.seen, "a case number", func(p posted) bool { return caseNumber.MatchString(p.text) })
	r.seen = i + 1
	number := caseNumber.FindString(receipt.text)
	if !strings.HasSuffix(number, "-0001") {
		t.Errorf("case number %s, want KH-<year>-0001", number)
	}
	_, i = r.waitPost("D"+reporter, r.seen, "the care resources", func(p posted) bool { return strings.Contains(p.text, policy.T(mamori.JA, "care.header")) })
	r.seen = i + 1

	// The supervisor channel gets a card with the number and nothing
	// confidential; HR is asked to reach out, also without detail.
	card, _ := r.waitPost("C0STORE", 0, number, func(p posted) bool { return strings.Contains(p.text, number) })
	care, _ := r.waitPost("C0HR", 0, number, func(p posted) bool { return strings.Contains(p.text, number) })
	for _, p := range []posted{card, care} {
		for _, secret := range append(rep.confidential(), forged) {
			if strings.Contains(p.text, secret) {
				t.Errorf("the post to %s shows %q:\n%s", p.channel, secret, p.text)
			}
		}
	}

	// The card's details button: a modal for the supervisor, a private
	// refusal for someone from another department.
	r.interact(supervisor, "C0STORE", card.blocks, r.button(card.blocks, mamori.CardDetails+":"+number), nil)
	views := r.api.WaitCalls(t, "views.open", 1, 10*time.Second)
	if view := views[0].Get("view"); !strings.Contains(view, rep.narrative) || !strings.Contains(view, rep.customer) {
		t.Errorf("the supervisor's modal lacks the narrative or the customer:\n%s", view)
	}
	r.interact(outsider, "C0STORE", card.blocks, r.button(card.blocks, mamori.CardDetails+":"+number), nil)
	eph := r.api.WaitCalls(t, "chat.postEphemeral", 1, 10*time.Second)
	if got := eph[0]; got.Get("user") != outsider || got.Get("channel") != "C0STORE" ||
		!strings.Contains(got.Get("text"), policy.T(mamori.JA, "details.refused")) ||
		strings.Contains(got.Get("blocks")+got.Get("text"), rep.narrative) {
		t.Errorf("the refusal: user %s channel %s\n%s", got.Get("user"), got.Get("channel"), got.Get("blocks"))
	}
	if n := len(r.api.Calls("views.open")); n != 1 {
		t.Errorf("%d modals opened, want only the supervisor's", n)
	}

	r.judge(policy, card, number)
	r.care(policy, care, number)

	// Nothing was left undelivered or failed; no Web API call failed.
	for _, c := range r.api.Calls() {
		if c.Error != "" || c.Status != http.StatusOK {
			t.Errorf("Web API %s answered %d %s", c.Method, c.Status, c.Error)
		}
	}
	code, metrics := r.get("/metrics")
	if code != http.StatusOK || !strings.Contains(metrics, "mamori_http_requests_total") {
		t.Errorf("/metrics: %d\n%s", code, metrics)
	}
	if !strings.Contains(metrics, `mamori_http_requests_total{code="5xx"} 0`) ||
		!strings.Contains(metrics, `mamori_http_requests_total{code="4xx"} 4`) {
		t.Errorf("/metrics: want no 5xx and the four forged requests as 4xx:\n%s", metrics)
	}

	if testing.Verbose() {
		t.Logf("what Slack received:\n%s", transcript(r.api.Calls()))
	}
	waitDrained(t, r.env)
	if err := r.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	// Confidential answers are never logged.
	for _, secret := range rep.confidential() {
		if strings.Contains(r.logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
	// Every message in the outbox was sent.
	for _, status := range []string{mamori.OutboxPending, mamori.OutboxFailed} {
		if out := MustRun(t, r.env, "", "outbox", "-status", status); !strings.HasPrefix(out, "0 "+status) {
			t.Errorf("outbox -status %s:\n%s", status, out)
		}
	}
}

// judge plays the supervisor's side of case number, whose card is card:
// someone from another department may not take it; the supervisor takes
// it, judges it in the modal, and the card and the reporter hear of it.
func (r *slackRig) judge(policy *mamori.Policy, card posted, number string) {
	t := r.t
	t.Helper()
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	ephemerals := len(r.api.Calls("chat.postEphemeral"))
	whisper := func(user, want string) {
		t.Helper()
		ephemerals++
		got := r.api.WaitCalls(t, "chat.postEphemeral", ephemerals, 10*time.Second)[ephemerals-1]
		if got.Get("user") != user || got.Get("channel") != "C0STORE" || !strings.Contains(got.Get("text"), want) {
			t.Errorf("ephemeral to %s in %s: %q, want %q to %s", got.Get("user"), got.Get("channel"), got.Get("text"), want, user)
		}
	}
	if card.ts == "" {
		t.Fatal("the card was posted without a ts")
	}
	// cardUpdate waits for the card, updated in place, to show want.
	cardUpdate := func(want ...string) blocks {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			for _, c := range r.api.Calls("chat.update") {
				if c.Get("channel") != "C0STORE" || c.Get("ts") != card.ts {
					continue
				}
				var b blocks
				if err := c.Decode("blocks", &b); err != nil {
					t.Fatal(err)
				}
				texts := strings.Join(b.texts(), "\n")
				found := 0
				for _, w := range want {
					if strings.Contains(texts, w) {
						found++
					}
				}
				if found == len(want) {
					return b
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no update of the card %s showing %q:\n%s", card.ts, want, transcript(r.api.Calls("chat.update")))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Someone from another department may not take it: a private refusal.
	take := mamori.CardTake + ":" + number
	r.interact(outsider, "C0STORE", card.blocks, r.button(card.blocks, take), nil)
	whisper(outsider, ja("judge.refused"))

	// The supervisor takes it: the card shows who has it.
	r.interact(supervisor, "C0STORE", card.blocks, r.button(card.blocks, take), nil)
	whisper(supervisor, ja("judge.done.take", number))
	taken := cardUpdate("<@"+supervisor+">", ja("status.taken"))

	// Ask the reporter: the question reaches their DM, the answer the
	// case thread under the card.
	opened := len(r.api.Calls("views.open"))
	r.interact(supervisor, "C0STORE", taken, r.button(taken, mamori.CardAsk+":"+number), nil)
	askForm, err := slacktest.OpenedForm(r.api.WaitCalls(t, "views.open", opened+1, 10*time.Second)[opened])
	if err != nil {
		t.Fatal(err)
	}
	if err := askForm.Type("question", "相手は何回目の来店ですか？"); err != nil {
		t.Fatal(err)
	}
	if ack := r.submit(askForm.Submission(supervisor)); ack["response_action"] != "clear" {
		t.Fatalf("the question was answered %v", ack)
	}
	whisper(supervisor, ja("judge.done.ask", number))
	q, i := r.waitPost("D"+reporter, r.seen, "the question", func(p posted) bool { return strings.Contains(p.text, "何回目の来店") })
	r.seen = i + 1
	r.interact(reporter, "D"+reporter, q.blocks, r.button(q.blocks, "reply:"+number+":1"), nil)
	_, i = r.waitPost("D"+reporter, r.seen, "the answer prompt", func(p posted) bool { return strings.Contains(p.text, ja("reply.prompt", number)) })
	r.seen = i + 1
	r.say(reporter, "三回目です")
	// The case thread hears that an answer came, not the answer: it is
	// read behind "view details" (see trust_test.go).
	deadline := time.Now().Add(10 * time.Second)
	for answered := false; !answered; {
		for _, c := range r.api.Calls("chat.postMessage") {
			if c.Get("channel") == "C0STORE" && c.Get("thread_ts") == card.ts && strings.Contains(c.Get("text"), ja("reply.header", number)) {
				answered = true
			}
		}
		if !answered && time.Now().After(deadline) {
			t.Fatalf("no notice of the answer in the case thread:\n%s", transcript(r.api.Calls("chat.postMessage")))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Judge: a modal that shows the policy's suggestion beside the
	// choices and chooses nothing for the supervisor.
	opened = len(r.api.Calls("views.open"))
	r.interact(supervisor, "C0STORE", taken, r.button(taken, mamori.CardJudge+":"+number), nil)
	open := r.api.WaitCalls(t, "views.open", opened+1, 10*time.Second)[opened]
	if v := open.Get("view"); !strings.Contains(v, "mamori.form") || !strings.Contains(v, ja("card.suggestion")) ||
		!strings.Contains(v, ja("judge.suggested", ja("decision.kasuhara"))) {
		t.Errorf("the judge modal:\n%s", v)
	}
	form, err := slacktest.OpenedForm(open)
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range []string{"validity", "means", "fault", "outcome", "actions"} {
		if got := form.Chosen(block); len(got) != 0 {
			t.Errorf("the judge modal chose %v in %s for the supervisor", got, block)
		}
	}
	// ①, ② and the decision are required: Slack keeps the modal until
	// they are chosen, and Mamori refuses a submission without them.
	if got := form.Missing(); !slices.Equal(got, []string{"validity", "means", "outcome"}) {
		t.Errorf("the judge modal requires %v, want validity, means and outcome", got)
	}
	if ack := r.submit(form.Submission(supervisor)); ack["response_action"] != "errors" || !hasError(ack, "validity") {
		t.Errorf("a judgement with nothing chosen was answered %v", ack)
	}
	for _, err := range []error{
		form.Type("facts", "防犯カメラの映像で確認"),
		form.Choose("validity", "invalid"),
		form.Choose("means", "unacceptable"),
		form.Choose("outcome", mamori.OutcomeKasuhara),
		form.Choose("actions", "warn"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ack := r.submit(form.Submission(supervisor))
	if ack["response_action"] != "clear" {
		t.Fatalf("the submission was answered %v", ack)
	}
	whisper(supervisor, ja("judge.done.judge", number))

	// The card shows the decision, in place.
	cardUpdate(ja("status.judged"), ja("card.decision")+"*\n"+ja("decision.kasuhara"), ja("card.actions")+"*\n"+mamori.Label(policy.Actions, "warn", mamori.JA))

	// The reporter is told, with the care resources again.
	_, i = r.waitPost("D"+reporter, r.seen, "the outcome", func(p posted) bool {
		return strings.Contains(p.text, ja("outcome.header", number)) && strings.Contains(p.text, policy.T(mamori.JA, "outcome.kasuhara"))
	})
	r.seen = i + 1
	_, i = r.waitPost("D"+reporter, r.seen, "the care resources", func(p posted) bool { return strings.Contains(p.text, ja("care.header")) })
	r.seen = i + 1

	// Judged once: a second submission is refused, the modal turned into
	// the reason.
	ack = r.submit(form.Submission(supervisor))
	if view, _ := json.Marshal(ack["view"]); ack["response_action"] != "update" || !strings.Contains(string(view), ja("judge.already_judged")) {
		t.Errorf("a second submission was answered %v", ack)
	}
	trail := r.auditTrail(number)
	for _, want := range []string{"case.take_refused", "case.take", "case.ask", "case.reply", "case.judge"} {
		if !slices.Contains(trail, want) {
			t.Errorf("the audit trail of %s lacks %s: %v", number, want, trail)
		}
	}
}

// care plays HR after a report from someone who asked to talk: the care
// task card in the HR channel is acknowledged, a contact is noted in a
// private form and the card follows in place; the training the カスハラ
// decision recommends is assigned to the department with one click.
func (r *slackRig) care(policy *mamori.Policy, card posted, number string) {
	t := r.t
	t.Helper()
	const hr = "U0HR"
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	if !strings.Contains(card.text, ja("caretask.header", number)) || !strings.Contains(card.text, reporter) {
		t.Fatalf("the HR card is not a care task for %s:\n%s", number, card.text)
	}
	ephemerals := len(r.api.Calls("chat.postEphemeral"))
	whisper := func(user, want string) {
		t.Helper()
		ephemerals++
		got := r.api.WaitCalls(t, "chat.postEphemeral", ephemerals, 10*time.Second)[ephemerals-1]
		if got.Get("user") != user || got.Get("channel") != "C0HR" || !strings.Contains(got.Get("text"), want) {
			t.Errorf("ephemeral to %s in %s: %q, want %q to %s", got.Get("user"), got.Get("channel"), got.Get("text"), want, user)
		}
	}
	updated := func(want string) blocks {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			for _, c := range r.api.Calls("chat.update") {
				var b blocks
				if c.Get("channel") == "C0HR" && c.Get("ts") == card.ts && c.Decode("blocks", &b) == nil &&
					strings.Contains(strings.Join(b.texts(), "\n"), want) {
					return b
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the care card was not updated to show %q:\n%s", want, transcript(r.api.Calls("chat.update")))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	m := regexp.MustCompile(mamori.CareAck + `:(\d+)`).FindStringSubmatch(card.text)
	if m == nil {
		t.Fatalf("no acknowledge button on the care card:\n%s", card.text)
	}
	id := m[1]
	// A supervisor is not HR: a private refusal.
	r.interact(supervisor, "C0HR", card.blocks, r.button(card.blocks, mamori.CareAck+":"+id), nil)
	whisper(supervisor, ja("caretask.refused"))
	r.interact(hr, "C0HR", card.blocks, r.button(card.blocks, mamori.CareAck+":"+id), nil)
	whisper(hr, ja("caretask.done.care_ack", number))
	acked := updated(ja("caretask.status.acknowledged"))

	opened := len(r.api.Calls("views.open"))
	r.interact(hr, "C0HR", acked, r.button(acked, mamori.CareNoteAction+":"+id), nil)
	form, err := slacktest.OpenedForm(r.api.WaitCalls(t, "views.open", opened+1, 10*time.Second)[opened])
	if err != nil {
		t.Fatal(err)
	}
	// The note is required: Slack keeps the modal until it is typed in;
	// a blank one that gets past it is refused with the reason, and the
	// modal is not closed.
	if got := form.Missing(); !slices.Equal(got, []string{"note"}) {
		t.Errorf("the care note modal requires %v, want the note", got)
	}
	if err := form.Type("note", "  "); err != nil {
		t.Fatal(err)
	}
	// The refusal comes under the note (response_action errors) and
	// nothing is recorded.
	if ack := r.submit(form.Submission(hr)); !hasError(ack, "note") {
		t.Errorf("a blank note was answered %v", ack)
	}
	if err := form.Type("note", "電話で話し、産業医面談を予約した"); err != nil {
		t.Fatal(err)
	}
	if ack := r.submit(form.Submission(hr)); ack["response_action"] != "clear" {
		t.Fatalf("the note was answered %v", ack)
	}
	whisper(hr, ja("caretask.done.care_note", number))
	updated(ja("caretask.contacts"))
	for _, c := range r.api.Calls("chat.update", "chat.postMessage") {
		if strings.Contains(c.Get("blocks")+c.Get("text"), "産業医面談") {
			t.Errorf("the contact note reached a channel: %s", c.Get("channel"))
		}
	}

	// The カスハラ decision recommends the response training: one click.
	rec, _ := r.waitPost("C0HR", 0, "the training recommendation", func(p posted) bool { return strings.Contains(p.text, mamori.CardTrain+":"+number) })
	r.interact(hr, "C0HR", rec.blocks, r.button(rec.blocks, mamori.CardTrain+":"+number), nil)
	whisper(hr, "カスハラ対応研修")
	// The department gets the training; its reporter does not (it would
	// read as blame).
	r.waitPost("D"+supervisor, 0, "the training reminder", func(p posted) bool {
		return strings.Contains(p.text, ja("training.header", "カスハラ対応研修")) && strings.Contains(p.text, "https://lms.example/response")
	})
	for _, p := range r.posts("D" + reporter) {
		if strings.Contains(p.text, "https://lms.example/response") {
			t.Errorf("the reporter was assigned the training their case recommends:\n%s", p.text)
		}
	}
	trail := r.auditTrail(number)
	for _, want := range []string{"care.task_opened", "care.task_refused", "care.ack", "care.note", "training.assigned"} {
		if !slices.Contains(trail, want) {
			t.Errorf("the audit trail of %s lacks %s: %v", number, want, trail)
		}
	}
	if n := count(trail, "care.note"); n != 1 {
		t.Errorf("%d contacts noted, want 1 (the blank note refused): %v", n, trail)
	}
}

// hasError reports whether a view_submission answer refuses the input
// with block id, and says why.
func hasError(ack map[string]any, block string) bool {
	errs, _ := ack["errors"].(map[string]any)
	msg, _ := errs[block].(string)
	return ack["response_action"] == "errors" && msg != ""
}

// count is how many times s is in list.
func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// auditTrail lists the actions `mamori audit show` prints for a case.
func (r *slackRig) auditTrail(number string) []string {
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(MustRun(r.t, r.env, "", "audit", "show", number)), "\n") {
		if f := strings.Split(line, "\t"); len(f) >= 3 {
			actions = append(actions, f[2])
		}
	}
	return actions
}

// texts lists every text in b, as Slack shows it (mrkdwn, unescaped
// newlines).
func (b blocks) texts() []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				out = append(out, s)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	for _, blk := range b {
		walk(map[string]any(blk))
	}
	return out
}

// submit sends a view_submission as Slack would and returns Mamori's
// answer, which Slack reads to close the modal or show its errors.
func (r *slackRig) submit(payload map[string]any) map[string]any {
	r.t.Helper()
	j, err := json.Marshal(payload)
	if err != nil {
		r.t.Fatal(err)
	}
	body := []byte(url.Values{"payload": {string(j)}}.Encode())
	req, err := http.NewRequest(http.MethodPost, r.base+"/slack/interactivity", bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", formType)
	for k, v := range slacktest.Sign(testSecret, time.Now(), body) {
		req.Header[k] = v
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("view_submission answered %d: %s", resp.StatusCode, b)
	}
	var out map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			r.t.Fatalf("view_submission answer %q: %v", b, err)
		}
	}
	return out
}

// transcript renders the Web API calls that carry text as a person would
// read them, for `go test -v -run TestServeSlack ./cmd/mamori`.
func transcript(calls []slacktest.Call) string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if t, ok := x["text"].(string); ok && x["type"] != nil {
				b.WriteString("    " + strings.ReplaceAll(t, "\n", "\n    ") + "\n")
			}
			for _, k := range []string{"title", "blocks", "elements", "fields", "text", "label", "element", "options", "hint", "view", "accessory", "submit"} {
				if k == "text" {
					if _, isString := x[k].(string); isString {
						continue
					}
				}
				if c, ok := x[k]; ok {
					walk(c)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, c := range calls {
		switch c.Method {
		case "chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.publish":
		default:
			continue
		}
		fmt.Fprintf(&b, "── %s %s\n", c.Method, c.Get("channel"))
		var blocks any
		if c.Decode("blocks", &blocks) == nil {
			walk(blocks)
		}
		var view any
		if c.Decode("view", &view) == nil {
			walk(view)
		}
	}
	return b.String()
}

// movedTimers are the real timers, but the wait of serve's worker
// between passes (its one NewTimer) also ends when the test moves serve's
// clock on, as a fake clock's would.
type movedTimers struct {
	flows.RealTimers

	mu     sync.Mutex
	timers []*movedTimer
}

type movedTimer struct {
	*time.Timer
	c chan time.Time
}

func (m *movedTimers) NewTimer(d time.Duration) (flows.TimerController, <-chan time.Time) {
	t := &movedTimer{c: make(chan time.Time, 1)}
	t.Timer = time.AfterFunc(d, t.fire)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timers = append(m.timers, t)
	return t, t.c
}

// fire ticks, unless a tick is waiting already. A tick not yet received
// is kept by Reset: at worst one pass more.
func (t *movedTimer) fire() {
	select {
	case t.c <- time.Now():
	default:
	}
}

// moved ends every wait: the clock moved on.
func (m *movedTimers) moved() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.timers {
		t.fire()
	}
}
