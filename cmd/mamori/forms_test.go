package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
)

// These tests drive the supervisors' and HR's forms through `mamori serve`
// over loopback Slack, as main_test.go's do: a decision against the
// policy's suggestion, reopened and decided again; a consultation HR
// takes, answers and closes into a report.

// consultNumber is a consultation's number.
var consultNumber = regexp.MustCompile(`SD-\d{4}-\d{4}`)

// form opens the modal of the button with value in b for user in
// channel, and returns it with the view's JSON, for searching.
func (r *slackRig) form(user, channel string, b blocks, value string) (*slacktest.Form, string) {
	r.t.Helper()
	opened := len(r.api.Calls("views.open"))
	r.interact(user, channel, b, r.button(b, value), nil)
	c := r.api.WaitCalls(r.t, "views.open", opened+1, 10*time.Second)[opened]
	f, err := slacktest.OpenedForm(c)
	if err != nil {
		r.t.Fatal(err)
	}
	return f, c.Get("view")
}

// fill types and chooses in f, in order: a text input takes a string,
// a choice a []string.
func fill(t *testing.T, f *slacktest.Form, inputs ...any) {
	t.Helper()
	for i := 0; i+1 < len(inputs); i += 2 {
		block := inputs[i].(string)
		var err error
		switch v := inputs[i+1].(type) {
		case string:
			err = f.Type(block, v)
		case []string:
			err = f.Choose(block, v...)
		default:
			t.Fatalf("fill %s: %T", block, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// whisperSays waits for the next ephemeral message, the n-th (counted
// from 1), and wants it to user in channel, saying want.
func (r *slackRig) whisperSays(n int, user, channel, want string) {
	r.t.Helper()
	if got := r.whispered(n, user, channel); !strings.Contains(got, want) {
		r.t.Errorf("ephemeral %d to %s: %q, want %q", n, user, got, want)
	}
}

// cardShows waits for the message c, updated in place, to show every
// text in want, and returns its blocks.
func (r *slackRig) cardShows(c posted, want ...string) blocks {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, u := range r.api.Calls("chat.update") {
			var b blocks
			if u.Get("channel") != c.channel || u.Get("ts") != c.ts || u.Decode("blocks", &b) != nil {
				continue
			}
			texts := strings.Join(b.texts(), "\n")
			if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(texts, w) }) {
				return b
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the card %s was not updated to show %q:\n%s", c.ts, want, transcript(r.api.Calls("chat.update")))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// audited lists `mamori audit show number` as action and detail.
func (r *slackRig) audited(number string) [][2]string {
	var out [][2]string
	for _, line := range strings.Split(strings.TrimSpace(MustRun(r.t, r.env, "", "audit", "show", number)), "\n") {
		if f := strings.SplitN(line, "\t", 4); len(f) == 4 {
			out = append(out, [2]string{f[2], f[3]})
		}
	}
	return out
}

// auditDetails returns the details of the audit entries of action.
func auditDetails(trail [][2]string, action string) []string {
	var out []string
	for _, e := range trail {
		if e[0] == action {
			out = append(out, e[1])
		}
	}
	return out
}

// TestServeRejudge: a supervisor decides against the policy's suggestion
// (カスハラ) and against their own answer to ② — refused until they say
// why, under the reason's input; the reporter hears the decision. The
// case is reopened with a reason the card shows and the reporter does
// not hear; decided again, differently, the reporter hears the decision
// changed, from what to what. The audit trail keeps both decisions.
func TestServeRejudge(t *testing.T) {
	t.Parallel()
	r := startServe(t)
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	const (
		why    = "要求自体は正当で、言葉が荒くなったのは当社の説明不足が原因のため"
		reopen = "防犯カメラの映像で、カウンターを叩いていたことがわかった"
	)

	number, _ := r.fileReport(mamori.RouteDepartment)
	card, _ := r.waitPost("C0STORE", 0, number, func(p posted) bool { return strings.Contains(p.text, number) })
	whispers := len(r.api.Calls("chat.postEphemeral"))
	r.interact(supervisor, "C0STORE", card.blocks, r.button(card.blocks, mamori.CardTake+":"+number), nil)
	whispers++
	r.whisperSays(whispers, supervisor, "C0STORE", ja("judge.done.take", number))
	_, i := r.waitPost("D"+reporter, r.seen, "the news it is taken", func(p posted) bool { return strings.Contains(p.text, ja("status.taken.header", number)) })
	r.seen = i + 1

	// The form: the policy suggests カスハラ (the behaviour reported is
	// unacceptable whatever the demand); nothing is chosen.
	form, view := r.form(supervisor, "C0STORE", card.blocks, mamori.CardJudge+":"+number)
	if !strings.Contains(view, ja("judge.suggested", ja("decision.kasuhara"))) {
		t.Fatalf("the judge modal does not show the suggestion カスハラ:\n%s", view)
	}
	for _, block := range []string{"validity", "means", "fault", "outcome", "actions"} {
		if got := form.Chosen(block); len(got) != 0 {
			t.Errorf("the judge modal chose %v in %s", got, block)
		}
	}
	// A legitimate complaint, though ② says the means were beyond what
	// society accepts: refused under the reason, the rest kept.
	fill(t, form, "validity", []string{"valid"}, "means", []string{"unacceptable"}, "outcome", []string{mamori.OutcomeLegitimate})
	ack := r.submit(form.Submission(supervisor))
	errs, _ := ack["errors"].(map[string]any)
	if ack["response_action"] != "errors" || len(errs) != 1 ||
		errs["reason"] != ja("judge.contradiction", ja("judge.means.unacceptable"), ja("decision.legitimate")) {
		t.Fatalf("a decision against ② without a reason was answered %v", ack)
	}
	// Responses are for カスハラ only: refused under them.
	fill(t, form, "reason", why, "actions", []string{"warn"})
	if ack := r.submit(form.Submission(supervisor)); !hasError(ack, "actions") {
		t.Errorf("a legitimate complaint with a response was answered %v", ack)
	}
	fill(t, form, "actions", []string{})
	if ack := r.submit(form.Submission(supervisor)); ack["response_action"] != "clear" {
		t.Fatalf("the decision with its reason was answered %v", ack)
	}
	whispers++
	r.whisperSays(whispers, supervisor, "C0STORE", ja("judge.done.judge", number))
	judged := r.cardShows(card, ja("status.judged"), ja("decision.legitimate"))
	decided, i := r.waitPost("D"+reporter, r.seen, "the decision", func(p posted) bool { return strings.Contains(p.text, ja("outcome.header", number)) })
	r.seen = i + 1
	if text := strings.Join(decided.blocks.texts(), "\n"); !strings.Contains(text, ja("outcome.legitimate")) || strings.Contains(text, ja("outcome.kasuhara")) {
		t.Errorf("the decision told to the reporter:\n%s", text)
	}

	// Reopened with a reason: required; the card shows it, the reporter
	// hears only that it is looked at again.
	form, _ = r.form(supervisor, "C0STORE", judged, mamori.CardReopen+":"+number)
	if got := form.Missing(); !slices.Equal(got, []string{"reason"}) {
		t.Errorf("the reopen modal requires %v, want the reason", got)
	}
	fill(t, form, "reason", reopen)
	if ack := r.submit(form.Submission(supervisor)); ack["response_action"] != "clear" {
		t.Fatalf("the reopening was answered %v", ack)
	}
	whispers++
	r.whisperSays(whispers, supervisor, "C0STORE", ja("judge.done.reopen", number))
	reopened := r.cardShows(card, ja("status.reopened"), ja("card.reopened"), ja("card.reopened.in_details"))
	if strings.Contains(strings.Join(reopened.texts(), "\n"), reopen) {
		t.Errorf("the reopen reason on the channel's card:\n%s", strings.Join(reopened.texts(), "\n"))
	}
	if strings.Contains(strings.Join(reopened.texts(), "\n"), "*"+ja("card.decision")+"*\n") {
		t.Errorf("the reopened card still shows a decision:\n%s", strings.Join(reopened.texts(), "\n"))
	}
	told, i := r.waitPost("D"+reporter, r.seen, "the reopening", func(p posted) bool { return strings.Contains(p.text, ja("status.reopened.header", number)) })
	r.seen = i + 1
	if strings.Contains(told.text, reopen) {
		t.Errorf("the reason for reopening told to the reporter:\n%s", told.text)
	}

	// Decided again, from scratch: カスハラ, with a response.
	form, _ = r.form(supervisor, "C0STORE", reopened, mamori.CardJudge+":"+number)
	for _, block := range []string{"validity", "means", "outcome", "actions"} {
		if got := form.Chosen(block); len(got) != 0 {
			t.Errorf("the second judge modal chose %v in %s", got, block)
		}
	}
	fill(t, form, "validity", []string{"invalid"}, "means", []string{"unacceptable"}, "outcome", []string{mamori.OutcomeKasuhara}, "actions", []string{"warn"})
	if ack := r.submit(form.Submission(supervisor)); ack["response_action"] != "clear" {
		t.Fatalf("the second decision was answered %v", ack)
	}
	whispers++
	r.whisperSays(whispers, supervisor, "C0STORE", ja("judge.done.judge", number))
	r.cardShows(card, ja("status.judged"), ja("decision.kasuhara"), mamori.Label(policy.Actions, "warn", mamori.JA))
	reviewed, i := r.waitPost("D"+reporter, r.seen, "the reviewed decision", func(p posted) bool { return strings.Contains(p.text, ja("outcome.reviewed.header", number)) })
	r.seen = i + 1
	text := strings.Join(reviewed.blocks.texts(), "\n")
	for _, want := range []string{ja("outcome.reviewed.changed", ja("decision.legitimate"), ja("decision.kasuhara")), ja("outcome.kasuhara"), ja("outcome.action.warn")} {
		if !strings.Contains(text, want) {
			t.Errorf("the reviewed decision lacks %q:\n%s", want, text)
		}
	}
	for _, p := range r.posts("D" + reporter) {
		if strings.Contains(p.text, why) || strings.Contains(p.text, reopen) {
			t.Errorf("the supervisors' reasons reached the reporter:\n%s", p.text)
		}
	}

	// The trail: both decisions, the first against ②, the second a
	// re-judgement; the reopening between them.
	trail := r.audited(number)
	judgements := auditDetails(trail, "case.judge")
	if len(judgements) != 2 ||
		!strings.Contains(judgements[0], "outcome=legitimate suggested=kasuhara") || !strings.Contains(judgements[0], "contradicts=true rejudged=false") ||
		!strings.Contains(judgements[1], "outcome=kasuhara suggested=kasuhara") || !strings.Contains(judgements[1], "contradicts=false rejudged=true") {
		t.Errorf("the judgements audited: %q", judgements)
	}
	if got := auditDetails(trail, "case.reopen"); len(got) != 1 || got[0] != "from="+mamori.StatusJudged {
		t.Errorf("the reopening audited: %q", got)
	}
	waitDrained(t, r.env)
}

// TestServeConsultation: an employee asks HR's desk in confidence. The
// consultation's card reaches the HR channel only; a supervisor may not
// take it; HR takes it, replies citing an item of the policy, and the
// reply reaches the employee's DM with a button to answer; the answer
// comes back. The HR channel's thread notes that messages were exchanged
// — never what they said, which HR reads behind "view details". HR
// closes it suggesting a formal report, and the employee gets a button
// that starts one.
func TestServeConsultation(t *testing.T) {
	t.Parallel()
	r := startServe(t)
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	const (
		hr     = "U0HR"
		worry  = "常連のお客様に毎回長時間つきまとわれて困っています"
		reply  = "お話を聞かせてください。つきまといは方針の対象になりえます"
		answer = "週に三回ほど、閉店まで帰ってくれません"
		note   = "本人と電話で話した記録"
	)
	clause, ok := policy.Behaviour("persistent")
	if !ok {
		t.Fatal("the policy has no behaviour persistent")
	}

	// The employee chooses to consult.
	r.command(reporter, "")
	b, _ := r.question("menu")
	r.click(b, mamori.StartConsult)
	r.question("c_worry")
	r.say(reporter, worry)
	b, _ = r.question("c_contact")
	r.click(b, "no")
	b, _ = r.question("c_summary")
	r.click(b, "submit")
	receipt, i := r.waitPost("D"+reporter, r.seen, "a consultation number", func(p posted) bool { return consultNumber.MatchString(p.text) })
	r.seen = i + 1
	number := consultNumber.FindString(receipt.text)
	if !strings.Contains(receipt.text, ja("submitted.header.consult", number)) {
		t.Errorf("the receipt:\n%s", receipt.text)
	}

	// Its card is in the HR channel, without what was said.
	card, _ := r.waitPost("C0HR", 0, number, func(p posted) bool { return strings.Contains(p.text, mamori.ConsultTake+":"+number) })
	if !strings.Contains(card.text, ja("card.consult.header", number)) {
		t.Errorf("the consultation's card:\n%s", card.text)
	}

	// A supervisor may neither take it nor reply; HR takes it, and the
	// employee hears so.
	whispers := len(r.api.Calls("chat.postEphemeral"))
	take := mamori.ConsultTake + ":" + number
	r.interact(supervisor, "C0HR", card.blocks, r.button(card.blocks, mamori.ConsultReply+":"+number), nil)
	whispers++
	r.whisperSays(whispers, supervisor, "C0HR", ja("consult.refused"))
	r.interact(supervisor, "C0HR", card.blocks, r.button(card.blocks, take), nil)
	whispers++
	// The take is refused in the words for a report sent to HR, not the
	// consultation's (flows' act does not use refusalKey): either says
	// only HR may.
	if got := r.whispered(whispers, supervisor, "C0HR"); !strings.Contains(got, ja("consult.refused")) {
		t.Errorf("the supervisor's take was answered %q", got)
	}
	r.interact(hr, "C0HR", card.blocks, r.button(card.blocks, take), nil)
	whispers++
	r.whisperSays(whispers, hr, "C0HR", ja("judge.done.consult_take", number))
	taken := r.cardShows(card, "<@"+hr+">", ja("status.taken"))
	if strings.Contains(fmt.Sprint(taken), take) {
		t.Errorf("the taken card still offers to take it")
	}
	_, i = r.waitPost("D"+reporter, r.seen, "the news it is taken", func(p posted) bool { return strings.Contains(p.text, ja("consult.taken.header", number)) })
	r.seen = i + 1

	// HR replies, citing the policy's item.
	form, view := r.form(hr, "C0HR", taken, mamori.ConsultReply+":"+number)
	if !strings.Contains(view, ja("consult.reply.note")) {
		t.Errorf("the reply modal does not say what the thread records:\n%s", view)
	}
	if got := form.Missing(); !slices.Equal(got, []string{"question"}) {
		t.Errorf("the reply modal requires %v, want the reply", got)
	}
	fill(t, form, "question", reply, "clauses", []string{clause.ID})
	if ack := r.submit(form.Submission(hr)); ack["response_action"] != "clear" {
		t.Fatalf("the reply was answered %v", ack)
	}
	whispers++
	r.whisperSays(whispers, hr, "C0HR", ja("judge.done.consult_reply", number))
	dm, i := r.waitPost("D"+reporter, r.seen, "HR's reply", func(p posted) bool { return strings.Contains(p.text, ja("consult.reply.header", number)) })
	r.seen = i + 1
	text := strings.Join(dm.blocks.texts(), "\n")
	for _, want := range []string{reply, ja("consult.cited"), clause.Label.In(mamori.JA), ja("consult.group." + clause.Group), ja("consult.reply.dm_note")} {
		if !strings.Contains(text, want) {
			t.Errorf("HR's reply in the DM lacks %q:\n%s", want, text)
		}
	}

	// The employee answers with the reply's button.
	r.interact(reporter, "D"+reporter, dm.blocks, r.button(dm.blocks, "reply:"+number+":1"), nil)
	_, i = r.waitPost("D"+reporter, r.seen, "the answer prompt", func(p posted) bool { return strings.Contains(p.text, ja("reply.prompt", number)) })
	r.seen = i + 1
	r.shown(reporter)
	r.say(reporter, answer)
	_, i = r.waitPost("D"+reporter, r.seen, "the thanks", func(p posted) bool { return strings.Contains(p.text, ja("reply.sent", number)) })
	r.seen = i + 1

	// The thread under the card: that HR replied and that the employee
	// answered, nothing of what either said.
	inThread := func(what, want string) posted {
		t.Helper()
		p, _ := r.waitPost("C0HR", 0, what, func(p posted) bool { return strings.Contains(p.text, want) })
		for _, c := range r.api.Calls("chat.postMessage") {
			if c.Get("channel") == "C0HR" && strings.Contains(c.Get("text")+c.Get("blocks"), want) && c.Get("thread_ts") != card.ts {
				t.Errorf("%s is not in the card's thread", what)
			}
		}
		return p
	}
	inThread("the note of the reply", ja("consult.reply.thread", "<@"+hr+">"))
	notice := inThread("the note of the answer", ja("reply.header.consult", number))
	if !strings.Contains(notice.text, ja("reply.notice.consult")) {
		t.Errorf("the answer's notice:\n%s", notice.text)
	}
	// HR reads both behind the button; a supervisor may not.
	details := mamori.CardDetails + ":" + number
	if got := r.view(hr, "C0HR", notice.blocks, details); !strings.Contains(got, reply) || !strings.Contains(got, answer) || !strings.Contains(got, worry) {
		t.Errorf("HR's details lack the messages:\n%s", got)
	}
	r.interact(supervisor, "C0HR", notice.blocks, r.button(notice.blocks, details), nil)
	whispers++
	if got := r.whispered(whispers, supervisor, "C0HR"); strings.Contains(got, answer) || strings.Contains(got, reply) {
		t.Errorf("the supervisor was shown the consultation:\n%s", got)
	}

	// Closed, suggesting a formal report: the employee gets a button
	// that starts one.
	answered := r.cardShows(card, ja("status.taken"))
	form, _ = r.form(hr, "C0HR", answered, mamori.ConsultClose+":"+number)
	if got := form.Missing(); !slices.Equal(got, []string{"result"}) {
		t.Errorf("the close modal requires %v, want the result", got)
	}
	fill(t, form, "result", []string{mamori.ConsultConverted}, "note", note)
	if ack := r.submit(form.Submission(hr)); ack["response_action"] != "clear" {
		t.Fatalf("the closing was answered %v", ack)
	}
	whispers++
	r.whisperSays(whispers, hr, "C0HR", ja("judge.done.consult_close", number))
	closed := r.cardShows(card, "*"+ja("card.status")+"*\n"+ja("status.closed"))
	if s := fmt.Sprint(closed); strings.Contains(s, mamori.ConsultReply+":") || strings.Contains(s, mamori.ConsultClose+":") {
		t.Errorf("the closed card still offers to reply or close:\n%s", s)
	}
	end, i := r.waitPost("D"+reporter, r.seen, "the closing", func(p posted) bool { return strings.Contains(p.text, ja("consult.closed.header", number)) })
	r.seen = i + 1
	if text := strings.Join(end.blocks.texts(), "\n"); !strings.Contains(text, ja("consult.closed.converted")) || !strings.Contains(text, ja("consult.to_report")) || strings.Contains(text, note) {
		t.Errorf("the closing told to the employee:\n%s", text)
	}
	r.click(end.blocks, "from:"+number)
	r.question("safety")

	// Over it all: none of the messages, nor the note, in any channel.
	channels := r.channelTexts()
	for _, secret := range []string{worry, reply, answer, note, "つきまとわれて", "閉店まで"} {
		if strings.Contains(channels, secret) {
			t.Errorf("%q reached a channel", secret)
		}
	}
	trail := r.audited(number)
	for action, want := range map[string]string{
		"case.consult_take_refused":  "",
		"case.consult_reply_refused": "",
		"case.consult_take":          "assignee=",
		"case.consult_reply":         "reply=1 clauses=" + clause.ID,
		"case.reply":                 "question=1",
		"case.consult_close":         "result=" + mamori.ConsultConverted,
	} {
		if got := auditDetails(trail, action); len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("the trail's %s: %q, want one with %q", action, got, want)
		}
	}
	for _, e := range trail {
		for _, secret := range []string{worry, reply, answer, note} {
			if strings.Contains(e[1], secret) {
				t.Errorf("the audit trail shows %q: %v", secret, e)
			}
		}
	}
	waitDrained(t, r.env)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{worry, reply, answer, note} {
		if strings.Contains(r.logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}

// TestServeTeamsConsultation plays a consultation over Teams: every card
// button is a dialog (task/fetch): take answers with a message, reply
// opens a form whose refused field keeps the dialog open with the reason
// and what was typed; the reply reaches the employee's chat with a
// button to answer, and the HR channel hears only that messages were
// exchanged. Closed as converted, the employee's button starts a report.
func TestServeTeamsConsultation(t *testing.T) {
	t.Parallel()
	fake := teamstest.New(t, teamstest.Options{AppID: teamsAppID, Password: "test-client-secret"})
	for _, m := range []teamstest.Member{tTanaka, tSato, tHR} {
		fake.AddMember(m)
	}
	env := teamsEnv(t, fake)
	r := startTeams(t, fake, env)
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	const (
		worry  = "毎回長時間つきまとわれて困っています"
		reply  = "つきまといは方針の対象になりえます。詳しく聞かせてください"
		answer = "週に三回、閉店まで帰ってくれません"
	)
	r.send(fake.Added(tHR, storeConv))
	r.send(fake.Added(tHR, hrConv))
	personal := teamstest.Personal(tTanaka)

	// The employee consults from the menu.
	r.send(fake.Added(tTanaka, personal))
	r.click(tTanaka, personal, r.question("menu"), mamori.StartConsult, nil)
	r.question("c_worry")
	r.say(worry)
	r.click(tTanaka, personal, r.question("c_contact"), "no", nil)
	r.click(tTanaka, personal, r.question("c_summary"), "submit", nil)
	receipt, i := fake.Wait(t, r.dm(tTanaka), r.seen, "a consultation number", func(a teamstest.Activity) bool { return consultNumber.MatchString(a.JSON()) })
	r.seen = i + 1
	number := consultNumber.FindString(receipt.JSON())
	card, _ := fake.Wait(t, hrConv.ID, 0, "the consultation's card", func(a teamstest.Activity) bool {
		return a.Method == "POST" && strings.Contains(a.JSON(), mamori.ConsultTake+":"+number)
	})

	// Take: refused to a supervisor, done for HR, in the dialog's message.
	take := mamori.ConsultTake + ":" + number
	if kind, _, msg := taskOf(t, r.dialog(tSato, hrConv, card.Card(), take)); kind != "message" ||
		!strings.Contains(msg, ja("consult.refused")) {
		t.Errorf("the supervisor's take was answered %s %q", kind, msg)
	}
	if kind, _, msg := taskOf(t, r.dialog(tHR, hrConv, card.Card(), take)); kind != "message" || !strings.Contains(msg, ja("judge.done.consult_take", number)) {
		t.Errorf("HR's take was answered %s %q", kind, msg)
	}
	taken, _ := fake.Wait(t, hrConv.ID, 0, "the card taken", func(a teamstest.Activity) bool {
		return a.Method == "PUT" && a.ID == card.ID && !slices.Contains(dialogValues(a.Card()), take)
	})
	_, i = fake.Wait(t, r.dm(tTanaka), r.seen, "the news it is taken", func(a teamstest.Activity) bool {
		return strings.Contains(a.JSON(), ja("consult.taken.header", number))
	})
	r.seen = i + 1

	// Reply: a blank reply is refused in the dialog, the clause chosen
	// kept; then it goes.
	kind, form, _ := taskOf(t, r.dialog(tHR, hrConv, taken.Card(), mamori.ConsultReply+":"+number))
	inputs := formInputs(form)
	if kind != "continue" || inputs["question"]["isRequired"] != true || inputs["m.clauses"]["isMultiSelect"] != true {
		t.Fatalf("the reply dialog: %s %v", kind, inputs)
	}
	kind, again, _ := taskOf(t, r.submit(tHR, hrConv, form, map[string]any{"question": "  ", "m.clauses": "persistent"}))
	if kind != "continue" || !strings.Contains(texts(again), ja("consult.reply.empty")) || formInputs(again)["m.clauses"]["value"] != "persistent" {
		t.Fatalf("a blank reply was answered %s %s", kind, texts(again))
	}
	if kind, _, msg := taskOf(t, r.submit(tHR, hrConv, again, map[string]any{"question": reply, "m.clauses": "persistent"})); kind != "message" ||
		!strings.Contains(msg, ja("judge.done.consult_reply", number)) {
		t.Fatalf("the reply was answered %s %q", kind, msg)
	}
	clause, _ := policy.Behaviour("persistent")
	dm, i := fake.Wait(t, r.dm(tTanaka), r.seen, "HR's reply", func(a teamstest.Activity) bool {
		return strings.Contains(a.JSON(), ja("consult.reply.header", number))
	})
	r.seen = i + 1
	for _, want := range []string{reply, clause.Label.In(mamori.JA), ja("consult.reply.dm_note")} {
		if !strings.Contains(texts(dm.Card()), want) {
			t.Errorf("HR's reply in the chat lacks %q:\n%s", want, texts(dm.Card()))
		}
	}
	r.click(tTanaka, personal, dm.Card(), "reply:"+number+":1", nil)
	_, i = fake.Wait(t, r.dm(tTanaka), r.seen, "the answer prompt", func(a teamstest.Activity) bool { return strings.Contains(a.JSON(), ja("reply.prompt", number)) })
	r.seen = i + 1
	waitDelivered(t, env, mamori.PlatformTeams, tTanaka.AadObjectID)
	r.say(answer)
	thread := hrConv.ID + ";messageid=" + card.ID
	fake.Wait(t, thread, 0, "the note of the reply", func(a teamstest.Activity) bool {
		return strings.Contains(strings.Join(a.Texts(), "\n"), ja("reply.header.consult", number))
	})

	// Closed as converted: the employee's button starts a report.
	kind, form, _ = taskOf(t, r.dialog(tHR, hrConv, taken.Card(), mamori.ConsultClose+":"+number))
	if kind != "continue" || formInputs(form)["result"]["isRequired"] != true {
		t.Fatalf("the close dialog: %s %s", kind, texts(form))
	}
	if kind, _, msg := taskOf(t, r.submit(tHR, hrConv, form, map[string]any{"result": mamori.ConsultConverted})); kind != "message" ||
		!strings.Contains(msg, ja("judge.done.consult_close", number)) {
		t.Fatalf("the closing was answered %s %q", kind, msg)
	}
	end, i := fake.Wait(t, r.dm(tTanaka), r.seen, "the closing", func(a teamstest.Activity) bool {
		return strings.Contains(a.JSON(), ja("consult.closed.header", number))
	})
	r.seen = i + 1
	r.click(tTanaka, personal, end.Card(), "from:"+number, nil)
	r.question("safety")

	// No message's text reached the channel, its thread or the card.
	for _, a := range fake.Activities("") {
		if !strings.HasPrefix(a.Conversation, "19:") {
			continue
		}
		for _, secret := range []string{worry, reply, answer} {
			if strings.Contains(a.JSON(), secret) {
				t.Errorf("%q reached %s", secret, a.Conversation)
			}
		}
	}
	waitDrained(t, env)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{worry, reply, answer} {
		if strings.Contains(r.logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}

// TestChatForms (found by a user trial), in the terminal, which asks a
// form's fields one at a time: a form one person is filling in waits
// while another acts (what they type is theirs, not the form's) and goes
// on where it was when the first is back; the judge form does not ask
// for a response to a decision that is not one of harassment.
func TestChatForms(t *testing.T) {
	t.Parallel()
	number := "KH-" + year() + "-0001"
	judge := func(lines ...string) string {
		r := reports[mamori.JA]
		out := typeChat(t, newEnv(t), append(append(append(r.firstHalf(), r.secondHalf()...),
			"/as sato", "/take "+number, "/judge "+number), append(lines, "/quit")...))
		if !strings.Contains(out, "判断を記録") {
			t.Fatalf("the judgement did not go through:\n%s", out)
		}
		return out
	}
	if out := judge("-", "/as me", "こんにちは", "/as sato", "3", "2", "-", "1", "1", "-", "次回は出入り禁止"); !strings.Contains(out, builtinPolicy(t).T(mamori.JA, "local.form.kept")) {
		t.Errorf("not told the form waits:\n%s", out)
	}
	if out := judge("-", "1", "1", "-", "2", "要求には正当な部分があった", "説明を尽くす"); strings.Contains(out, "(6/8)") {
		t.Errorf("the response field was asked for a legitimate complaint:\n%s", out)
	}
}
