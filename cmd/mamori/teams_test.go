package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
	"github.com/mamori-oss/mamori/flows"
)

// The end-to-end test below plays Microsoft Teams against `mamori serve`:
// the loopback fake signs activities with its own keys, issues the bot's
// tokens and records what the bot posts through the Bot Connector.

const teamsAppID = "11111111-2222-4333-8444-555555555555"

var (
	tTanaka = teamstest.Member{ID: "29:tanaka", AadObjectID: "aad-tanaka", Name: "田中 花子", Email: "tanaka@example.co.jp", Locale: "ja-JP", Installed: true}
	tSato   = teamstest.Member{ID: "29:sato", AadObjectID: "aad-sato", Name: "佐藤 一郎", Email: "sato@example.co.jp", Locale: "ja-JP", Installed: true}
	tYamada = teamstest.Member{ID: "29:yamada", AadObjectID: "aad-yamada", Name: "Taro Yamada", Email: "yamada@example.co.jp", Locale: "en-US", Installed: true}
	tHR     = teamstest.Member{ID: "29:hr", AadObjectID: "aad-hr", Name: "人事 窓口", Email: "hr@example.co.jp", Locale: "ja-JP", Installed: true}

	storeConv = teamstest.Channel("19:store@thread.tacv2", "店舗 上長", "19:team@thread.tacv2", "テスト株式会社")
	hrConv    = teamstest.Channel("19:hr@thread.tacv2", "人事 相談窓口", "19:team@thread.tacv2", "テスト株式会社")
)

const teamsConfig = `organisation: テスト株式会社
language: ja
timezone: Asia/Tokyo
policy: mhlw-2022
care:
  checkins: [1m]
hr:
  channel: "19:hr@thread.tacv2"
  members: [hr@example.co.jp]
departments:
  - id: store
    name: {ja: 店舗運営部, en: Store operations}
    supervisor_channel: "19:store@thread.tacv2"
    supervisors: [sato@example.co.jp]
    members: [tanaka@example.co.jp]
  - id: support
    name: {ja: カスタマーサポート部, en: Customer support}
    supervisor_channel: "19:support@thread.tacv2"
    supervisors: [suzuki@example.co.jp]
    members: [yamada@example.co.jp]
`

// teamsRig is a running `mamori serve` and the fake Microsoft around it.
type teamsRig struct {
	t    *testing.T
	fake *teamstest.Fake
	env  testEnv
	url  string // http://127.0.0.1:port/api/messages
	base string
	logs *syncBuffer
	stop func() error
	seen int // posts to the reporter's chat already read
}

func teamsEnv(t *testing.T, fake *teamstest.Fake) testEnv {
	e := newEnv(t)
	e["MAMORI_CONFIG"] = filepath.Join(t.TempDir(), "mamori.yaml")
	if err := os.WriteFile(e["MAMORI_CONFIG"], []byte(teamsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	e["MICROSOFT_APP_ID"] = teamsAppID
	e["MICROSOFT_APP_PASSWORD"] = "test-client-secret"
	e["MICROSOFT_APP_TENANT_ID"] = teamstest.Tenant
	e["MAMORI_TEAMS_OPENID_METADATA_URL"] = fake.MetadataURL
	e["MAMORI_TEAMS_TOKEN_URL"] = fake.TokenURL
	return e
}

// startTeams runs `mamori serve` with e until the test ends or stop.
func startTeams(t *testing.T, fake *teamstest.Fake, e testEnv) *teamsRig {
	t.Helper()
	r := &teamsRig{t: t, fake: fake, env: e, logs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
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
	for r.base == "" {
		select {
		case <-stopped:
			t.Fatalf("serve stopped at once: %v\n%s", runErr, r.logs.String())
		default:
		}
		if addr := listening(r.logs.String()); addr != "" {
			r.base = "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen within 10 s\n%s", r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.url = r.base + "/api/messages"
	return r
}

// send posts a correctly signed activity and wants 200.
func (r *teamsRig) send(act map[string]any) map[string]any {
	r.t.Helper()
	code, body, err := teamstest.Post(r.url, act, r.fake.Token())
	if err != nil || code != http.StatusOK {
		r.t.Fatalf("%s %v answered %d %v (%v)", act["type"], act["name"], code, body, err)
	}
	return body
}

// posts lists what the bot posted to the reporter's chat.
func (r *teamsRig) dm(m teamstest.Member) string { return teamstest.PersonalConv(m.ID) }

// find returns the data of the button in card whose value is value.
func find(card map[string]any, value string) (map[string]any, string) {
	var data map[string]any
	var typ string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if d, ok := x["data"].(map[string]any); ok && d["v"] == value && data == nil {
				data, typ = d, fmt.Sprint(x["type"])
			}
			for k, c := range x {
				if k != "fallback" {
					walk(c)
				}
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(card)
	return data, typ
}

func hasStep(card map[string]any, step string) bool {
	b, _ := json.Marshal(card)
	return strings.Contains(string(b), `"s":"`+step+`"`)
}

// question waits for the reporter's next post that asks step.
func (r *teamsRig) question(step string) map[string]any {
	r.t.Helper()
	a, i := r.fake.Wait(r.t, r.dm(tTanaka), r.seen, "step "+step, func(a teamstest.Activity) bool { return a.Method == "POST" && hasStep(a.Card(), step) })
	r.seen = i + 1
	waitDelivered(r.t, r.env, mamori.PlatformTeams, tTanaka.AadObjectID)
	return a.Card()
}

// click presses the button with value on card, as m in conv, and returns
// the invoke response.
func (r *teamsRig) click(m teamstest.Member, conv teamstest.Conv, card map[string]any, value string, inputs map[string]any) map[string]any {
	r.t.Helper()
	data, typ := find(card, value)
	if data == nil {
		r.t.Fatalf("no button %q in %v", value, teamstest.Texts(card))
	}
	if typ != "Action.Execute" {
		r.t.Fatalf("button %q is a %s", value, typ)
	}
	return r.send(r.fake.Execute(m, conv, data, inputs))
}

// dialog opens the dialog of the button with value on card.
func (r *teamsRig) dialog(m teamstest.Member, conv teamstest.Conv, card map[string]any, value string) map[string]any {
	r.t.Helper()
	data, typ := find(card, value)
	if data == nil || typ != "Action.Submit" || !strings.Contains(fmt.Sprint(data["msteams"]), "task/fetch") {
		r.t.Fatalf("no dialog button %q (%s) in %v", value, typ, teamstest.Texts(card))
	}
	return r.send(r.fake.Task("task/fetch", m, conv, data, nil))
}

// taskOf reads a task response: "continue" with its card, or "message".
func taskOf(t *testing.T, body map[string]any) (string, map[string]any, string) {
	t.Helper()
	task, _ := body["task"].(map[string]any)
	switch task["type"] {
	case "continue":
		v, _ := task["value"].(map[string]any)
		c, _ := v["card"].(map[string]any)
		content, _ := c["content"].(map[string]any)
		return "continue", content, ""
	case "message":
		return "message", nil, fmt.Sprint(task["value"])
	}
	t.Fatalf("not a task response: %v", body)
	return "", nil, ""
}

// submit sends a dialog's form with inputs.
func (r *teamsRig) submit(m teamstest.Member, conv teamstest.Conv, form map[string]any, inputs map[string]any) map[string]any {
	r.t.Helper()
	actions, _ := form["actions"].([]any)
	if len(actions) == 0 {
		r.t.Fatalf("a form without its submit button: %v", form)
	}
	data, _ := actions[0].(map[string]any)["data"].(map[string]any)
	return r.send(r.fake.Task("task/submit", m, conv, data, inputs))
}

func (r *teamsRig) say(text string) { r.t.Helper(); r.send(r.fake.Message(tTanaka, text)) }

func texts(card map[string]any) string { return strings.Join(teamstest.Texts(card), "\n") }

func TestServeTeams(t *testing.T) {
	t.Parallel()
	fake := teamstest.New(t, teamstest.Options{AppID: teamsAppID, Password: "test-client-secret"})
	for _, m := range []teamstest.Member{tTanaka, tSato, tYamada, tHR} {
		fake.AddMember(m)
	}
	env := teamsEnv(t, fake)
	r := startTeams(t, fake, env)
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	rep := reports[mamori.JA]

	// Mamori is added to the team: the channels' references are kept.
	r.send(fake.Added(tHR, storeConv))
	r.send(fake.Added(tHR, hrConv))

	// Activities that are not Microsoft's are refused, without a panic.
	forged := fake.Message(tTanaka, "偽物のメッセージ")
	claims := fake.Claims()
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"missing", "", 401},
		{"bad signature", fake.Sign(withClaims(claims, func(c *teamstest.Claims) { c.ForgeKey = true })), 401},
		{"wrong issuer", fake.Sign(withClaims(claims, func(c *teamstest.Claims) { c.Issuer = "https://evil.example" })), 401},
		{"wrong audience", fake.Sign(withClaims(claims, func(c *teamstest.Claims) { c.Audience = "another-bot" })), 401},
		{"expired", fake.Sign(withClaims(claims, func(c *teamstest.Claims) { c.Expires = time.Now().Add(-10 * time.Minute) })), 401},
		{"wrong serviceUrl", fake.Sign(withClaims(claims, func(c *teamstest.Claims) { c.ServiceURL = "https://evil.example/" })), 403},
		{"unknown kid", fake.Sign(withClaims(claims, func(c *teamstest.Claims) { c.Kid = "unknown" })), 401},
	} {
		if code, _, err := teamstest.Post(r.url, forged, tc.token); err != nil || code != tc.want {
			t.Errorf("%s: answered %d (%v), want %d", tc.name, code, err, tc.want)
		}
	}

	// The reporter adds Mamori: the menu, in Japanese from the locale.
	r.send(fake.Added(tTanaka, teamstest.Personal(tTanaka)))
	menu := r.question("menu")
	if !strings.Contains(texts(menu), policy.T(mamori.JA, "menu.report")) {
		t.Errorf("the menu: %s", texts(menu))
	}
	// A click answers in place: the question becomes its answer.
	ans := r.click(tTanaka, teamstest.Personal(tTanaka), menu, mamori.StartReport, nil)
	if ans["type"] != "application/vnd.microsoft.card.adaptive" || !strings.Contains(fmt.Sprint(ans["value"]), "✓") {
		t.Errorf("the click was answered %v", ans)
	}
	personal := teamstest.Personal(tTanaka)
	click := func(card map[string]any, value string) { r.t.Helper(); r.click(tTanaka, personal, card, value, nil) }
	safety := r.question("safety")
	click(safety, "safe")
	click(r.question("for_whom"), "self")
	r.question("when")
	r.say(rep.when)
	r.question("narrative")
	narrative := fake.Message(tTanaka, rep.narrative)
	r.send(narrative)
	click(r.question("channel"), "in_person")
	// A delivery the Connector retries (same activity id) is not taken twice.
	r.send(narrative)
	r.question("place")
	r.say(rep.place)
	r.question("customer")
	r.say(rep.customer)
	r.question("customer_id")
	r.say(rep.customerIDs)
	r.question("demand")
	r.say(rep.demand)
	behaviours := r.question("behaviours")
	opts := choiceValues(behaviours)
	if len(opts) < 11 {
		t.Fatalf("want the policy's behaviours, got %v", opts)
	}
	submit, _ := find(behaviours, "done")
	if submit == nil {
		submit = firstSubmit(behaviours)
	}
	r.send(fake.Execute(tTanaka, personal, submit, map[string]any{"mamori.multi": opts[2] + "," + opts[10]}))
	r.question("words")
	r.say(rep.words)
	click(r.question("duration"), "under30")
	click(r.question("repeat"), "first")
	click(r.question("witnesses"), "nav:skip")
	evidence := r.question("evidence")
	file := fake.Message(tTanaka, "")
	file["attachments"] = []any{map[string]any{"contentType": "application/vnd.microsoft.teams.file.download.info", "name": "rec.m4a",
		"contentUrl": "https://contoso.sharepoint.com/personal/tanaka/Documents/rec.m4a",
		"content":    map[string]any{"downloadUrl": "https://download.example/secret-token", "uniqueId": "F0REC", "fileType": "m4a"}}}
	r.send(file)
	_, i := fake.Wait(t, r.dm(tTanaka), r.seen, "the file receipt", func(a teamstest.Activity) bool { return strings.Contains(a.JSON(), "rec.m4a") })
	r.seen = i + 1
	click(evidence, "recording")
	click(r.question("fault"), "no")
	click(r.question("wellbeing"), "hard")
	click(r.question("talk"), "yes")
	click(r.question("route"), mamori.RouteDepartment)
	summary := r.question("summary")
	for _, answer := range []string{rep.when, rep.place, rep.customer, rep.demand, rep.narrative, rep.words, "rec.m4a"} {
		if !strings.Contains(texts(summary), answer) {
			t.Errorf("the summary lacks %q", answer)
		}
	}
	if strings.Contains(texts(summary), "偽物") {
		t.Error("a forged activity's text reached the summary")
	}
	click(summary, "submit")

	receipt, i := fake.Wait(t, r.dm(tTanaka), r.seen, "a case number", func(a teamstest.Activity) bool { return caseNumber.MatchString(a.JSON()) })
	r.seen = i + 1
	number := caseNumber.FindString(receipt.JSON())
	if !strings.HasSuffix(number, "-0001") {
		t.Errorf("case number %s", number)
	}

	// The supervisors' channel gets the case card, HR the care request,
	// neither with anything confidential.
	card, _ := fake.Wait(t, storeConv.ID, 0, number, func(a teamstest.Activity) bool { return a.Method == "POST" && strings.Contains(a.JSON(), number) })
	care, _ := fake.Wait(t, hrConv.ID, 0, number, func(a teamstest.Activity) bool { return strings.Contains(a.JSON(), number) })
	for _, a := range []teamstest.Activity{card, care} {
		for _, secret := range rep.confidential() {
			if strings.Contains(a.JSON(), secret) {
				t.Errorf("the post to %s shows %q", a.Conversation, secret)
			}
		}
	}
	if strings.Contains(r.logs.String(), "secret-token") {
		t.Error("a file's download URL was logged")
	}

	// Details: a dialog for the supervisor, a refusal for someone else.
	kind, details, _ := taskOf(t, r.dialog(tSato, storeConv, card.Card(), mamori.CardDetails+":"+number))
	if kind != "continue" || !strings.Contains(texts(details), rep.narrative) || !strings.Contains(texts(details), "rec.m4a") {
		t.Errorf("the supervisor's details: %s %s", kind, texts(details))
	}
	kind, _, msg := taskOf(t, r.dialog(tYamada, storeConv, card.Card(), mamori.CardDetails+":"+number))
	if kind != "message" || strings.Contains(msg, rep.narrative) || !strings.Contains(msg, policy.T(mamori.EN, "details.refused")) {
		t.Errorf("the outsider was answered %s %q", kind, msg)
	}

	// Take (one click, answered in a dialog's message): refused to the
	// outsider, done for the supervisor, and the card is updated in place.
	if kind, _, got := taskOf(t, r.dialog(tYamada, storeConv, card.Card(), mamori.CardTake+":"+number)); kind != "message" || !strings.Contains(got, policy.T(mamori.EN, "judge.refused")) {
		t.Errorf("the outsider's take: %s %q", kind, got)
	}
	if kind, _, got := taskOf(t, r.dialog(tSato, storeConv, card.Card(), mamori.CardTake+":"+number)); kind != "message" || !strings.Contains(got, ja("judge.done.take", number)) {
		t.Errorf("the supervisor's take: %s %q", kind, got)
	}
	taken, _ := fake.Wait(t, storeConv.ID, 0, "the card taken", func(a teamstest.Activity) bool {
		return a.Method == "PUT" && a.ID == card.ID && strings.Contains(a.JSON(), ja("status.taken"))
	})

	// Ask the reporter: the answer arrives in the card's thread.
	kind, form, _ := taskOf(t, r.dialog(tSato, storeConv, taken.Card(), mamori.CardAsk+":"+number))
	if kind != "continue" {
		t.Fatalf("no ask dialog")
	}
	if kind, _, msg = taskOf(t, r.submit(tSato, storeConv, form, map[string]any{"question": "相手は何回目の来店ですか？"})); kind != "message" || !strings.Contains(msg, ja("judge.done.ask", number)) {
		t.Errorf("the question was answered %s %q", kind, msg)
	}
	q, i := fake.Wait(t, r.dm(tTanaka), r.seen, "the question", func(a teamstest.Activity) bool { return strings.Contains(a.JSON(), "何回目の来店") })
	r.seen = i + 1
	click(q.Card(), "reply:"+number+":1")
	r.say("三回目です")
	// The thread hears of the answer (after the question's note).
	fake.Wait(t, storeConv.ID+";messageid="+card.ID, 1, "the answer in the thread", func(a teamstest.Activity) bool {
		return strings.Contains(a.JSON(), number) || strings.Contains(a.JSON(), "三回目です")
	})

	// Judge: a form that shows the policy's suggestion and chooses
	// nothing; ①, ② and the decision are required.
	kind, form, _ = taskOf(t, r.dialog(tSato, storeConv, taken.Card(), mamori.CardJudge+":"+number))
	if kind != "continue" || !strings.Contains(texts(form), ja("card.suggestion")) || !strings.Contains(texts(form), ja("judge.suggested", ja("decision.kasuhara"))) {
		t.Fatalf("the judge form: %s %s", kind, texts(form))
	}
	inputs := formInputs(form)
	for _, id := range []string{"validity", "means", "outcome"} {
		if in := inputs[id]; in == nil || in["isRequired"] != true {
			t.Errorf("the judge form's %s: %v, want a required input", id, in)
		}
	}
	for id, in := range inputs {
		if in["value"] != nil {
			t.Errorf("the judge form chose %v in %s for the supervisor", in["value"], id)
		}
	}
	if in := inputs["m.actions"]; in == nil || in["isMultiSelect"] != true {
		t.Errorf("the judge form's responses: %v, want a multi-select m.actions", in)
	}
	// A decision against ② without a reason: the dialog stays, saying
	// why, with what was chosen.
	judgement := map[string]any{"facts": "防犯カメラの映像で確認", "validity": "invalid", "means": "acceptable",
		"outcome": mamori.OutcomeKasuhara, "m.actions": "warn"}
	kind, again, _ := taskOf(t, r.submit(tSato, storeConv, form, judgement))
	contradiction := ja("judge.contradiction", ja("judge.means.acceptable"), ja("decision.kasuhara"))
	if kind != "continue" || !strings.Contains(texts(again), contradiction) {
		t.Fatalf("a decision against ② without a reason was answered %s %s", kind, texts(again))
	}
	if in := formInputs(again); in["facts"]["value"] != "防犯カメラの映像で確認" || in["means"]["value"] != "acceptable" || in["m.actions"]["value"] != "warn" {
		t.Errorf("the refused dialog lost what was typed: %v", in)
	}
	judgement["means"] = "unacceptable"
	if kind, _, msg = taskOf(t, r.submit(tSato, storeConv, again, judgement)); kind != "message" || !strings.Contains(msg, ja("judge.done.judge", number)) {
		t.Errorf("the judgement was answered %s %q", kind, msg)
	}
	fake.Wait(t, storeConv.ID, 0, "the card judged", func(a teamstest.Activity) bool {
		return a.Method == "PUT" && a.ID == card.ID && strings.Contains(texts(a.Card()), ja("status.judged")) &&
			strings.Contains(texts(a.Card()), ja("decision.kasuhara"))
	})
	_, i = fake.Wait(t, r.dm(tTanaka), r.seen, "the outcome", func(a teamstest.Activity) bool {
		return strings.Contains(a.JSON(), ja("outcome.header", number))
	})
	r.seen = i + 1
	// Judged once: a second submission closes the dialog with the reason.
	if kind, _, msg := taskOf(t, r.submit(tSato, storeConv, form, judgement)); kind != "message" || !strings.Contains(msg, ja("judge.already_judged")) {
		t.Errorf("a second judgement was answered %s %q", kind, msg)
	}

	// An English speaker reads the overview in English.
	r.send(fake.Message(tYamada, "home"))
	fake.Wait(t, r.dm(tYamada), 0, "the English overview", func(a teamstest.Activity) bool {
		return strings.Contains(texts(a.Card()), policy.T(mamori.EN, "home.header"))
	})

	if err := r.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}

	// Days later: the check-in goes out (here: the schedule is run at the
	// first working moment after it is due).
	cfg, err := loadConfig(env["MAMORI_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	// (A minute after the first working moment may be past the end of the
	// day: then the next morning.)
	work := flows.Care{}.WorkingTime
	later := work(work(time.Now().Add(2*time.Minute), cfg.loc).Add(time.Minute), cfg.loc)
	ctx := context.Background()
	a, err := newApp(ctx, cfg, env.get, slog.New(slog.DiscardHandler), func() time.Time { return later })
	if err != nil {
		t.Fatal(err)
	}
	tset, err := teamsSettings(env.get, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setupTeams(ctx, a, http.NewServeMux(), tset, env.get, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	a.db.Close()
	checkin, i := fake.Wait(t, r.dm(tTanaka), r.seen, "the check-in", func(a teamstest.Activity) bool { return hasStep(a.Card(), "checkin") })
	r.seen = i + 1

	// Mamori restarts while the token endpoint is down: the answer to the
	// check-in is taken, its messages wait in the outbox, and go out once
	// the endpoint is back.
	fake.SetTokenDown(true)
	r = startTeams(t, fake, env)
	r.seen = i + 1
	tokenCalls := fake.Calls("token")
	r.click(tTanaka, personal, checkin.Card(), "checkin:"+number+":talk", nil)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.logs.String(), "token endpoint") {
		if time.Now().After(deadline) {
			t.Fatalf("no send failed for the token endpoint")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fake.Calls("token") == tokenCalls {
		t.Error("the token endpoint was not tried")
	}
	fake.SetTokenDown(false)
	// The care task says so: a new card, or the open one updated in place.
	task, _ := fake.Wait(t, hrConv.ID, 0, "the care task", func(a teamstest.Activity) bool {
		return strings.Contains(a.JSON(), number) && hasStep(a.Card(), mamori.StepCard) &&
			strings.Contains(texts(a.Card()), policy.T(mamori.JA, "caretask.reason.checkin_talk"))
	})
	// Thanked, with by when HR gets in touch.
	talkBy, _, _ := strings.Cut(policy.T(mamori.JA, "checkin.thanks.talk_by"), "%s")
	fake.Wait(t, r.dm(tTanaka), r.seen, "the thanks", func(a teamstest.Activity) bool { return strings.Contains(strings.Join(a.Texts(), " "), talkBy) })

	// HR acknowledges the task (one click, answered in a dialog's
	// message); its card says so in place.
	ackValue := ""
	for _, v := range dialogValues(task.Card()) {
		if strings.HasPrefix(v, mamori.CareAck+":") {
			ackValue = v
		}
	}
	if kind, _, got := taskOf(t, r.dialog(tHR, hrConv, task.Card(), ackValue)); kind != "message" || got == "" {
		t.Errorf("HR's acknowledgement was answered %s %q", kind, got)
	}
	fake.Wait(t, hrConv.ID, 0, "the task acknowledged", func(a teamstest.Activity) bool {
		return a.Method == "PUT" && a.ID == task.ID && strings.Contains(texts(a.Card()), policy.T(mamori.JA, "caretask.status.acknowledged"))
	})

	trail := (&slackRig{t: t, env: env}).auditTrail(number)
	for _, want := range []string{"case.take_refused", "case.take", "case.ask", "case.reply", "case.judge", "care.checkin_sent"} {
		if !slices.Contains(trail, want) {
			t.Errorf("the audit trail of %s lacks %s: %v", number, want, trail)
		}
	}
	waitDrained(t, env)
	if err := r.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	for _, secret := range rep.confidential() {
		if strings.Contains(r.logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
	if strings.Contains(r.logs.String(), "panic") {
		t.Errorf("a panic was logged:\n%s", r.logs.String())
	}
	for _, status := range []string{mamori.OutboxPending, mamori.OutboxFailed} {
		if out := MustRun(t, env, "", "outbox", "-status", status); !strings.HasPrefix(out, "0 "+status) {
			t.Errorf("outbox -status %s:\n%s", status, out)
		}
	}
	for i, a := range fake.Activities("") {
		checkLineBreaks(t, fmt.Sprintf("activity #%d to %s", i, a.Conversation), a.Card())
	}
	if testing.Verbose() {
		t.Logf("what Teams received:\n%s", teamsTranscript(fake.Activities("")))
	}
}

func withClaims(c teamstest.Claims, change func(*teamstest.Claims)) teamstest.Claims {
	change(&c)
	return c
}

// walkCard calls visit on every object of a card, in order, leaving out
// fallbacks (they repeat what they stand in for).
func walkCard(v any, visit func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		visit(x)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if k != "fallback" {
				walkCard(x[k], visit)
			}
		}
	case []any:
		for _, c := range x {
			walkCard(c, visit)
		}
	}
}

// choiceValues lists the values of a card's multi-select, in order.
func choiceValues(card map[string]any) []string {
	var out []string
	walkCard(card, func(x map[string]any) {
		if x["type"] == "Input.ChoiceSet" {
			for _, c := range x["choices"].([]any) {
				out = append(out, fmt.Sprint(c.(map[string]any)["value"]))
			}
		}
	})
	return out
}

// choiceValuesOf lists the values of a card's buttons of kind k (any
// kind for ""), in order.
func choiceValuesOf(card map[string]any, k string) []string {
	var out []string
	walkCard(card, func(x map[string]any) {
		if d, ok := x["data"].(map[string]any); ok && x["type"] == "Action.Execute" && (k == "" || d["k"] == k) {
			out = append(out, fmt.Sprint(d["v"]))
		}
	})
	return out
}

// dialogValues lists the values of a card's buttons that open a dialog
// (task/fetch), in order.
func dialogValues(card map[string]any) []string {
	var out []string
	walkCard(card, func(x map[string]any) {
		if d, ok := x["data"].(map[string]any); ok && x["type"] == "Action.Submit" && strings.Contains(fmt.Sprint(d["msteams"]), "task/fetch") {
			out = append(out, fmt.Sprint(d["v"]))
		}
	})
	return out
}

// formInputs returns a dialog's inputs by id.
func formInputs(card map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	walkCard(card, func(x map[string]any) {
		if typ, _ := x["type"].(string); strings.HasPrefix(typ, "Input.") {
			out[fmt.Sprint(x["id"])] = x
		}
	})
	return out
}

// button returns the data of a card's first button of kind k.
func button(card map[string]any, k string) map[string]any {
	var data map[string]any
	walkCard(card, func(x map[string]any) {
		if d, ok := x["data"].(map[string]any); ok && d["k"] == k && data == nil {
			data = d
		}
	})
	return data
}

// firstSubmit returns the data of a card's multi-select submit button.
func firstSubmit(card map[string]any) map[string]any { return button(card, "submit") }

// teamsTranscript renders what the bot posted as a person reads it, for
// `go test -v -run TestServeTeams ./cmd/mamori`.
func teamsTranscript(as []teamstest.Activity) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "── %s %s\n", a.Method, a.Conversation)
		for _, s := range a.Texts() {
			b.WriteString("    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n")
		}
	}
	return b.String()
}

func TestServeTeamsStartupErrors(t *testing.T) {
	t.Parallel()
	fake := teamstest.New(t, teamstest.Options{AppID: teamsAppID, Password: "test-client-secret"})
	full := teamsEnv(t, fake)
	without := func(keys ...string) testEnv {
		e := merge(full)
		for _, k := range keys {
			delete(e, k)
		}
		return e
	}
	for _, tc := range []struct {
		name string
		env  testEnv
		want []string
	}{
		{"app id without password", without("MICROSOFT_APP_PASSWORD"), []string{"MICROSOFT_APP_PASSWORD"}},
		{"app id without tenant", without("MICROSOFT_APP_TENANT_ID"), []string{"MICROSOFT_APP_TENANT_ID", "single-tenant"}},
		{"password without app id", without("MICROSOFT_APP_ID"), []string{"MICROSOFT_APP_ID"}},
		{"teams without config", without("MAMORI_CONFIG"), []string{"MAMORI_CONFIG"}},
		{"metadata URL not a URL", merge(full, testEnv{"MAMORI_TEAMS_OPENID_METADATA_URL": "login.botframework.com"}), []string{"MAMORI_TEAMS_OPENID_METADATA_URL"}},
		{"token URL not a URL", merge(full, testEnv{"MAMORI_TEAMS_TOKEN_URL": "ftp://x"}), []string{"MAMORI_TEAMS_TOKEN_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["MAMORI_ADDR"] = "256.0.0.1:1"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, io.Discard, tc.env.get)
			if err == nil {
				t.Fatal("serve started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "test-client-secret") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// With MAMORI_TEAMS_EMULATOR=on and no MICROSOFT_APP_ID, a local
// emulator on loopback drives Mamori:
// its activities need no token, and the bot fetches none; anything that
// would send replies off the machine is refused.
func TestServeTeamsEmulator(t *testing.T) {
	t.Parallel()
	fake := teamstest.New(t, teamstest.Options{}) // a Connector that wants no token
	fake.AddMember(tTanaka)
	env := teamsEnv(t, fake)
	for _, k := range []string{"MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "MICROSOFT_APP_TENANT_ID"} {
		delete(env, k)
	}
	env["MAMORI_TEAMS_EMULATOR"] = "on"
	r := startTeams(t, fake, env)
	if code, _, err := teamstest.Post(r.url, fake.Message(tTanaka, "menu"), ""); err != nil || code != http.StatusOK {
		t.Fatalf("the emulator's message: %d %v", code, err)
	}
	a, _ := fake.Wait(t, r.dm(tTanaka), 0, "the menu", func(a teamstest.Activity) bool { return hasStep(a.Card(), "menu") })
	if a.Auth != "" {
		t.Errorf("the reply was sent with Authorization %q", a.Auth)
	}
	far := fake.Message(tTanaka, "menu")
	far["serviceUrl"] = "https://smba.trafficmanager.net/jp/"
	if code, _, _ := teamstest.Post(r.url, far, ""); code != http.StatusUnauthorized {
		t.Errorf("an activity whose replies would leave loopback: %d, want 401", code)
	}
	if n := fake.Calls("token") + fake.Calls("keys"); n != 0 {
		t.Errorf("%d calls to the token or keys endpoints", n)
	}
}

func TestManifestTeams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"manifest", "teams"}, strings.NewReader(""), &stdout, io.Discard, e.get); err == nil {
		t.Fatal("no error without MICROSOFT_APP_ID")
	} else if !strings.Contains(err.Error(), "MICROSOFT_APP_ID") {
		t.Errorf("error %q does not name MICROSOFT_APP_ID", err)
	}
	e["MICROSOFT_APP_ID"] = teamsAppID
	out := filepath.Join(t.TempDir(), "mamori-teams.zip")
	MustRun(t, e, "", "manifest", "teams", "-o", out, "-url", "https://mamori.example.co.jp")
	z, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	files := map[string][]byte{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var m struct {
		ID   string `json:"id"`
		Bots []struct {
			BotID        string   `json:"botId"`
			Scopes       []string `json:"scopes"`
			CommandLists []struct {
				Commands []struct{ Title string } `json:"commands"`
			} `json:"commandLists"`
		} `json:"bots"`
		Icons        struct{ Color, Outline string } `json:"icons"`
		ValidDomains []string                        `json:"validDomains"`
	}
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if m.ID != teamsAppID || len(m.Bots) != 1 || m.Bots[0].BotID != teamsAppID ||
		!slices.Equal(m.Bots[0].Scopes, []string{"personal", "team"}) || len(m.Bots[0].CommandLists) != 1 ||
		len(m.Bots[0].CommandLists[0].Commands) < 4 || !slices.Equal(m.ValidDomains, []string{"mamori.example.co.jp"}) {
		t.Errorf("manifest.json:\n%s", files["manifest.json"])
	}
	// Teams in English reads the English file alone: no Japanese in it,
	// every command described.
	var loc struct {
		LocalizationInfo struct {
			DefaultLanguageTag  string `json:"defaultLanguageTag"`
			AdditionalLanguages []struct {
				LanguageTag string `json:"languageTag"`
				File        string `json:"file"`
			} `json:"additionalLanguages"`
		} `json:"localizationInfo"`
	}
	if err := json.Unmarshal(files["manifest.json"], &loc); err != nil {
		t.Fatal(err)
	}
	english := false
	for _, l := range loc.LocalizationInfo.AdditionalLanguages {
		english = english || l.LanguageTag == "en-us"
		b, ok := files[l.File]
		if !ok {
			t.Errorf("%s's file %s is not in the package", l.LanguageTag, l.File)
			continue
		}
		noJapanese(t, l.File, string(b))
		for i := range m.Bots[0].CommandLists[0].Commands {
			if key := fmt.Sprintf("bots[0].commandLists[0].commands[%d].description", i); !bytes.Contains(b, []byte(key)) {
				t.Errorf("%s lacks %s", l.File, key)
			}
		}
	}
	if loc.LocalizationInfo.DefaultLanguageTag != "ja-jp" || !english {
		t.Errorf("localizationInfo %+v", loc.LocalizationInfo)
	}
	for name, size := range map[string]int{m.Icons.Color: 192, m.Icons.Outline: 32} {
		img, err := png.Decode(bytes.NewReader(files[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Errorf("%s is %v, want %d×%d", name, b, size, size)
		}
		if size == 32 {
			// The outline icon: white on transparent, nothing else.
			for y := range size {
				for x := range size {
					r, g, b, a := img.At(x, y).RGBA()
					if a != 0 && (a != 0xffff || r != 0xffff || g != 0xffff || b != 0xffff) {
						t.Fatalf("outline.png has a pixel %v at %d,%d", img.At(x, y), x, y)
					}
				}
			}
		}
	}
}

// japanese matches what an English reader must never be shown: kana,
// kanji, and Japanese punctuation and full-width forms.
var japanese = regexp.MustCompile(`[\p{Hiragana}\p{Katakana}\p{Han}\x{3000}-\x{303F}\x{FF00}-\x{FFEF}]`)

// noJapanese fails t when s, something Teams showed en, has Japanese.
func noJapanese(t *testing.T, what, s string) {
	t.Helper()
	if loc := japanese.FindStringIndex(s); loc != nil {
		from, to := max(loc[0]-60, 0), min(loc[1]+60, len(s))
		t.Errorf("%s shows Japanese to an English reader: …%s…", what, s[from:to])
	}
}

// checkLineBreaks fails t for a TextBlock whose line break Teams would
// not show (a single "\n"), or that does not wrap.
func checkLineBreaks(t *testing.T, what string, card map[string]any) {
	t.Helper()
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "TextBlock" {
				s, _ := x["text"].(string)
				if strings.Contains(strings.ReplaceAll(s, "\n\n", ""), "\n") {
					t.Errorf("%s: a single line break, shown by Teams as a space, in %q", what, s)
				}
				if x["wrap"] != true {
					t.Errorf("%s: a TextBlock that does not wrap: %q", what, s)
				}
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
	walk(card)
}

// questionStep is the Step of a card's buttons when it asks a question
// of the report ("" for the menu and for cards without buttons).
func questionStep(card map[string]any) string {
	b, _ := json.Marshal(card)
	m := regexp.MustCompile(`"s":"([^"]+)"`).FindSubmatch(b)
	if m == nil || string(m[1]) == "menu" {
		return ""
	}
	return string(m[1])
}

// homeButton returns the data of a card's button that shows the cases.
func homeButton(card map[string]any) map[string]any { return button(card, "home") }

// An English speaker (Teams locale en-US) is welcomed, reads the policy,
// sees their cases and starts a report, and is shown not one Japanese
// character — in what Mamori posts to their chat, nor in what it answers
// their clicks with — though the organisation's language is Japanese.
// The cards keep their line breaks.
func TestServeTeamsEnglish(t *testing.T) {
	t.Parallel()
	fake := teamstest.New(t, teamstest.Options{AppID: teamsAppID, Password: "test-client-secret"})
	for _, m := range []teamstest.Member{tTanaka, tSato, tYamada, tHR} {
		fake.AddMember(m)
	}
	r := startTeams(t, fake, teamsEnv(t, fake))
	policy := builtinPolicy(t)
	en := func(key string) string { return policy.T(mamori.EN, key) }
	supportConv := teamstest.Channel("19:support@thread.tacv2", "Support supervisors", "19:team@thread.tacv2", "テスト株式会社")
	r.send(fake.Added(tHR, supportConv))
	r.send(fake.Added(tHR, hrConv))

	me := tYamada
	chat := teamstest.Personal(me)
	seen := 0
	var answers []string // what Mamori answered the clicks with
	next := func(what string, match func(teamstest.Activity) bool) map[string]any {
		t.Helper()
		a, i := fake.Wait(t, r.dm(me), seen, what, match)
		seen = i + 1
		waitDelivered(t, r.env, mamori.PlatformTeams, me.AadObjectID)
		return a.Card()
	}
	question := func(step string) map[string]any {
		t.Helper()
		return next("step "+step, func(a teamstest.Activity) bool { return hasStep(a.Card(), step) })
	}
	click := func(card map[string]any, value string) map[string]any {
		t.Helper()
		body := r.click(me, chat, card, value, nil)
		b, _ := json.Marshal(body)
		answers = append(answers, string(b))
		return body
	}
	say := func(text string) { t.Helper(); r.send(fake.Message(me, text)) }

	// Welcomed in English, with a way to the person's cases.
	r.send(fake.Added(me, chat))
	menu := question("menu")
	if !strings.Contains(texts(menu), en("menu.report")) || !strings.Contains(texts(menu), en("menu.greeting")) {
		t.Errorf("the welcome: %s", texts(menu))
	}
	home := homeButton(menu)
	if home == nil {
		t.Fatalf("the menu has no button to the person's cases: %s", texts(menu))
	}
	// The button shows the cases in the menu's place.
	body := r.send(fake.Execute(me, chat, home, nil))
	b, _ := json.Marshal(body)
	answers = append(answers, string(b))
	if body["type"] != "application/vnd.microsoft.card.adaptive" || !strings.Contains(string(b), en("home.header")) ||
		!strings.Contains(string(b), en("home.no_cases")) {
		t.Errorf("the cases button was answered %s", b)
	}
	// Typed, too.
	say("my cases")
	next("the overview", func(a teamstest.Activity) bool { return strings.Contains(texts(a.Card()), en("home.header")) })

	// The policy page: paragraphs and lines kept.
	click(menu, mamori.StartPolicy)
	page := next("the policy", func(a teamstest.Activity) bool { return strings.Contains(texts(a.Card()), en("policy.definition")) })
	blocks := 0
	for _, e := range page["body"].([]any) {
		if e.(map[string]any)["type"] == "TextBlock" {
			blocks++
		}
	}
	if blocks < 3 || !strings.Contains(texts(page), "\n\n") {
		t.Errorf("the policy page runs together (%d text blocks): %s", blocks, texts(page))
	}
	menu = question("menu")

	// A report begins; the questions are answered as they come (the
	// first button, or a typed answer), whatever their order.
	say("report")
	click(question("safety"), "safe")
	for n := 0; n < 6; n++ {
		q := next("the next question", func(a teamstest.Activity) bool { return questionStep(a.Card()) != "" })
		switch choices := choiceValuesOf(q, "choice"); {
		case n == 2:
			say(strings.Repeat("x", 10001)) // too long: the adapter's own words
			next("the too-long notice", func(a teamstest.Activity) bool { return strings.Contains(a.JSON(), en("teams.too_long")) })
			say("A regular caller, I think")
		case len(choiceValues(q)) > 0:
			r.send(fake.Execute(me, chat, firstSubmit(q), map[string]any{"mamori.multi": choiceValues(q)[0]}))
		case len(choices) > 0:
			click(q, choices[0])
		default:
			say("Yesterday around 3 pm, at the Shinjuku call centre.\nHe shouted for half an hour.")
		}
	}
	q := next("the next question", func(a teamstest.Activity) bool { return questionStep(a.Card()) != "" })
	click(q, "nav:later")
	next("paused", func(a teamstest.Activity) bool { return strings.Contains(a.JSON(), "Mamori") || a.Card() != nil })
	// Back by typing: "hi" brings the waiting question back and is not
	// taken as its answer.
	say("hi")
	back := next("the question again", func(a teamstest.Activity) bool {
		return questionStep(a.Card()) != "" && strings.Contains(texts(a.Card()), en("nav.welcome_back"))
	})
	if got, want := questionStep(back), questionStep(q); got != want {
		t.Errorf("after \"hi\" the question is %q, want %q again", got, want)
	}

	// Everything this person was shown.
	time.Sleep(200 * time.Millisecond) // let the last replies arrive
	all := fake.Activities(r.dm(me))
	if len(all) < 12 {
		t.Errorf("only %d activities to %s", len(all), me.Name)
	}
	for i, a := range all {
		what := fmt.Sprintf("activity #%d (%s)", i, strings.Join(a.Texts(), " | "))
		noJapanese(t, what, a.JSON())
		checkLineBreaks(t, what, a.Card())
	}
	for i, s := range answers {
		noJapanese(t, fmt.Sprintf("invoke response #%d", i), s)
	}
	if testing.Verbose() {
		t.Logf("what %s received:\n%s", me.Name, teamsTranscript(all))
	}
}

// An installation whose locale Teams does not give is welcomed in both
// languages, English first and Japanese (the default) last; delivered
// again, it is not welcomed twice.
func TestServeTeamsWelcomeWithoutLocale(t *testing.T) {
	t.Parallel()
	fake := teamstest.New(t, teamstest.Options{AppID: teamsAppID, Password: "test-client-secret"})
	kim := teamstest.Member{ID: "29:kim", AadObjectID: "aad-kim", Name: "Kim", Email: "kim@example.co.jp", Installed: true}
	fake.AddMember(kim)
	r := startTeams(t, fake, teamsEnv(t, fake))
	policy := builtinPolicy(t)
	added := fake.Added(kim, teamstest.Personal(kim))
	delete(added, "locale")
	delete(added, "entities")
	r.send(added)
	r.send(added) // the Connector's retry
	isMenu := func(a teamstest.Activity) bool { return hasStep(a.Card(), "menu") }
	first, i := fake.Wait(t, r.dm(kim), 0, "a welcome", isMenu)
	second, _ := fake.Wait(t, r.dm(kim), i+1, "a second welcome", isMenu)
	if !strings.Contains(texts(first.Card()), policy.T(mamori.EN, "menu.greeting")) ||
		!strings.Contains(texts(second.Card()), policy.T(mamori.JA, "menu.greeting")) {
		t.Errorf("the welcomes:\n%s\n%s", texts(first.Card()), texts(second.Card()))
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(fake.Activities(r.dm(kim))); n != 2 {
		t.Errorf("%d posts to the new chat, want the two welcomes:\n%s", n, teamsTranscript(fake.Activities(r.dm(kim))))
	}
}
