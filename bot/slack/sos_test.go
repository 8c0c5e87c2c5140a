package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/flows"
)

// These tests check the SOS's ways in and out of Slack at the adapter:
// the shortcuts, the slash command's word, App Home's button, the "I'm on
// it" click on an alert card in a channel and in a DM, and the employee's
// buttons in their DM.

// shortcutPayload is what Slack sends when user uses a shortcut: a
// global one (type "shortcut"), or a message one ("message_action") on a
// message in channel, with a response_url of the fake.
func (h *harness) shortcutPayload(kind, callbackID, user, channel, trigger string) map[string]any {
	p := map[string]any{
		"type": kind, "token": "legacy", "action_ts": "1790000002.000100", "callback_id": callbackID, "trigger_id": trigger,
		"team": map[string]any{"id": "T0000001", "domain": "example"},
		"user": map[string]any{"id": user, "username": "someone", "team_id": "T0000001"},
	}
	if kind == "message_action" {
		p["channel"] = map[string]any{"id": channel, "name": "general"}
		p["message_ts"] = "1790000000.000900"
		p["message"] = map[string]any{"type": "message", "user": "UEN", "ts": "1790000000.000900", "text": "誰かの投稿 <!channel>"}
		p["response_url"] = h.api.ResponseURL(channel, "", user)
	}
	return p
}

// sosOf returns the SOS cases in the store, oldest first.
func (h *harness) sosOf(reporter string) []mamori.Case {
	h.t.Helper()
	var out []mamori.Case
	err := h.db.View(context.Background(), func(tx mamori.Tx) error {
		cases, err := tx.CasesOf(mamori.User{Platform: mamori.PlatformSlack, ID: reporter}.Key())
		for _, k := range cases {
			if k.Kind == mamori.KindSOS {
				out = append(out, k)
			}
		}
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// alerts returns the alert cards of SOS number in the outbox, by where
// they go (a channel's id, or "dm:" and a person).
func alerts(t *testing.T, db mamori.Store, number string) map[string]mamori.OutboxItem {
	t.Helper()
	out := map[string]mamori.OutboxItem{}
	for _, it := range outbox(t, db) {
		if strings.HasPrefix(it.Message.Ref, "sos:"+number+":") {
			to := it.Target.ID
			if it.Target.Kind == mamori.TargetUser {
				to = "dm:" + to
			}
			out[to] = it // the last version
		}
	}
	return out
}

func TestShortcutSOS(t *testing.T) {
	h := newHarness(t)
	p := testPolicy()

	// The global shortcut: acknowledged once the SOS is filed; the alert
	// goes to the store's supervisors and HR, the employee's DM says it
	// went and asks where they are.
	global := h.shortcutPayload("shortcut", slack.ShortcutSOS, "UJA", "", "1790000002.738474920.sos1")
	if status, body := h.interact(global); status != http.StatusOK || body != "" {
		t.Fatalf("global shortcut: %d %q", status, body)
	}
	sos := h.sosOf("UJA")
	if len(sos) != 1 || sos[0].Status != mamori.StatusNew || sos[0].Department != "store" {
		t.Fatalf("SOS filed: %+v", sos)
	}
	number := sos[0].Number
	cards := alerts(t, h.db, number)
	if _, ok := cards["CSUP"]; !ok || len(cards) != 2 || cards["CHR"].Message.Ref == "" {
		t.Errorf("alerts went to %v, want CSUP and CHR", cards)
	}
	raised := question(t, h.db, "UJA")
	if !strings.Contains(raised.Choices[0].Value, number) || !strings.Contains(raised.Text, p.T(mamori.JA, "sos.place.ask")) {
		t.Errorf("the employee was told %+v", raised)
	}
	if c, _ := conversation(t, h.db, "UJA"); c.SOS != number {
		t.Errorf("the conversation's SOS = %q, want %s", c.SOS, number)
	}
	if ds := deliveries(t, h.db); len(ds) != 1 || ds[0] != "shortcut:1790000002.738474920.sos1" {
		t.Errorf("deliveries %q: want the shortcut's trigger", ds)
	}

	// Socket Mode may send it again: nothing more happens.
	before := len(outbox(t, h.db))
	if status, _ := h.interact(global); status != http.StatusOK {
		t.Fatalf("the shortcut again: %d", status)
	}
	if n := len(outbox(t, h.db)); n != before {
		t.Errorf("a redelivered shortcut added %d messages", n-before)
	}
	// Used again, it is not a second SOS: the employee hears where the
	// first stands.
	if status, _ := h.interact(h.shortcutPayload("shortcut", slack.ShortcutSOS, "UJA", "", "1790000003.1.sos2")); status != http.StatusOK {
		t.Fatalf("the shortcut used again: %d", status)
	}
	if sos := h.sosOf("UJA"); len(sos) != 1 {
		t.Errorf("%d SOS filed, want 1", len(sos))
	}
	if q := question(t, h.db, "UJA"); !strings.Contains(q.Text, fmt.Sprintf(p.T(mamori.JA, "sos.again"), number)) {
		t.Errorf("the second use told %+v", q)
	}
	// Nothing said in a channel and no modal: the DM is the answer.
	h.ad.Close()
	if n := len(h.api.Calls("chat.postEphemeral", "views.open", "response_url")); n != 0 {
		t.Errorf("%d answers outside the DM, want none", n)
	}
}

func TestMessageShortcutSOS(t *testing.T) {
	h := newHarness(t)
	p := h.shortcutPayload("message_action", slack.ShortcutSOSMessage, "UEN", "C0GENERAL", "1790000002.738474920.sos3")
	if status, _ := h.interact(p); status != http.StatusOK {
		t.Fatalf("message shortcut: %d", status)
	}
	sos := h.sosOf("UEN")
	if len(sos) != 1 {
		t.Fatalf("SOS filed: %+v", sos)
	}
	// The employee's words in English; the cards in the organisation's
	// language; nothing of the message the shortcut was used on.
	raised := question(t, h.db, "UEN")
	if !strings.Contains(raised.Text, testPolicy().T(mamori.EN, "sos.place.ask")) {
		t.Errorf("alex was told %+v", raised)
	}
	for _, it := range outbox(t, h.db) {
		b, _ := json.Marshal(it.Message)
		if strings.Contains(string(b), "誰かの投稿") {
			t.Errorf("the message the shortcut was used on reached %v", it.Target)
		}
	}
	// Where it was used, a word for alex alone: look at the DM.
	r := h.api.WaitCalls(t, "response_url", 1, 5*time.Second)[0]
	if r.Get("response_type") != "ephemeral" || r.Get("text") != testPolicy().T(mamori.EN, "slack.command_ack") {
		t.Errorf("the answer in the channel: %v", r.JSON)
	}
	if msgs := h.api.Messages("C0GENERAL"); len(msgs) != 1 || !msgs[0].Ephemeral {
		t.Errorf("C0GENERAL shows %+v, want one message for alex alone", msgs)
	}
}

func TestShortcutRefused(t *testing.T) {
	h := newHarness(t)
	// Unsigned: refused before anything is read.
	b, _ := json.Marshal(h.shortcutPayload("shortcut", slack.ShortcutSOS, "UJA", "", "t1"))
	body := []byte("payload=" + string(b))
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+slack.PathInteractivity, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", formType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned shortcut: %d, want 401", res.StatusCode)
	}
	// Not a Slack id: 400. Another app's shortcut: nothing to do.
	if status, _ := h.interact(h.shortcutPayload("shortcut", slack.ShortcutSOS, "ujA", "", "t2")); status != http.StatusBadRequest {
		t.Errorf("malformed user: %d, want 400", status)
	}
	if status, _ := h.interact(h.shortcutPayload("shortcut", "something_else", "UJA", "", "t3")); status != http.StatusOK {
		t.Errorf("unknown shortcut: %d, want 200", status)
	}
	if sos := h.sosOf("UJA"); len(sos) != 0 {
		t.Errorf("%d SOS filed", len(sos))
	}
}

// TestShortcutFailureSaysSo: when the SOS cannot be filed, the person is
// told, where they used it, so they call for help another way.
func TestShortcutFailureSaysSo(t *testing.T) {
	h := newHarness(t)
	h.db.Close()
	if status, _ := h.interact(h.shortcutPayload("shortcut", slack.ShortcutSOS, "UEN", "", "t4")); status != http.StatusInternalServerError {
		t.Errorf("global shortcut failed: %d, want 500", status)
	}
	v := h.api.WaitCalls(t, "views.open", 1, 5*time.Second)[0]
	if v.Get("trigger_id") != "t4" || !strings.Contains(v.Get("view"), testPolicy().T(mamori.EN, "slack.error")) {
		t.Errorf("the failure was told %v", v.JSON)
	}
	if status, _ := h.interact(h.shortcutPayload("message_action", slack.ShortcutSOSMessage, "UEN", "C0GENERAL", "t5")); status != http.StatusInternalServerError {
		t.Errorf("message shortcut failed: %d, want 500", status)
	}
	r := h.api.WaitCalls(t, "response_url", 1, 5*time.Second)[0]
	if r.Get("text") != testPolicy().T(mamori.EN, "slack.error") {
		t.Errorf("the failure was told %v", r.JSON)
	}
}

func TestSlashCommandSOS(t *testing.T) {
	h := newHarness(t)
	if status, body := h.command("UJA", "SOS"); status != http.StatusOK || !strings.Contains(body, testPolicy().T(mamori.JA, "slack.command_ack")) {
		t.Fatalf("/kasuhara SOS: %d %s", status, body)
	}
	if sos := h.sosOf("UJA"); len(sos) != 1 {
		t.Errorf("%d SOS filed by /kasuhara SOS", len(sos))
	}
}

// TestHomeSOS: App Home has the SOS button, and it raises one; the
// employee hears in their DM.
func TestHomeSOS(t *testing.T) {
	h := newHarness(t)
	h.event(map[string]any{"type": "app_home_opened", "user": "UJA", "channel": "DUJA", "tab": "home", "event_ts": "1790000000.000300"}, "EvHome", nil)
	var view struct {
		Blocks []map[string]any `json:"blocks"`
	}
	if err := h.api.WaitCalls(t, "views.publish", 1, 5*time.Second)[0].Decode("view", &view); err != nil {
		t.Fatal(err)
	}
	p := clickPayload(t, "UJA", "", view.Blocks, mamori.StartSOS)
	delete(p, "channel")
	delete(p, "message")
	delete(p, "response_url")
	p["container"] = map[string]any{"type": "view", "view_id": "V0HOME"}
	p["view"] = map[string]any{"id": "V0HOME", "type": "home", "callback_id": "mamori.home", "blocks": view.Blocks}
	if status, _ := h.interact(p); status != http.StatusOK {
		t.Fatalf("the SOS button: %d", status)
	}
	sos := h.sosOf("UJA")
	if len(sos) != 1 {
		t.Fatalf("%d SOS filed from App Home", len(sos))
	}
	if q := question(t, h.db, "UJA"); len(q.Choices) == 0 || !strings.Contains(q.Choices[0].Value, sos[0].Number) || q.Respond != "" {
		t.Errorf("the employee was told %+v", q)
	}
}

// TestSOSAckClick: "I'm on it" on an alert card acts at once and tells
// the clicker alone, in the channel of the card or in the DM it came to;
// the employee may not press it, nor may someone who is not a responder.
func TestSOSAckClick(t *testing.T) {
	h := newHarness(t)
	h.flows.SOS = flows.SOS{OnCall: []string{"alex@example.com"}}
	p := testPolicy()
	h.interact(h.shortcutPayload("shortcut", slack.ShortcutSOS, "UJA", "", "t6"))
	number := h.sosOf("UJA")[0].Number
	cards := alerts(t, h.db, number)
	channel, onCall := cards["CSUP"], cards["dm:alex@example.com"]
	if channel.Message.Ref == "" || onCall.Message.Ref == "" {
		t.Fatalf("alerts went to %v, want CSUP and alex's DM", cards)
	}
	ack := mamori.SOSAck + ":" + number
	whisper := func(n int, user, channel, want string) {
		t.Helper()
		c := h.api.WaitCalls(t, "chat.postEphemeral", n, 5*time.Second)[n-1]
		if c.Get("user") != user || c.Get("channel") != channel || !strings.Contains(c.Get("text")+c.Get("blocks"), want) {
			t.Errorf("ephemeral %d: to %s in %s: %s, want %q to %s in %s", n, c.Get("user"), c.Get("channel"), c.Get("text"), want, user, channel)
		}
	}

	// The employee cannot answer their own SOS.
	if status, _ := h.interact(clickPayload(t, "UJA", "CSUP", blocksOf(t, channel.Message), ack)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	whisper(1, "UJA", "CSUP", p.T(mamori.JA, "sos.ack.refused"))
	// The on-call person presses it in their DM: recorded, told there.
	if status, _ := h.interact(clickPayload(t, "UEN", "DUEN", blocksOf(t, onCall.Message), ack)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	whisper(2, "UEN", "DUEN", "<@UJA>")
	k := h.sosOf("UJA")[0]
	if k.Assignee != "slack:UEN" || k.Status != mamori.StatusTaken {
		t.Errorf("after the on-call's click: assignee %q status %s", k.Assignee, k.Status)
	}
	// Every card says who has it, in place.
	for to, it := range alerts(t, h.db, number) {
		if m := it.Message; !strings.Contains(m.Fields[len(m.Fields)-1].Value, "<@UEN>") || len(m.Choices) != 1 || m.Choices[0].Value != mamori.SOSClose+":"+number {
			t.Errorf("the card to %s does not say who has it: %+v", to, m)
		}
	}
	// The employee hears who is coming, named: a header block cannot
	// show a mention, so the heading is bold text.
	told := dms(t, h.db, "UJA")
	acked := told[len(told)-1].Message
	b := blocksOf(t, acked)
	if first, _ := json.Marshal(b[0]); b[0]["type"] != "section" || !strings.Contains(string(first), `*\u003c@UEN\u003e`) {
		t.Errorf("the employee's news begins with %s", first)
	}
	if !strings.Contains(slack.Fallback(acked), "<@UEN>") {
		t.Errorf("the notification does not name alex: %q", slack.Fallback(acked))
	}
	// The supervisor, later, in the channel: told who has it.
	if status, _ := h.interact(clickPayload(t, "USUP", "CSUP", blocksOf(t, channel.Message), ack)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	whisper(3, "USUP", "CSUP", "<@UEN>")
	if k := h.sosOf("UJA")[0]; k.Assignee != "slack:UEN" {
		t.Errorf("the second click took it: %q", k.Assignee)
	}
	// None of it was a modal, nor marked a card answered.
	h.ad.Close()
	if n := len(h.api.Calls("views.open", "response_url", "chat.update")); n != 0 {
		t.Errorf("%d modals or updates, want none from the adapter", n)
	}
}

// TestSOSSkipKeepsSafe: skipping the one question takes away its own
// button only; "I'm safe now" stays on the message to press.
func TestSOSSkipKeepsSafe(t *testing.T) {
	h := newHarness(t)
	h.interact(h.shortcutPayload("shortcut", slack.ShortcutSOS, "UEN", "", "t7"))
	number := h.sosOf("UEN")[0].Number
	raised := question(t, h.db, "UEN")
	if status, _ := h.interact(clickPayload(t, "UEN", "DUEN", blocksOf(t, raised), mamori.SOSSkip+":"+number)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if c, _ := conversation(t, h.db, "UEN"); c.SOSPlace || c.SOS != number {
		t.Errorf("after skipping: %+v", c)
	}
	up := h.api.WaitCalls(t, "response_url", 1, 5*time.Second)[0]
	b := up.Get("blocks")
	if up.Get("replace_original") != "true" || strings.Contains(b, mamori.SOSSkip) || !strings.Contains(b, mamori.SOSSafe+":"+number) ||
		!strings.Contains(b, "✓ Skip") || !strings.Contains(b, "110") {
		t.Errorf("the message after skipping: %s", b)
	}
	// "I'm safe now" ends it: its buttons go.
	if status, _ := h.interact(clickPayload(t, "UEN", "DUEN", blocksOf(t, raised), mamori.SOSSafe+":"+number)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if k := h.sosOf("UEN")[0]; k.Status != mamori.StatusClosed {
		t.Errorf("after I'm safe now: %s", k.Status)
	}
	up = h.api.WaitCalls(t, "response_url", 2, 5*time.Second)[1]
	if b := up.Get("blocks"); strings.Contains(b, `"button"`) || !strings.Contains(b, "✓") {
		t.Errorf("the message after I'm safe now: %s", b)
	}
}
