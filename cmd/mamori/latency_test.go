package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// BenchmarkConversation measures what a reporter feels: from a click or a
// typed answer to the next question on screen. It runs `mamori serve` as
// deployed (real SQLite file, the outbox worker, the Slack sender) against
// the loopback fake of Slack enforcing Slack's documented limits (method
// tiers; chat.postMessage one a second per channel with bursts, and a
// workspace budget), with several reporters filing reports side by side,
// each answering as soon as a person could once the question arrives:
// clicks (after clickThink) where a question has buttons, typed text
// (after typeThink) where it has none. Clicks carry a response_url,
// as Slack's block_actions do. "On screen" is when the fake took the
// message in, from chat.postMessage or a response_url.
//
// It reports the p50, p95 and max latency over all answers (ms), p95 for
// clicks and typed answers apart, the fake's 429s, and how many answered
// questions were left with live buttons (unmarked):
//
//	go test -run '^$' -bench Conversation -benchtime 400x ./cmd/mamori
//
// -benchtime Nx is the number of answers measured in each case.
func BenchmarkConversation(b *testing.B) {
	for _, c := range []struct {
		reporters int
		rtt       time.Duration
	}{
		{1, 0},
		{8, 0},
		{8, 100 * time.Millisecond},
		{8, 200 * time.Millisecond}, // about Tokyo to Slack and back
	} {
		b.Run(fmt.Sprintf("reporters=%d/rtt=%s", c.reporters, c.rtt), func(b *testing.B) {
			conversationBench(b, c.reporters, c.rtt)
		})
	}
}

func conversationBench(b *testing.B, reporters int, rtt time.Duration) {
	api := slacktest.New(b, testBotToken)
	api.Enforce(slacktest.SlackLimits())
	api.SetLatency(rtt)
	users := make([]string, reporters)
	for i := range users {
		users[i] = fmt.Sprintf("U0R%04d", i)
		api.AddUser(slacktest.User{ID: users[i], Name: strings.ToLower(users[i]), RealName: users[i], Locale: "ja-JP"})
	}
	rig := startLatencyServe(b, api, latencyConfig(users))

	var (
		mu   sync.Mutex
		all  []latencySample
		left = b.N
		wg   sync.WaitGroup
	)
	// take reserves one more answer to measure, while any are left.
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		left--
		return left >= 0
	}
	b.ResetTimer()
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &latencyDriver{rig: rig, user: u}
			got := d.run(take)
			mu.Lock()
			all = append(all, got...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()

	if len(all) == 0 {
		b.Fatal("no answer measured")
	}
	var every, clicks, typed []time.Duration
	for _, s := range all {
		every = append(every, s.took)
		switch s.kind {
		case "click":
			clicks = append(clicks, s.took)
		case "text":
			typed = append(typed, s.took)
		}
	}
	b.ReportMetric(msOf(percentile(every, 50)), "p50-ms")
	b.ReportMetric(msOf(percentile(every, 95)), "p95-ms")
	b.ReportMetric(msOf(percentile(every, 100)), "max-ms")
	b.ReportMetric(msOf(percentile(clicks, 95)), "click-p95-ms")
	b.ReportMetric(msOf(percentile(typed, 95)), "typed-p95-ms")
	n429 := 0
	for _, n := range api.Violations() {
		n429 += n
	}
	b.ReportMetric(float64(n429), "429s")
	// Every question answered by a click is marked answered: no buttons
	// left on it. (A question answered by typing keeps its buttons:
	// the adapter cannot tell which message it answered.)
	unmarked := 0
	for _, u := range users {
		unmarked += rig.unmarkedClicks(u)
	}
	b.ReportMetric(float64(unmarked), "unmarked")
	b.ReportMetric(0, "ns/op")
}

// How soon after a question appears the benchmark's reporters answer it:
// about the quickest a person reads a button and clicks, or types a word
// and presses Enter. (Typed text that arrives before the question's post
// is recorded as sent is not taken as an answer: see flows' Unshown.)
const (
	clickThink = 300 * time.Millisecond
	typeThink  = time.Second
)

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

type latencySample struct {
	kind string // "click", "text" or "command"
	took time.Duration
}

func latencyConfig(users []string) string {
	return `organisation: テスト株式会社
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
    members: [` + strings.Join(users, ", ") + `]
`
}

// latencyRig is a running `mamori serve` for the benchmark.
type latencyRig struct {
	tb     testing.TB
	api    *slacktest.Server
	base   string
	client *http.Client

	mu      sync.Mutex
	seq     int
	clicked map[string]map[string]bool // user → ts of the questions clicked
}

func startLatencyServe(tb testing.TB, api *slacktest.Server, config string) *latencyRig {
	tb.Helper()
	e := newEnv(tb)
	e["MAMORI_CONFIG"] = filepath.Join(tb.TempDir(), "mamori.yaml")
	if err := os.WriteFile(e["MAMORI_CONFIG"], []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	e["SLACK_BOT_TOKEN"] = testBotToken
	e["SLACK_SIGNING_SECRET"] = testSecret
	e["SLACK_API_URL"] = api.URL
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error
	go func() {
		defer close(stopped)
		runErr = run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, logs, e.get)
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(15 * time.Second):
			tb.Error("serve did not stop within 15 s")
		}
		if runErr != nil {
			tb.Errorf("serve: %v", runErr)
		}
		if tb.Failed() {
			tb.Logf("serve logs:\n%s", logs.String())
		}
	})
	r := &latencyRig{tb: tb, api: api, client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		clicked: map[string]map[string]bool{}}
	deadline := time.Now().Add(10 * time.Second)
	for r.base == "" {
		select {
		case <-stopped:
			tb.Fatalf("serve stopped at once: %v\n%s", runErr, logs.String())
		default:
		}
		if addr := listening(logs.String()); addr != "" {
			r.base = "http://" + addr
		}
		if time.Now().After(deadline) {
			tb.Fatalf("serve not listening after 10 s\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

func (r *latencyRig) next(prefix string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	return fmt.Sprintf("%s%08d", prefix, r.seq)
}

// send posts a signed request as Slack does and wants 200.
func (r *latencyRig) send(path, contentType string, body []byte) {
	req, err := http.NewRequest(http.MethodPost, r.base+path, bytes.NewReader(body))
	if err != nil {
		r.tb.Error(err)
		return
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range slacktest.Sign(testSecret, time.Now(), body) {
		req.Header[k] = v
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.tb.Errorf("POST %s: %v", path, err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.tb.Errorf("POST %s answered %d", path, resp.StatusCode)
	}
}

// unmarkedClicks counts the questions user answered by a click that still
// show buttons.
func (r *latencyRig) unmarkedClicks(user string) int {
	r.mu.Lock()
	clicked := r.clicked[user]
	r.mu.Unlock()
	n := 0
	for _, m := range r.api.Messages("D" + user) {
		if clicked[m.TS] && (m.HasBlock("choice/") || m.HasBlock("multi/") || m.HasBlock("submit/")) {
			n++
		}
	}
	return n
}

// latencyDriver is one reporter, answering each question as it arrives.
type latencyDriver struct {
	rig  *latencyRig
	user string
	seen int // messages of the DM already looked at
}

// run files reports until take says enough, and returns the latencies.
func (d *latencyDriver) run(take func() bool) []latencySample {
	var out []latencySample
	for take() {
		start := time.Now()
		d.command("report")
		q, ok := d.waitQuestion(start)
		if !ok {
			return out
		}
		out = append(out, latencySample{"command", q.Posted.Sub(start)})
		for {
			if !take() {
				return out
			}
			kind, start := d.answer(q)
			next, ok := d.waitQuestion(start)
			if !ok {
				return out
			}
			out = append(out, latencySample{kind, next.Posted.Sub(start)})
			if next.TS == "" {
				break // the report was filed
			}
			q = next
		}
	}
	return out
}

// waitQuestion waits for the next message in the DM asking something, or
// telling a case number (returned with no TS: the report is filed).
func (d *latencyDriver) waitQuestion(since time.Time) (slacktest.Message, bool) {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		changed := d.rig.api.Changed()
		msgs := d.rig.api.Messages("D" + d.user)
		for i := d.seen; i < len(msgs); i++ {
			m := msgs[i]
			if m.Ephemeral {
				continue
			}
			if caseNumber.MatchString(m.Text + string(m.Blocks)) {
				d.seen = len(msgs)
				return slacktest.Message{Posted: m.Posted}, true
			}
			if m.HasBlock("choice/") || m.HasBlock("multi/") || m.HasBlock("control/") {
				d.seen = i + 1
				return m, true
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			var last []string
			for _, m := range msgs[max(0, len(msgs)-4):] {
				last = append(last, fmt.Sprintf("%s %s %.80q %.300s", m.TS, m.Via, m.Text, m.Blocks))
			}
			d.rig.tb.Errorf("%s: no question 30 s after %s; the DM's last messages (%d seen):\n%s", d.user, since.Format(time.TimeOnly), d.seen, strings.Join(last, "\n"))
			return slacktest.Message{}, false
		}
	}
}

func (d *latencyDriver) command(text string) {
	body := url.Values{
		"team_id": {slacktest.TeamID}, "channel_id": {"D" + d.user}, "user_id": {d.user},
		"command": {"/kasuhara"}, "text": {text}, "trigger_id": {d.rig.next("trigger.")},
		"response_url": {d.rig.api.ResponseURL("D"+d.user, "", d.user)},
	}.Encode()
	d.rig.send("/slack/commands", formType, []byte(body))
}

// answer answers question q: a click on a button when it has some (the
// summary's submit, the first otherwise, never a navigation), the first
// option of a multi-select, or typed text. It returns the kind and when
// the answer left.
func (d *latencyDriver) answer(q slacktest.Message) (string, time.Time) {
	var blocks []map[string]any
	if err := json.Unmarshal(q.Blocks, &blocks); err != nil {
		d.rig.tb.Fatal(err)
	}
	var action map[string]any
	state := map[string]any{}
	for _, blk := range blocks {
		id, _ := blk["block_id"].(string)
		elems, _ := blk["elements"].([]any)
		for _, e := range elems {
			el, _ := e.(map[string]any)
			switch {
			case strings.HasPrefix(id, "choice/") && el["type"] == "button":
				v, _ := el["value"].(string)
				if action == nil || v == "submit" {
					action = map[string]any{"type": "button", "block_id": id, "action_id": el["action_id"], "value": v, "text": el["text"]}
				}
			case strings.HasPrefix(id, "multi/") && el["type"] == "checkboxes" && len(state) == 0:
				opts, _ := el["options"].([]any)
				state[id] = map[string]any{fmt.Sprint(el["action_id"]): map[string]any{"type": "checkboxes", "selected_options": opts[:1]}}
			case strings.HasPrefix(id, "submit/") && el["type"] == "button":
				action = map[string]any{"type": "button", "block_id": id, "action_id": el["action_id"], "value": el["value"]}
			}
		}
	}
	if action == nil {
		time.Sleep(typeThink)
		start := time.Now()
		d.say("答えです")
		return "text", start
	}
	action["action_ts"] = d.rig.next("1700000200.")
	p := map[string]any{
		"type":         "block_actions",
		"team":         map[string]any{"id": slacktest.TeamID},
		"user":         map[string]any{"id": d.user},
		"trigger_id":   d.rig.next("trigger."),
		"container":    map[string]any{"type": "message", "channel_id": "D" + d.user, "message_ts": q.TS},
		"channel":      map[string]any{"id": "D" + d.user},
		"message":      map[string]any{"type": "message", "ts": q.TS, "blocks": blocks},
		"actions":      []any{action},
		"response_url": d.rig.api.ResponseURL("D"+d.user, q.TS, d.user),
	}
	if len(state) > 0 {
		p["state"] = map[string]any{"values": state}
	}
	j, err := json.Marshal(p)
	if err != nil {
		d.rig.tb.Fatal(err)
	}
	d.rig.mu.Lock()
	if d.rig.clicked[d.user] == nil {
		d.rig.clicked[d.user] = map[string]bool{}
	}
	d.rig.clicked[d.user][q.TS] = true
	d.rig.mu.Unlock()
	time.Sleep(clickThink)
	start := time.Now()
	d.rig.send("/slack/interactivity", formType, []byte(url.Values{"payload": {string(j)}}.Encode()))
	return "click", start
}

func (d *latencyDriver) say(text string) {
	ts := d.rig.next("1700000100.")
	b, err := json.Marshal(map[string]any{
		"team_id": slacktest.TeamID, "type": "event_callback", "event_id": d.rig.next("Ev"), "event_time": time.Now().Unix(),
		"event": map[string]any{"type": "message", "channel_type": "im", "channel": "D" + d.user, "user": d.user,
			"text": text, "ts": ts, "event_ts": ts},
	})
	if err != nil {
		d.rig.tb.Fatal(err)
	}
	d.rig.send("/slack/events", "application/json", b)
}
