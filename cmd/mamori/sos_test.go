package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
)

// These tests drive an SOS (issue 14) through `mamori serve`, over the
// loopback Slack and Teams fakes: raised from a shortcut, App Home or a
// typed word; alerted in the channels and to the on-call person;
// acknowledged with one click by a responder and refused to anyone else;
// escalated by DM when nobody answers; closed by the employee, who then
// reports without retyping. What the employee types during an SOS
// reaches only those who may read the case: never a channel, never the
// log.

// sosNumber is an SOS's number.
var sosNumber = regexp.MustCompile(`SOS-\d{4}-\d{4}`)

const onCall = "U0KIMURA" // the security guard on call

// shortcut sends what Slack sends when user uses one of the app's
// shortcuts: the global one ("shortcut"), or the message one
// ("message_action") on someone's message in channel, with a
// response_url.
func (r *slackRig) shortcut(kind, callbackID, user, channel string) {
	r.t.Helper()
	p := map[string]any{
		"type": kind, "token": "legacy-verification-token", "callback_id": callbackID,
		"trigger_id": r.next("trigger."), "action_ts": r.next("1700000400."),
		"team": map[string]any{"id": slacktest.TeamID, "domain": "test"},
		"user": map[string]any{"id": user, "username": "someone", "team_id": slacktest.TeamID},
	}
	if kind == "message_action" {
		ts := r.next("1700000500.")
		p["channel"] = map[string]any{"id": channel, "name": "general"}
		p["message_ts"] = ts
		p["message"] = map[string]any{"type": "message", "user": supervisor, "ts": ts, "text": shortcutMessage}
		p["response_url"] = r.api.ResponseURL(channel, "", user)
	}
	j, err := json.Marshal(p)
	if err != nil {
		r.t.Fatal(err)
	}
	r.send("/slack/interactivity", formType, []byte(url.Values{"payload": {string(j)}}.Encode()))
}

// shortcutMessage is the message a message shortcut is used on: someone
// else's, it has no business in the SOS.
const shortcutMessage = "本日のシフト表です（社外秘）"

// alert waits for the alert card of SOS number in channel (the first
// post with its "I'm on it" button).
func (r *slackRig) alert(channel, number string) posted {
	r.t.Helper()
	p, _ := r.waitPost(channel, 0, "the alert of "+number, func(p posted) bool {
		return strings.Contains(p.text, mamori.SOSAck+":"+number)
	})
	return p
}

// waitPostWithin is waitPost with a deadline of its own.
func (r *slackRig) waitPostWithin(d time.Duration, channel string, from int, what string, match func(posted) bool) (posted, int) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ps := r.posts(channel)
		for i := from; i < len(ps); i++ {
			if match(ps[i]) {
				return ps[i], i
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no post to %s with %s after %s", channel, what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeSOS: an SOS from Slack's global shortcut, all the way. The
// store's supervisors, HR and the guard on call are alerted at once; the
// place the employee types updates every card; what they type after is
// kept for those responding, not shown. A colleague from another
// department and the employee herself may not press 対応します; the
// supervisor does, with one click: every card says he has it and she is
// told. Others who press it later hear who has it. She says she is safe:
// every card says so, and a report starts with the place filled in. A
// message shortcut raises one too, and App Home's SOS button.
func TestServeSOS(t *testing.T) {
	t.Parallel()
	r := startServeWith(t, slackConfig+"sos:\n  on_call: ["+onCall+"]\n",
		slacktest.User{ID: onCall, Name: "kimura", RealName: "木村 警備", Email: "kimura@example.co.jp", Locale: "ja-JP"})
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	const (
		place = "2階 倉庫の前"
		note  = "お客様がまだ店内にいて、腕をつかまれました"
	)

	// The global shortcut: the DM gives the on-site guidance and, last,
	// says the SOS went out and asks where she is.
	r.shortcut("shortcut", slack.ShortcutSOS, reporter, "")
	start := r.seen
	raised, i := r.waitPost("D"+reporter, r.seen, "the SOS sent", func(p posted) bool {
		return sosNumber.MatchString(p.text) && strings.Contains(p.text, ja("sos.place.ask"))
	})
	r.seen = i + 1
	number := sosNumber.FindString(raised.text)
	if !strings.HasSuffix(number, "-0001") || !slices.Contains(raised.blocks.values(), mamori.SOSSafe+":"+number) {
		t.Fatalf("the SOS sent:\n%s", raised.text)
	}
	r.waitPost("D"+reporter, start, "the word that it went out", func(p posted) bool { return strings.Contains(p.text, ja("sos.raised.header", number)) })
	r.waitPost("D"+reporter, start, "the on-site guidance", func(p posted) bool { return strings.Contains(p.text, ja("onsite.header")) })

	// At once, urgent, naming her, with 対応します: the store's
	// supervisors, HR, and the guard by DM.
	store, hr, guard := r.alert("C0STORE", number), r.alert("C0HR", number), r.alert("D"+onCall, number)
	for _, p := range []posted{store, hr, guard} {
		texts := strings.Join(p.blocks.texts(), "\n")
		if !strings.Contains(texts, ":rotating_light:") || !strings.Contains(texts, "<@"+reporter+">") ||
			!strings.Contains(texts, ja("sos.status.waiting")) || !strings.Contains(texts, ja("sos.alert.place.none")) {
			t.Errorf("the alert in %s:\n%s", p.channel, texts)
		}
	}

	// Where she is: every card shows it, in place.
	r.delivered(reporter)
	r.say(reporter, place)
	_, i = r.waitPost("D"+reporter, r.seen, "thanks for the place", func(p posted) bool { return strings.Contains(p.text, ja("sos.place.thanks")) })
	r.seen = i + 1
	for _, p := range []posted{store, hr, guard} {
		r.cardShows(p, place, ja("sos.status.waiting"))
	}
	// What she types next is kept for those who respond.
	r.say(reporter, note)
	_, i = r.waitPost("D"+reporter, r.seen, "the note kept", func(p posted) bool { return strings.Contains(p.text, ja("sos.note.kept")) })
	r.seen = i + 1

	// 対応します: refused to a colleague of another department and to
	// her; done for the supervisor, with one click, no modal.
	ack := mamori.SOSAck + ":" + number
	whispers := len(r.api.Calls("chat.postEphemeral"))
	whisper := func(user, channel, want string) {
		t.Helper()
		whispers++
		r.whisperSays(whispers, user, channel, want)
	}
	r.interact(outsider, "C0STORE", store.blocks, r.button(store.blocks, ack), nil)
	whisper(outsider, "C0STORE", ja("sos.ack.refused"))
	r.interact(reporter, "C0STORE", store.blocks, r.button(store.blocks, ack), nil)
	whisper(reporter, "C0STORE", ja("sos.ack.refused"))
	r.interact(supervisor, "C0STORE", store.blocks, r.button(store.blocks, ack), nil)
	whisper(supervisor, "C0STORE", ja("sos.ack.done", "<@"+reporter+">"))
	for _, p := range []posted{store, hr, guard} {
		r.cardShows(p, "<@"+supervisor+">", place)
		r.updated(p, mamori.SOSClose+":"+number)
	}
	acked, i := r.waitPost("D"+reporter, r.seen, "who is coming", func(p posted) bool {
		return slices.Contains(p.blocks.texts(), "*"+ja("sos.acked.header", "<@"+supervisor+">")+"*")
	})
	r.seen = i + 1
	// Those who press it later, in HR's channel or the guard's DM, hear
	// who has it.
	r.interact("U0HR", "C0HR", hr.blocks, r.button(hr.blocks, ack), nil)
	whisper("U0HR", "C0HR", ja("sos.ack.taken", "<@"+supervisor+">"))
	r.interact(onCall, "D"+onCall, guard.blocks, r.button(guard.blocks, ack), nil)
	whisper(onCall, "D"+onCall, ja("sos.ack.taken", "<@"+supervisor+">"))
	if n := len(r.api.Calls("views.open")); n != 0 {
		t.Errorf("%d modals opened: 対応します is one click", n)
	}

	// She is safe: every card says so and has no button to act left (what
	// she sent is still read behind the details); she is offered a report.
	r.click(acked.blocks, mamori.SOSSafe+":"+number)
	safe, i := r.waitPost("D"+reporter, r.seen, "glad you are safe", func(p posted) bool {
		return strings.Contains(p.text, ja("sos.safe.header")) && slices.Contains(p.blocks.values(), mamori.SOSReport+":"+number)
	})
	r.seen = i + 1
	for _, p := range []posted{store, hr, guard} {
		b := r.cardShows(p, ja("sos.alert.header.safe", number), place)
		if v := b.values(); len(v) > 1 || len(v) == 1 && v[0] != mamori.CardDetails+":"+number {
			t.Errorf("the closed card in %s still has buttons %v", p.channel, v)
		}
	}

	// 報告を始める: the report knows the place; it is not asked again.
	r.click(safe.blocks, mamori.SOSReport+":"+number)
	r.waitPost("D"+reporter, r.seen, "the report prefilled", func(p posted) bool { return strings.Contains(p.text, ja("sos.report.prefilled", number)) })
	if c := conversation(t, r.env); c.Flow != mamori.FlowReport || c.Answers.Place != place || c.Answers.FromSOS != number {
		t.Fatalf("the report from the SOS: flow %q place %q from %q", c.Flow, c.Answers.Place, c.Answers.FromSOS)
	}
	kh, summary := r.answerReport(place)
	if !caseNumber.MatchString(kh) {
		t.Errorf("the report was not filed: %q", kh)
	}
	if !strings.Contains(summary, place) {
		t.Errorf("the summary lacks the place from the SOS:\n%s", summary)
	}

	// A message shortcut, by someone of another department, on someone
	// else's message: their department's supervisors are alerted, and a
	// word where they used it, for them alone, says to look at the DM.
	r.shortcut("message_action", slack.ShortcutSOSMessage, outsider, "C0GENERAL")
	theirs, _ := r.waitPost("D"+outsider, 0, "their SOS sent", func(p posted) bool { return sosNumber.MatchString(p.text) })
	second := sosNumber.FindString(theirs.text)
	if second == number || !strings.HasSuffix(second, "-0002") {
		t.Errorf("the second SOS is %s", second)
	}
	r.alert("C0SUPPORT", second)
	r.alert("C0HR", second)
	deadline := time.Now().Add(10 * time.Second)
	for ms := r.api.Messages("C0GENERAL"); len(ms) == 0 || !ms[0].Ephemeral || ms[0].Text != ja("slack.command_ack"); ms = r.api.Messages("C0GENERAL") {
		if time.Now().After(deadline) {
			t.Fatalf("C0GENERAL shows %+v, want the word for yamada alone", ms)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// App Home has the SOS button, and it raises one.
	if home := r.home(); !strings.Contains(home, ja("menu.sos")) {
		t.Fatalf("App Home has no SOS button:\n%s", home)
	}
	r.homeClick(reporter, mamori.StartSOS)
	third, _ := r.waitPost("D"+reporter, r.seen, "an SOS from App Home", func(p posted) bool {
		return sosNumber.MatchString(p.text) && !strings.Contains(p.text, number)
	})
	r.alert("C0STORE", sosNumber.FindString(third.text))

	// The trail of the first.
	trail := r.auditTrail(number)
	for _, want := range []string{"sos.alerted", "sos.posted", "sos.place", "sos.note", "sos.ack_refused", "sos.acked", "sos.safe"} {
		if !slices.Contains(trail, want) {
			t.Errorf("the audit trail of %s lacks %s: %v", number, want, trail)
		}
	}
	if n := count(trail, "sos.ack_refused"); n != 2 {
		t.Errorf("%d refusals audited, want 2: %v", n, trail)
	}
	if n := count(trail, "sos.acked"); n != 1 {
		t.Errorf("%d acknowledgements audited, want 1: %v", n, trail)
	}

	// Her note, and the message the shortcut was used on, are in no
	// channel and in no responder's DM.
	waitDrained(t, r.env)
	shown := r.channelTexts()
	for _, c := range r.api.Calls("chat.postMessage", "chat.update", "chat.postEphemeral") {
		if ch := c.Channel(); ch != "D"+reporter && ch != "D"+outsider {
			shown += c.Get("text") + c.Get("blocks")
		}
	}
	for _, secret := range []string{note, shortcutMessage} {
		if strings.Contains(shown, secret) {
			t.Errorf("%q reached a channel or a responder", secret)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	for _, secret := range []string{note, place, shortcutMessage} {
		if strings.Contains(r.logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
	for _, status := range []string{mamori.OutboxPending, mamori.OutboxFailed} {
		if out := MustRun(t, r.env, "", "outbox", "-status", status); !strings.HasPrefix(out, "0 "+status) {
			t.Errorf("outbox -status %s:\n%s", status, out)
		}
	}
}

// homeClick presses the App Home button with value, as user.
func (r *slackRig) homeClick(user, value string) {
	r.t.Helper()
	c := r.api.Calls("views.publish")
	var v struct {
		Blocks blocks `json:"blocks"`
	}
	if len(c) == 0 || c[len(c)-1].Decode("view", &v) != nil {
		r.t.Fatal("no App Home published")
	}
	action := r.button(v.Blocks, value)
	p := map[string]any{
		"type": "block_actions", "api_app_id": "A0MAMORI", "token": "legacy-verification-token",
		"team":       map[string]any{"id": slacktest.TeamID, "domain": "test"},
		"user":       map[string]any{"id": user, "team_id": slacktest.TeamID},
		"trigger_id": r.next("trigger."),
		"container":  map[string]any{"type": "view", "view_id": "V0HOME"},
		"view":       map[string]any{"id": "V0HOME", "type": "home", "callback_id": "mamori.home", "blocks": v.Blocks},
		"actions":    []any{action},
	}
	j, err := json.Marshal(p)
	if err != nil {
		r.t.Fatal(err)
	}
	r.send("/slack/interactivity", formType, []byte(url.Values{"payload": {string(j)}}.Encode()))
}

// answerReport answers the reporter's report, from the question now
// asked, as fileReport does, and returns the case number and the
// summary's text. The place is known: the question shows it, and it is
// kept with one click, not typed again.
func (r *slackRig) answerReport(place string) (number, summary string) {
	r.t.Helper()
	var steps []string
	for range 40 {
		p, i := r.waitPost("D"+reporter, r.seen, "a question", func(p posted) bool { return p.blocks.askedStep() != "" })
		r.seen = i + 1
		step := p.blocks.askedStep()
		steps = append(steps, step)
		values := p.blocks.values()
		switch step {
		case "place":
			if !slices.Contains(values, "nav:keep") || !strings.Contains(strings.Join(p.blocks.texts(), "\n"), place) {
				r.t.Errorf("the place question does not offer to keep %q:\n%s", place, p.text)
			}
			r.click(p.blocks, "nav:keep")
		case "safety":
			r.click(p.blocks, "safe")
		case "for_whom":
			r.click(p.blocks, "self")
		case "behaviours":
			r.tick(p.blocks, p.blocks.options()[0])
		case "talk":
			r.click(p.blocks, "no")
		case "route":
			r.click(p.blocks, mamori.RouteDepartment)
		case "summary":
			r.click(p.blocks, "submit")
			receipt, i := r.waitPost("D"+reporter, r.seen, "a case number", func(p posted) bool { return caseNumber.MatchString(p.text) })
			r.seen = i + 1
			return caseNumber.FindString(receipt.text), strings.Join(p.blocks.texts(), "\n")
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
	return "", ""
}

// TestServeSOSEscalation: nobody answers within sos.ack_within (10 s,
// the least; serve's clock is moved on, not waited for): the department's supervisor is alerted by DM, the cards say
// it was escalated, the employee is told, with the emergency numbers.
// He answers from that DM with one click: recorded, every card and the
// employee hear of it. She skipped the question where she is: the SOS
// message keeps its 安全になった.
func TestServeSOSEscalation(t *testing.T) {
	t.Parallel()
	r := startServeWith(t, slackConfig+"sos:\n  ack_within: 10s\n")
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }

	r.shortcut("shortcut", slack.ShortcutSOS, reporter, "")
	raised, i := r.waitPost("D"+reporter, r.seen, "the SOS sent", func(p posted) bool {
		return sosNumber.MatchString(p.text) && strings.Contains(p.text, mamori.SOSSkip+":")
	})
	r.seen = i + 1
	number := sosNumber.FindString(raised.text)
	store := r.alert("C0STORE", number)

	// She skips the question, on the message as Slack shows it: its
	// button goes, 安全になった stays.
	skip := r.button(raised.blocks, mamori.SOSSkip+":"+number)
	j, err := json.Marshal(map[string]any{
		"type": "block_actions", "api_app_id": "A0MAMORI", "token": "legacy-verification-token",
		"user": map[string]any{"id": reporter, "team_id": slacktest.TeamID}, "trigger_id": r.next("trigger."),
		"container":    map[string]any{"type": "message", "channel_id": "D" + reporter, "message_ts": raised.ts},
		"channel":      map[string]any{"id": "D" + reporter},
		"message":      map[string]any{"type": "message", "ts": raised.ts, "blocks": raised.blocks},
		"response_url": r.api.ResponseURL("D"+reporter, raised.ts, reporter),
		"actions":      []any{skip},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.send("/slack/interactivity", formType, []byte(url.Values{"payload": {string(j)}}.Encode()))
	// The answer comes through the click's response_url.
	r.waitMessage("D"+reporter, 0, "all right", func(m slacktest.Message) bool { return strings.Contains(m.Text, ja("sos.place.skipped")) })
	r.waitMessage("D"+reporter, 0, "the SOS message marked", func(m slacktest.Message) bool {
		return m.TS == raised.ts && strings.Contains(string(m.Blocks), "✓") && strings.Contains(string(m.Blocks), mamori.SOSSafe+":"+number) &&
			!strings.Contains(string(m.Blocks), mamori.SOSSkip+":")
	})

	// Nobody answers: ack_within later, round 1 goes to the supervisor's
	// DM.
	r.advance(10 * time.Second)
	dm, _ := r.waitPostWithin(10*time.Second, "D"+supervisor, 0, "the escalated alert", func(p posted) bool {
		return strings.Contains(p.text, mamori.SOSAck+":"+number)
	})
	r.waitPostWithin(10*time.Second, "D"+reporter, r.seen, "the escalation", func(p posted) bool {
		return strings.Contains(p.text, strings.SplitN(ja("sos.escalated.text", 1), "\n", 2)[0]) && strings.Contains(p.text, "110")
	})
	r.cardShows(store, ja("sos.status.escalated", 1))

	// He answers from the DM: one click, told there; every card, the DM's
	// too, says he has it; she is told.
	whispers := len(r.api.Calls("chat.postEphemeral"))
	r.interact(supervisor, "D"+supervisor, dm.blocks, r.button(dm.blocks, mamori.SOSAck+":"+number), nil)
	r.whisperSays(whispers+1, supervisor, "D"+supervisor, ja("sos.ack.done", "<@"+reporter+">"))
	for _, p := range []posted{store, dm} {
		r.cardShows(p, "<@"+supervisor+">")
	}
	r.waitPost("D"+reporter, r.seen, "who is coming", func(p posted) bool {
		return strings.Contains(p.text, ja("sos.acked.header", "<@"+supervisor+">"))
	})
	trail := r.audited(number)
	if got := auditDetails(trail, "sos.escalated"); len(got) != 1 || !strings.Contains(got[0], "round=1") {
		t.Errorf("the escalation audited: %q", got)
	}
	if got := auditDetails(trail, "sos.acked"); len(got) != 1 || !strings.Contains(got[0], "rounds=1") {
		t.Errorf("the acknowledgement audited: %q", got)
	}
	waitDrained(t, r.env)
}

// TestServeSOSTeams: typed SOS in the personal chat alerts the store's
// channel and HR's; the place she types updates the cards; a colleague of
// another department is refused 対応します, the supervisor's one click is
// answered in place (no dialog) and every card says he has it, in place;
// she hears his name. Her note is in no channel and not in the log.
func TestServeSOSTeams(t *testing.T) {
	t.Parallel()
	fake := teamstest.New(t, teamstest.Options{AppID: teamsAppID, Password: "test-client-secret"})
	for _, m := range []teamstest.Member{tTanaka, tSato, tYamada, tHR} {
		fake.AddMember(m)
	}
	env := teamsEnv(t, fake)
	r := startTeams(t, fake, env)
	policy := builtinPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }
	const (
		place = "1階 レジ前"
		note  = "怒鳴られて、カウンターを越えてこようとしています"
	)
	r.send(fake.Added(tHR, storeConv))
	r.send(fake.Added(tHR, hrConv))
	r.send(fake.Added(tTanaka, teamstest.Personal(tTanaka)))
	r.question("menu")

	r.say("SOS")
	raised, i := fake.Wait(t, r.dm(tTanaka), r.seen, "the SOS sent", func(a teamstest.Activity) bool {
		return sosNumber.MatchString(a.JSON()) && strings.Contains(texts(a.Card()), ja("sos.place.ask"))
	})
	r.seen = i + 1
	number := sosNumber.FindString(raised.JSON())
	alert := func(conv string) teamstest.Activity {
		t.Helper()
		a, _ := fake.Wait(t, conv, 0, "the alert", func(a teamstest.Activity) bool {
			return a.Method == "POST" && strings.Contains(a.JSON(), mamori.SOSAck+":"+number)
		})
		return a
	}
	store, hr := alert(storeConv.ID), alert(hrConv.ID)
	if !strings.Contains(texts(store.Card()), tTanaka.Name) {
		t.Errorf("the alert does not name her:\n%s", texts(store.Card()))
	}
	updated := func(a teamstest.Activity, want ...string) teamstest.Activity {
		t.Helper()
		u, _ := fake.Wait(t, a.Conversation, 0, fmt.Sprint(want), func(u teamstest.Activity) bool {
			return u.Method == "PUT" && u.ID == a.ID && !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(texts(u.Card()), w) })
		})
		return u
	}

	waitDelivered(t, env, mamori.PlatformTeams, tTanaka.AadObjectID)
	r.say(place)
	r.say(note)
	fake.Wait(t, r.dm(tTanaka), r.seen, "the note kept", func(a teamstest.Activity) bool { return strings.Contains(a.JSON(), ja("sos.note.kept")) })
	updated(store, place)
	updated(hr, place)

	// 対応します is Action.Execute: a click, answered in place.
	en := func(key string) string { return policy.T(mamori.EN, key) }
	if got := r.click(tYamada, storeConv, store.Card(), mamori.SOSAck+":"+number, nil); got["value"] != en("sos.ack.refused") {
		t.Errorf("the outsider was answered %v", got)
	}
	got := r.click(tSato, storeConv, store.Card(), mamori.SOSAck+":"+number, nil)
	if got["type"] != "application/vnd.microsoft.activity.message" || got["value"] != ja("sos.ack.done", tTanaka.Name) {
		t.Errorf("the supervisor was answered %v", got)
	}
	updated(store, tSato.Name, place)
	updated(hr, tSato.Name)
	fake.Wait(t, r.dm(tTanaka), r.seen, "who is coming", func(a teamstest.Activity) bool {
		return strings.Contains(texts(a.Card()), ja("sos.acked.header", "<at>"+tSato.Name+"</at>"))
	})
	// HR, later, hears who has it.
	if got := r.click(tHR, hrConv, hr.Card(), mamori.SOSAck+":"+number, nil); got["value"] != ja("sos.ack.taken", tSato.Name) {
		t.Errorf("HR was answered %v", got)
	}
	trail := (&slackRig{t: t, env: env}).auditTrail(number)
	for _, want := range []string{"sos.alerted", "sos.place", "sos.note", "sos.ack_refused", "sos.acked"} {
		if !slices.Contains(trail, want) {
			t.Errorf("the audit trail of %s lacks %s: %v", number, want, trail)
		}
	}

	waitDrained(t, env)
	for _, a := range fake.Activities("") {
		if a.Conversation != r.dm(tTanaka) && strings.Contains(a.JSON(), note) {
			t.Errorf("her note reached %s", a.Conversation)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	for _, secret := range []string{note, place} {
		if strings.Contains(r.logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}
