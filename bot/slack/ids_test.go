package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

// A verified request that names a person or a conversation by something
// that is not a Slack id — not UTF-8, lower case, another kind's letter —
// is refused with 400, over HTTP as over Socket Mode (the same
// translation), and nothing reaches the flows: no conversation starts, no
// message is queued for someone no one can deliver to.
func TestMalformedIDsRefused(t *testing.T) {
	h := newHarness(t)
	command := func(user, channel string) func() (int, string) {
		return func() (int, string) {
			form := url.Values{"command": {"/kasuhara"}, "text": {"report"}, "user_id": {user}, "channel_id": {channel},
				"trigger_id": {"13345224609.738474920.8088930838d88f008e0"}}
			return h.post("/slack/commands", formType, []byte(form.Encode()), 0, nil)
		}
	}
	event := func(user, channel string) func() (int, string) {
		return func() (int, string) {
			ev := dm("UJA", "返金しろと言われた")
			ev["user"], ev["channel"] = user, channel
			return h.event(ev, "EvIDs", nil)
		}
	}
	interaction := func(p map[string]any) func() (int, string) {
		return func() (int, string) { return h.interact(p) }
	}
	click := func(user, channel string) map[string]any {
		return map[string]any{"type": "block_actions", "user": map[string]any{"id": user},
			"container": map[string]any{"type": "message", "channel_id": channel, "message_ts": "1790000000.000200"},
			"actions": []any{map[string]any{"type": "button", "block_id": "choice/0/safety", "action_id": "choice/0/safety/0",
				"value": "safe", "action_ts": "1790000001.000001"}}}
	}
	submission := func(chosen string) map[string]any {
		return map[string]any{"type": "view_submission", "user": map[string]any{"id": "USUP"}, "trigger_id": "1.2.3",
			"view": map[string]any{"id": "V1", "callback_id": "mamori.form",
				"private_metadata": `{"action":{"kind":"witness","subject":"KH-2026-0042"}}`,
				"state": map[string]any{"values": map[string]any{"witness": map[string]any{
					"value": map[string]any{"type": "users_select", "selected_user": chosen}}}}}}
	}
	for _, tt := range []struct {
		name  string
		send  func() (int, string)
		field string
	}{
		{"command from a user id not UTF-8", command("U\xff\xfe", "C0GENERAL"), "user_id"},
		{"command from a lower-case user id", command("uja", "C0GENERAL"), "user_id"},
		{"command from the letter alone", command("U", "C0GENERAL"), "user_id"},
		{"command from a channel id", command("C0GENERAL", "C0GENERAL"), "user_id"},
		{"command from a user id too long", command("U"+strings.Repeat("A", 64), "C0GENERAL"), "user_id"},
		{"command in a channel not an id", command("UJA", "チャンネル"), "channel_id"},
		{"message from a user id with a space", event("U JA", "DUJA"), "event.user"},
		{"message from a user id with U+FFFD", event("U\ufffd", "DUJA"), "event.user"},
		{"message in a channel id with a line break", event("UJA", "DUJA\n"), "event.channel"},
		{"click by a user id not an id", interaction(click("U0\u202eJA", "DUJA")), "user.id"},
		{"click in a channel not an id", interaction(click("UJA", "dUJA")), "container.channel_id"},
		{"a person chosen in a form not an id", interaction(submission("someone@example.com")), "selected_user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := tt.send()
			if status != http.StatusBadRequest || !strings.Contains(body, tt.field+" is not a Slack id") {
				t.Errorf("status %d %q, want 400 naming %s", status, body, tt.field)
			}
		})
	}
	// Over Socket Mode the refusal is acknowledged (Slack would only send
	// it again) and goes no further.
	frame := `{"envelope_id":"e1","type":"slash_commands","payload":{"command":"/kasuhara","text":"report","user_id":"U\u00e9"}}`
	if handled, status, ack := h.ad.SocketFrame(context.Background(), []byte(frame)); !handled || status != http.StatusBadRequest || ack == nil {
		t.Errorf("Socket Mode: handled %v, status %d, ack %s; want 400, acknowledged", handled, status, ack)
	}
	if items := outbox(t, h.db); len(items) != 0 {
		b, _ := json.Marshal(items)
		t.Errorf("the flows acted on requests with malformed ids: %s", b)
	}

	// Ids of every shape Slack gives are taken: an Enterprise Grid user
	// (W…), Slackbot, a private channel (G…), a DM (D…).
	for _, ok := range []struct{ user, channel string }{{"W012A3CDE", "C0GENERAL"}, {"USLACKBOT", "G8PSS9T3V"}, {"U2CERLKJA", "D0ABC123"}} {
		if status, body := command(ok.user, ok.channel)(); status != http.StatusOK {
			t.Errorf("command from %s in %s: %d %q", ok.user, ok.channel, status, body)
		}
	}
}

// TestFormPersonNotBot (found by a user trial): Slack's user picker also
// lists bots, apps and deactivated accounts; a form's person (a witness)
// chosen among them is refused under the input, before the flows are
// asked, so no request goes where nobody can answer it.
func TestFormPersonNotBot(t *testing.T) {
	h := newHarness(t)
	h.api.AddUser(slacktest.User{ID: "UBOT", Name: "reminder-bot", IsBot: true})
	k := h.fileCase()
	submission := func(chosen string) map[string]any {
		return map[string]any{"type": "view_submission", "user": map[string]any{"id": "USUP"}, "trigger_id": "1.2." + chosen,
			"view": map[string]any{"id": "V1", "callback_id": "mamori.form",
				"private_metadata": `{"action":{"kind":"witness","subject":"` + k.Number + `"}}`,
				"state": map[string]any{"values": map[string]any{"witness": map[string]any{
					"value": map[string]any{"type": "users_select", "selected_user": chosen}}}}}}
	}
	want := testPolicy().T(mamori.JA, "slack.not_person")
	for _, who := range []string{"UBOT", "UNOBODY"} {
		status, ack := h.submit(submission(who))
		if errs, _ := ack["errors"].(map[string]any); status != http.StatusOK || errs["witness"] != want {
			t.Errorf("%s chosen: %d %v", who, status, ack)
		}
	}
	if w := h.storedCase(k.Number).Decision; w != nil && len(w.Witnesses) != 0 {
		t.Errorf("witnesses recorded: %+v", w.Witnesses)
	}
}
