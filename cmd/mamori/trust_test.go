package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// These tests drive `mamori serve` over loopback Slack as the others in
// main_test.go do, for what a reporter must be able to trust: nothing
// private reaches a shared channel, a report sent to HR alone says so in
// every text, and the reporter is never left in the dark.

// askedStep returns the step a message asks, from its buttons or
// checkboxes (a text question has only back, later and cancel); "" for a
// message that asks nothing.
func (b blocks) askedStep() string {
	for _, blk := range b {
		id, _ := blk["block_id"].(string)
		if kind, _, _ := strings.Cut(id, "/"); blk["type"] == "actions" && kind != "" && stepOf(id) != "" {
			return stepOf(id)
		}
	}
	return ""
}

// values lists the values of b's choice buttons, in order.
func (b blocks) values() []string {
	var vs []string
	ids, elems := b.elements()
	for i, e := range elems {
		if strings.HasPrefix(ids[i], "choice/") && e["type"] == "button" {
			vs = append(vs, fmt.Sprint(e["value"]))
		}
	}
	return vs
}

// shown waits until no message to user waits in the outbox: the question
// the fake received is marked sent, so what is typed next answers it
// (typed text answers only a question the person has been shown).
func (r *slackRig) shown(user string) {
	r.t.Helper()
	db, err := sql.Open("sqlite3", "file:"+r.env["MAMORI_DB"]+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND target LIKE ?`, fmt.Sprintf("%%%q%%", user)).Scan(&n)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("messages to %s still pending after 10 s (%d, %v)", user, n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// updated waits for the card c, updated in place, to offer the button
// with value, and returns its blocks.
func (r *slackRig) updated(c posted, value string) blocks {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, u := range r.api.Calls("chat.update") {
			var b blocks
			if u.Get("channel") == c.channel && u.Get("ts") == c.ts && u.Decode("blocks", &b) == nil && strings.Contains(u.Get("blocks"), `"`+value+`"`) {
				return b
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the card %s was not updated to offer %s", c.ts, value)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// typed is what the reporter types at a text question: confidential, it
// must never reach a channel.
func typed(step string) string { return "秘密の回答・" + step }

// fileReport starts a report with /kasuhara and answers every question
// as it comes — whatever their order — sending it to route, having asked
// to talk; it returns the case number from the receipt and the step of
// each question in order.
func (r *slackRig) fileReport(route string) (number string, steps []string) {
	r.t.Helper()
	r.command(reporter, "")
	for range 40 {
		p, i := r.waitPost("D"+reporter, r.seen, "a question", func(p posted) bool { return p.blocks.askedStep() != "" })
		r.seen = i + 1
		step := p.blocks.askedStep()
		steps = append(steps, step)
		values := p.blocks.values()
		switch step {
		case "menu":
			r.click(p.blocks, mamori.StartReport)
		case "safety":
			r.click(p.blocks, "safe")
		case "for_whom":
			r.click(p.blocks, "self")
		case "behaviours":
			r.tick(p.blocks, p.blocks.options()[1])
		case "wellbeing":
			r.click(p.blocks, "hard")
		case "talk":
			r.click(p.blocks, "yes")
		case "route":
			r.click(p.blocks, route)
		case "summary":
			r.click(p.blocks, "submit")
			receipt, i := r.waitPost("D"+reporter, r.seen, "a case number", func(p posted) bool { return caseNumber.MatchString(p.text) })
			r.seen = i
			return caseNumber.FindString(receipt.text), steps
		default:
			if len(values) == 0 || values[0] == "nav:skip" || values[0] == "nav:keep" {
				r.shown(reporter)
				r.say(reporter, typed(step))
			} else {
				r.click(p.blocks, values[0])
			}
		}
	}
	r.t.Fatalf("no summary after 40 questions: %v", steps)
	return "", nil
}

// dms returns the reporter's DMs from the from-th on, once n of them
// have come (or 10 s have passed).
func (r *slackRig) dms(from, n int) []posted {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := r.posts("D" + reporter)
		if len(ps)-from >= n || time.Now().After(deadline) {
			return ps[min(from, len(ps)):]
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// modal opens one with a click on the button with value in b, by user in
// channel, and returns the view it opened.
func (r *slackRig) modal(user, channel string, b blocks, value string) *slacktest.Form {
	r.t.Helper()
	opened := len(r.api.Calls("views.open"))
	r.interact(user, channel, b, r.button(b, value), nil)
	f, err := slacktest.OpenedForm(r.api.WaitCalls(r.t, "views.open", opened+1, 10*time.Second)[opened])
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

// view returns the text of the modal a click on value in b opens for
// user.
func (r *slackRig) view(user, channel string, b blocks, value string) string {
	r.t.Helper()
	opened := len(r.api.Calls("views.open"))
	r.interact(user, channel, b, r.button(b, value), nil)
	return r.api.WaitCalls(r.t, "views.open", opened+1, 10*time.Second)[opened].Get("view")
}

// whispered waits for the n-th ephemeral message (counted from 1) and
// returns it to user in channel.
func (r *slackRig) whispered(n int, user, channel string) string {
	r.t.Helper()
	c := r.api.WaitCalls(r.t, "chat.postEphemeral", n, 10*time.Second)[n-1]
	if c.Get("user") != user || c.Get("channel") != channel {
		r.t.Errorf("ephemeral %d went to %s in %s, want %s in %s", n, c.Get("user"), c.Get("channel"), user, channel)
	}
	return c.Get("text") + "\n" + c.Get("blocks")
}

// home opens the reporter's App Home and returns what it shows.
func (r *slackRig) home() string {
	r.t.Helper()
	published := len(r.api.Calls("views.publish"))
	ts := r.next("1700000300.")
	b, err := json.Marshal(map[string]any{
		"token": "legacy-verification-token", "team_id": slacktest.TeamID, "api_app_id": "A0MAMORI",
		"type": "event_callback", "event_id": r.next("Ev"), "event_time": time.Now().Unix(),
		"event": map[string]any{"type": "app_home_opened", "user": reporter, "channel": "D" + reporter, "tab": "home", "event_ts": ts},
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.send("/slack/events", "application/json", b)
	c := r.api.WaitCalls(r.t, "views.publish", published+1, 10*time.Second)[published]
	var v struct {
		Blocks blocks `json:"blocks"`
	}
	if err := c.Decode("view", &v); err != nil {
		r.t.Fatal(err)
	}
	return strings.Join(v.Blocks.texts(), "\n")
}

// channelTexts is everything Mamori posted, updated or whispered in a
// channel (not a DM), for searching.
func (r *slackRig) channelTexts() string {
	var b strings.Builder
	for _, c := range r.api.Calls("chat.postMessage", "chat.update", "chat.postEphemeral") {
		if strings.HasPrefix(c.Get("channel"), "C") {
			b.WriteString(c.Get("text") + "\n" + c.Get("blocks") + "\n")
		}
	}
	return b.String()
}

// TestServeThreadPrivacy: a supervisor's question and the reporter's
// answer are part of the case's confidential record. The case thread, in
// a channel that may hold people refused the details, gets only a notice
// with a button; the button shows them to the department's supervisors
// and HR and politely refuses anyone else. How the reporter feels is for
// HR, not the line supervisor. Along the way the reporter hears each step
// of the case: taken, asked, decided, reopened — and App Home says what
// comes next.
func TestServeThreadPrivacy(t *testing.T) {
	t.Parallel()
	r := startServe(t)
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	const (
		hr       = "U0HR"
		question = "お客様が来店したのは何時ごろでしたか？"
		answer   = "19時45分ごろです"
	)

	number, steps := r.fileReport(mamori.RouteDepartment)
	got := r.dms(r.seen, 2)
	if len(got) < 2 || !strings.Contains(got[0].text, ja("submitted.header.report", number)) ||
		!strings.Contains(got[0].text, ja("submitted.next")) || !strings.Contains(got[1].text, ja("care.header")) {
		t.Fatalf("on sending, want the receipt with what comes next, then the care resources:\n%v", got)
	}
	receipt := strings.Join(got[0].blocks.texts(), "\n")
	for _, want := range []string{"部署の上長が内容を確認し、", "ごろまでに担当者を決めます", "ごろまでに、会社としての対応を決める予定です",
		ja("submitted.next.tell"), "「話したい」とのことなので、人事の相談窓口から", ja("submitted.privacy")} {
		if !strings.Contains(receipt, want) {
			t.Errorf("the receipt lacks %q:\n%s", want, receipt)
		}
	}
	r.seen += 2
	if h := r.home(); !strings.Contains(h, number) || !strings.Contains(h, "担当者が決まるのを待っています（") {
		t.Errorf("App Home after sending:\n%s", h)
	}

	card, _ := r.waitPost("C0STORE", 0, number, func(p posted) bool { return strings.Contains(p.text, number) })

	// Taken: the reporter hears it, without a name.
	r.interact(supervisor, "C0STORE", card.blocks, r.button(card.blocks, mamori.CardTake+":"+number), nil)
	taken, i := r.waitPost("D"+reporter, r.seen, "the news it is taken", func(p posted) bool { return strings.Contains(p.text, ja("status.taken.header", number)) })
	r.seen = i + 1
	if !strings.Contains(taken.text, ja("status.taken.text")) || strings.Contains(taken.text, supervisor) {
		t.Errorf("taken:\n%s", taken.text)
	}
	if h := r.home(); !strings.Contains(h, "担当者が確認しています。判断は ") {
		t.Errorf("App Home after taking:\n%s", h)
	}

	// Asked: the question reaches the reporter's DM only.
	form := r.modal(supervisor, "C0STORE", card.blocks, mamori.CardAsk+":"+number)
	if err := form.Type("question", question); err != nil {
		t.Fatal(err)
	}
	if ack := r.submit(form.Submission(supervisor)); ack["response_action"] != "clear" {
		t.Fatalf("the question was answered %v", ack)
	}
	q, i := r.waitPost("D"+reporter, r.seen, "the question", func(p posted) bool { return strings.Contains(p.text, question) })
	r.seen = i + 1
	if !strings.Contains(q.text, ja("ask.header", number)) || !strings.Contains(q.text, ja("ask.note")) {
		t.Errorf("the question DM:\n%s", q.text)
	}
	if h := r.home(); !strings.Contains(h, ja("home.next.question")) {
		t.Errorf("App Home with a question open:\n%s", h)
	}
	r.interact(reporter, "D"+reporter, q.blocks, r.button(q.blocks, "reply:"+number+":1"), nil)
	_, i = r.waitPost("D"+reporter, r.seen, "the answer prompt", func(p posted) bool { return strings.Contains(p.text, ja("reply.prompt", number)) })
	r.seen = i + 1
	r.shown(reporter)
	r.say(reporter, answer)
	_, i = r.waitPost("D"+reporter, r.seen, "the thanks", func(p posted) bool { return strings.Contains(p.text, ja("reply.sent", number)) })
	r.seen = i + 1

	// The thread: a notice that a question was asked and one that it was
	// answered, each with the details button; neither says what.
	notice, _ := r.waitPost("C0STORE", 0, "the answer's notice", func(p posted) bool { return strings.Contains(p.text, ja("reply.header", number)) })
	var inThread int
	for _, c := range r.api.Calls("chat.postMessage") {
		if c.Get("channel") == "C0STORE" && c.Get("thread_ts") == card.ts {
			inThread++
		}
	}
	if inThread != 2 || !strings.Contains(notice.text, ja("reply.notice")) {
		t.Errorf("%d posts in the case thread; the notice:\n%s", inThread, notice.text)
	}

	// The button: the supervisor reads question and answer, not how the
	// reporter feels; HR reads all of it; a colleague is refused.
	details := mamori.CardDetails + ":" + number
	sup := r.view(supervisor, "C0STORE", notice.blocks, details)
	for _, want := range []string{question, answer, typed("narrative")} {
		if !strings.Contains(sup, want) {
			t.Errorf("the supervisor's details lack %q:\n%s", want, sup)
		}
	}
	wellbeing, talk := policy.T(mamori.JA, "s.wellbeing"), policy.T(mamori.JA, "s.talk")
	if strings.Contains(sup, wellbeing) || strings.Contains(sup, talk) || !strings.Contains(sup, ja("details.health_hidden")) {
		t.Errorf("the supervisor's details show how the reporter feels:\n%s", sup)
	}
	if h := r.view(hr, "C0STORE", notice.blocks, details); !strings.Contains(h, answer) || !strings.Contains(h, wellbeing) || !strings.Contains(h, talk) {
		t.Errorf("HR's details:\n%s", h)
	}
	whispers := len(r.api.Calls("chat.postEphemeral"))
	r.interact(outsider, "C0STORE", notice.blocks, r.button(notice.blocks, details), nil)
	if got := r.whispered(whispers+1, outsider, "C0STORE"); !strings.Contains(got, ja("details.refused")) || strings.Contains(got, answer) {
		t.Errorf("the colleague's refusal:\n%s", got)
	}

	// Decided: the outcome, the company's response in considerate words,
	// the way to HR; the care resources once.
	form = r.modal(supervisor, "C0STORE", card.blocks, mamori.CardJudge+":"+number)
	for _, err := range []error{
		form.Choose("validity", "invalid"),
		form.Choose("means", "unacceptable"),
		form.Choose("outcome", mamori.OutcomeKasuhara),
		form.Choose("actions", "warn", "refuse"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ack := r.submit(form.Submission(supervisor)); ack["response_action"] != "clear" {
		t.Fatalf("the judgement was answered %v", ack)
	}
	decided, i := r.waitPost("D"+reporter, r.seen, "the decision", func(p posted) bool { return strings.Contains(p.text, ja("outcome.header", number)) })
	r.seen = i + 1
	text := strings.Join(decided.blocks.texts(), "\n")
	for _, want := range []string{ja("outcome.kasuhara"), ja("outcome.actions"), ja("outcome.action.warn"), ja("outcome.action.refuse"), ja("outcome.disagree"), ja("outcome.ask_hr")} {
		if !strings.Contains(text, want) {
			t.Errorf("the decision lacks %q:\n%s", want, text)
		}
	}
	r.waitPost("D"+reporter, r.seen, "the care resources", func(p posted) bool { return strings.Contains(p.text, ja("care.header")) })

	// Reopened: the reporter hears it, not the reason.
	form = r.modal(supervisor, "C0STORE", r.updated(card, mamori.CardReopen+":"+number), mamori.CardReopen+":"+number)
	if err := form.Type("reason", "防犯カメラの映像が新しく見つかった"); err != nil {
		t.Fatal(err)
	}
	if ack := r.submit(form.Submission(supervisor)); ack["response_action"] != "clear" {
		t.Fatalf("the reopening was answered %v", ack)
	}
	reopened, i := r.waitPost("D"+reporter, r.seen, "the reopening", func(p posted) bool { return strings.Contains(p.text, ja("status.reopened.header", number)) })
	r.seen = i + 1
	if strings.Contains(reopened.text, "防犯カメラ") {
		t.Errorf("the reason told to the reporter:\n%s", reopened.text)
	}
	if h := r.home(); !strings.Contains(h, ja("home.next.reopened")) {
		t.Errorf("App Home after reopening:\n%s", h)
	}

	// Over the whole case: no answer, question or typed text in any
	// channel; the care resources twice (sending, decision), their words
	// once each time.
	channels := r.channelTexts()
	for _, secret := range append([]string{question, answer, "19時45分"}, typed("narrative"), typed("words")) {
		if strings.Contains(channels, secret) {
			t.Errorf("%q reached a channel", secret)
		}
	}
	var care, alone int
	for _, p := range r.posts("D" + reporter) {
		if strings.Contains(p.text, ja("care.header")) {
			care++
		}
		alone += strings.Count(strings.Join(p.blocks.texts(), "\n"), "ひとりで抱え")
	}
	if care != 2 || alone != 2 {
		t.Errorf("care resources %d times, 「ひとりで抱えないでください」 %d times; want 2 and 2", care, alone)
	}
	if !strings.Contains(strings.Join(steps, " "), "talk") {
		t.Errorf("the report did not ask about talking: %v", steps)
	}
	if testing.Verbose() {
		t.Logf("what the reporter read:\n%s", transcript(dmCalls(r.api.Calls("chat.postMessage"))))
		t.Logf("App Home:\n%s", r.home())
		t.Logf("the case thread:\n%s", transcript(threadCalls(r.api.Calls("chat.postMessage"), card.ts)))
	}
	for _, c := range r.api.Calls() {
		if c.Error != "" || c.Status != http.StatusOK {
			t.Errorf("Web API %s answered %d %s", c.Method, c.Status, c.Error)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{question, answer, typed("narrative")} {
		if strings.Contains(r.logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}

// threadCalls keeps the calls to the thread of the message at ts.
func threadCalls(calls []slacktest.Call, ts string) []slacktest.Call {
	var out []slacktest.Call
	for _, c := range calls {
		if c.Get("thread_ts") == ts {
			out = append(out, c)
		}
	}
	return out
}

// dmCalls keeps the calls to a DM.
func dmCalls(calls []slacktest.Call) []slacktest.Call {
	var out []slacktest.Call
	for _, c := range calls {
		if strings.HasPrefix(c.Channel(), "D") {
			out = append(out, c)
		}
	}
	return out
}

// TestServeHRRoute: a reporter who sends a report to HR instead of their
// supervisors is told, at every moment after sending, that only HR sees
// it; HR's question says it is from HR; the card in the HR channel says
// only HR sees the details, and the supervisor is refused them in those
// words.
func TestServeHRRoute(t *testing.T) {
	t.Parallel()
	r := startServe(t)
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	const hr = "U0HR"

	number, _ := r.fileReport(mamori.RouteHR)
	from := r.seen
	card, _ := r.waitPost("C0HR", 0, number, func(p posted) bool {
		return strings.Contains(p.text, number) && strings.Contains(p.text, mamori.CardTake)
	})
	if !strings.Contains(card.text, ja("card.note.hr")) || !strings.Contains(card.text, ja("card.next.hr")) {
		t.Errorf("the HR card:\n%s", card.text)
	}
	receipt := r.dms(from, 1)[0]
	for _, want := range []string{"人事が内容を確認し、", "上長には届いていません", ja("submitted.privacy.hr")} {
		if !strings.Contains(strings.Join(receipt.blocks.texts(), "\n"), want) {
			t.Errorf("the receipt lacks %q:\n%s", want, receipt.text)
		}
	}
	if h := r.home(); !strings.Contains(h, "人事の担当者が決まるのを待っています（") {
		t.Errorf("App Home:\n%s", h)
	}

	// The supervisor may not see it, and is told who may.
	whispers := len(r.api.Calls("chat.postEphemeral"))
	r.interact(supervisor, "C0HR", card.blocks, r.button(card.blocks, mamori.CardDetails+":"+number), nil)
	if got := r.whispered(whispers+1, supervisor, "C0HR"); !strings.Contains(got, ja("details.refused.hr")) || strings.Contains(got, typed("narrative")) {
		t.Errorf("the supervisor's refusal:\n%s", got)
	}
	r.interact(supervisor, "C0HR", card.blocks, r.button(card.blocks, mamori.CardTake+":"+number), nil)
	if got := r.whispered(whispers+2, supervisor, "C0HR"); !strings.Contains(got, ja("judge.refused.hr")) {
		t.Errorf("the supervisor's take:\n%s", got)
	}

	// HR takes it, asks, is answered, decides.
	r.interact(hr, "C0HR", card.blocks, r.button(card.blocks, mamori.CardTake+":"+number), nil)
	_, i := r.waitPost("D"+reporter, r.seen, "the news it is taken", func(p posted) bool { return strings.Contains(p.text, ja("status.taken.text.hr")) })
	r.seen = i + 1
	form := r.modal(hr, "C0HR", card.blocks, mamori.CardAsk+":"+number)
	if err := form.Type("question", "いまはお店に出られていますか？"); err != nil {
		t.Fatal(err)
	}
	if ack := r.submit(form.Submission(hr)); ack["response_action"] != "clear" {
		t.Fatalf("the question was answered %v", ack)
	}
	q, i := r.waitPost("D"+reporter, r.seen, "the question", func(p posted) bool { return strings.Contains(p.text, "お店に出られて") })
	r.seen = i + 1
	if !strings.Contains(q.text, ja("ask.header.hr", number)) || !strings.Contains(q.text, ja("ask.note.hr")) {
		t.Errorf("HR's question:\n%s", q.text)
	}
	r.interact(reporter, "D"+reporter, q.blocks, r.button(q.blocks, "reply:"+number+":1"), nil)
	_, i = r.waitPost("D"+reporter, r.seen, "the answer prompt", func(p posted) bool { return strings.Contains(p.text, ja("reply.prompt", number)) })
	r.seen = i + 1
	r.shown(reporter)
	r.say(reporter, "いまは休んでいます")
	notice, _ := r.waitPost("C0HR", 0, "the answer's notice", func(p posted) bool { return strings.Contains(p.text, ja("reply.header", number)) })
	if !strings.Contains(notice.text, ja("reply.notice.hr")) || strings.Contains(notice.text, "休んで") {
		t.Errorf("the notice:\n%s", notice.text)
	}
	form = r.modal(hr, "C0HR", card.blocks, mamori.CardJudge+":"+number)
	for _, err := range []error{
		form.Choose("validity", "invalid"),
		form.Choose("means", "unacceptable"),
		form.Choose("outcome", mamori.OutcomeKasuhara),
		form.Choose("actions", "police"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ack := r.submit(form.Submission(hr)); ack["response_action"] != "clear" {
		t.Fatalf("the judgement was answered %v", ack)
	}
	_, i = r.waitPost("D"+reporter, r.seen, "the decision", func(p posted) bool {
		return strings.Contains(p.text, ja("outcome.header", number)) && strings.Contains(strings.Join(p.blocks.texts(), "\n"), ja("outcome.action.police"))
	})
	r.seen = i + 1
	r.waitPost("D"+reporter, r.seen, "the care resources", func(p posted) bool { return strings.Contains(p.text, ja("care.header")) })

	// Nothing the reporter read from the receipt on says their
	// supervisors see it or ask; nothing reached the supervisors' channel.
	for _, p := range r.posts("D" + reporter)[from:] {
		text := strings.Join(p.blocks.texts(), "\n") + "\n" + p.text
		for _, wrong := range []string{"部署の上長と人事", "上長からの質問", "上長に届けました", "上長が内容を確認"} {
			if strings.Contains(text, wrong) {
				t.Errorf("a report sent to HR alone is told %q:\n%s", wrong, text)
			}
		}
	}
	if ps := r.posts("C0STORE"); len(ps) != 0 {
		t.Errorf("the supervisors' channel got %d posts", len(ps))
	}
	if strings.Contains(r.channelTexts(), "休んで") {
		t.Error("the answer reached a channel")
	}
}
