package teams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
	"github.com/mamori-oss/mamori/flows"
)

// These tests check the SOS in Teams at the adapter: the command in the
// personal chat's list and typed, and "I'm on it" on an alert card — one
// click, in a channel or in a personal chat, answered to the clicker.

// sosOf returns the SOS cases of a Teams user, oldest first.
func (r *rig) sosOf(t *testing.T, aad string) []mamori.Case {
	t.Helper()
	var out []mamori.Case
	err := r.db.View(context.Background(), func(tx mamori.Tx) error {
		cases, err := tx.CasesOf(mamori.User{Platform: mamori.PlatformTeams, ID: aad}.Key())
		for _, k := range cases {
			if k.Kind == mamori.KindSOS {
				out = append(out, k)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// alerts returns the last version of each alert card of SOS number in
// the outbox, by where it goes.
func (r *rig) alerts(t *testing.T, number string) map[string]mamori.Message {
	t.Helper()
	items, err := r.db.ListOutbox(context.Background(), mamori.OutboxPending, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]mamori.Message{}
	for _, it := range items {
		if strings.HasPrefix(it.Message.Ref, "sos:"+number+":") {
			out[string(it.Target.Kind)+":"+it.Target.ID] = it.Message
		}
	}
	return out
}

func TestManifestHasSOS(t *testing.T) {
	opts := teams.ManifestOptions{AppID: appID, URL: "https://mamori.example.co.jp/"}
	b, err := teams.Manifest(opts)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Bots []struct {
			CommandLists []struct {
				Scopes   []string `json:"scopes"`
				Commands []struct{ Title, Description string }
			} `json:"commandLists"`
		} `json:"bots"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	list := m.Bots[0].CommandLists[0]
	if len(list.Commands) > 10 || list.Commands[0].Title != "SOS" || strings.Join(list.Scopes, ",") != "personal" {
		t.Errorf("the personal command list: %+v", list)
	}
	// Teams' limits: ten commands, a title of 32 characters, a
	// description of 128; in Japanese, the manifest's language (English
	// is in the localization file, not glued on with " / ").
	for _, c := range list.Commands {
		if utf8.RuneCountInString(c.Title) > 32 || utf8.RuneCountInString(c.Description) > 128 || strings.Contains(c.Description, " / ") {
			t.Errorf("command %q: description %q", c.Title, c.Description)
		}
	}
	en, err := teams.Localization(opts)
	if err != nil {
		t.Fatal(err)
	}
	var loc map[string]string
	if err := json.Unmarshal(en, &loc); err != nil {
		t.Fatal(err)
	}
	if loc["bots[0].commandLists[0].commands[0].title"] != "SOS" || !strings.HasPrefix(loc["bots[0].commandLists[0].commands[0].description"], "Get help now") {
		t.Errorf("the English SOS command: %v", loc)
	}
}

// TestSOSCommand: the command's title typed (or chosen from the list),
// its Japanese words, and the start command followed by it all raise an
// SOS for the person; the alert goes to the store's channel and HR's.
func TestSOSCommand(t *testing.T) {
	for _, text := range []string{"SOS", "助けて", "/kasuhara sos"} {
		t.Run(text, func(t *testing.T) {
			r := newRig(t)
			if code, _ := r.post(t, r.fake.Message(tanaka, text)); code != http.StatusOK {
				t.Fatalf("%q: %d", text, code)
			}
			sos := r.sosOf(t, "aad-tanaka")
			if len(sos) != 1 || sos[0].Department != "store" {
				t.Fatalf("SOS filed: %+v", sos)
			}
			cards := r.alerts(t, sos[0].Number)
			if _, ok := cards["channel:"+storeChannel]; !ok || len(cards) != 2 {
				t.Errorf("alerts went to %v, want the store's channel and HR's", cards)
			}
			if q := r.question(t, "aad-tanaka"); !strings.Contains(q.Text, "どこ") || !strings.Contains(q.Choices[0].Value, sos[0].Number) {
				t.Errorf("tanaka was asked %+v", q)
			}
		})
	}
}

// TestSOSAck: "I'm on it" is one Action.Execute, no dialog: the clicker
// is answered in the invoke response, with the employee named; the cards
// say who has it; a second responder hears who; the employee, or someone
// who is not a responder, is refused. In a personal chat (the on-call
// person's alert) it works the same.
func TestSOSAck(t *testing.T) {
	r := newRig(t)
	p := testPolicy(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(p.T(mamori.JA, key), a...) }
	suzuki := teamstest.Member{ID: "29:suzuki", AadObjectID: "aad-suzuki", Name: "鈴木 次郎", Email: "suzuki@example.co.jp", Locale: "ja-JP", Installed: true}
	r.fake.AddMember(suzuki)
	r.post(t, r.fake.Message(tanaka, "SOS"))
	number := r.sosOf(t, "aad-tanaka")[0].Number
	cards := r.alerts(t, number)
	card := teams.Card(cards["channel:"+storeChannel], nil)
	ack := mamori.SOSAck + ":" + number
	data := choiceData(t, card, ack)
	if strings.Contains(toJSON(data), "task/fetch") {
		t.Fatalf("the SOS's button opens a dialog: %s", toJSON(data))
	}
	if !strings.Contains(toJSON(card), `"type":"Action.Execute"`) {
		t.Errorf("the alert card has no Action.Execute: %s", toJSON(card))
	}
	ch := teamstest.Channel(storeChannel, "上長", "19:team", "チーム")
	click := func(m teamstest.Member, conv teamstest.Conv) string {
		t.Helper()
		code, body := r.post(t, r.fake.Execute(m, conv, data, nil))
		if code != http.StatusOK || body["type"] != "application/vnd.microsoft.activity.message" {
			t.Fatalf("the click was answered %d %v", code, body)
		}
		return fmt.Sprint(body["value"])
	}

	// A colleague in the same department is no responder; nor is the
	// employee.
	if got := click(suzuki, ch); got != ja("sos.ack.refused") {
		t.Errorf("suzuki was answered %q", got)
	}
	if got := click(tanaka, ch); got != ja("sos.ack.refused") {
		t.Errorf("tanaka was answered %q", got)
	}
	// The supervisor: recorded; told to reach tanaka, by name.
	if got := click(sato, ch); got != ja("sos.ack.done", tanaka.Name) {
		t.Errorf("sato was answered %q, want %q", got, ja("sos.ack.done", tanaka.Name))
	}
	if k := r.storedCase(t, number); k.Assignee != "teams:aad-sato" || k.Status != mamori.StatusTaken {
		t.Errorf("after sato's click: %q %s", k.Assignee, k.Status)
	}
	for to, m := range r.alerts(t, number) {
		if !strings.Contains(m.Fields[len(m.Fields)-1].Value, "<@aad-sato>") {
			t.Errorf("the card to %s does not say who has it: %+v", to, m.Fields)
		}
	}
	// Tanaka hears who is coming, by name, in the heading.
	items, _ := r.db.ListOutbox(context.Background(), mamori.OutboxPending, 0)
	var told mamori.Message
	for _, it := range items {
		if it.Target.ID == "aad-tanaka" {
			told = it.Message
		}
	}
	c := teams.Card(told, func(id string) string { return map[string]string{"aad-sato": sato.Name}[id] })
	head := toMap(t, c)["body"].([]any)[0].(map[string]any)
	if head["text"] != "<at>"+sato.Name+"</at> さんが対応します" || !strings.Contains(toJSON(c), `"mentioned":{"id":"aad-sato"`) ||
		!strings.Contains(toJSON(c), `"q":"`+sato.Name+` さんが対応します`) {
		t.Errorf("tanaka's news: %s", toJSON(c))
	}
	// Again, by sato: already his.
	if got := click(sato, ch); got != ja("sos.ack.done", tanaka.Name) {
		t.Errorf("sato again: %q", got)
	}
}

// TestSOSAckInPersonalChat: the on-call person's alert comes to their
// personal chat, and its button works there.
func TestSOSAckInPersonalChat(t *testing.T) {
	svc, db := newFlows(t)
	svc.SOS = flows.SOS{OnCall: []string{"sato@example.co.jp"}}
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	for _, m := range []teamstest.Member{tanaka, sato} {
		f.AddMember(m)
	}
	r := &rig{fake: f, db: db, url: serve(t, f, svc, db)}
	r.post(t, r.fake.Message(tanaka, "助けてください！"))
	number := r.sosOf(t, "aad-tanaka")[0].Number
	dm, ok := r.alerts(t, number)["user:sato@example.co.jp"]
	if !ok {
		t.Fatalf("no alert to the on-call person: %v", r.alerts(t, number))
	}
	_, body := r.post(t, r.fake.Execute(sato, teamstest.Personal(sato), choiceData(t, teams.Card(dm, nil), mamori.SOSAck+":"+number), nil))
	if want := fmt.Sprintf(testPolicy(t).T(mamori.JA, "sos.ack.done"), tanaka.Name); body["value"] != want {
		t.Errorf("the click in the personal chat: %v, want %q", body, want)
	}
	if k := r.storedCase(t, number); k.Assignee != "teams:aad-sato" {
		t.Errorf("taken by %q", k.Assignee)
	}
}

// TestSOSSkipLeavesCard: skipping the one question leaves the card as it
// is (its emergency numbers, "I'm safe now"); "I'm safe now" answers it.
func TestSOSSkipLeavesCard(t *testing.T) {
	r := newRig(t)
	r.post(t, r.fake.Message(tanaka, "SOS"))
	number := r.sosOf(t, "aad-tanaka")[0].Number
	raised := teams.Card(r.question(t, "aad-tanaka"), nil)
	personal := teamstest.Personal(tanaka)
	_, body := r.post(t, r.fake.Execute(tanaka, personal, choiceData(t, raised, mamori.SOSSkip+":"+number), nil))
	if body["type"] != "application/vnd.microsoft.activity.message" {
		t.Errorf("skip replaced the card: %v", body)
	}
	if c := r.conversation(t, "aad-tanaka"); c.SOSPlace || c.SOS != number {
		t.Errorf("after skipping: %+v", c)
	}
	_, body = r.post(t, r.fake.Execute(tanaka, personal, choiceData(t, raised, mamori.SOSSafe+":"+number), nil))
	if body["type"] != "application/vnd.microsoft.card.adaptive" || !strings.Contains(toJSON(body), "✓ "+testPolicy(t).T(mamori.JA, "sos.safe.button")) {
		t.Errorf("I'm safe now was answered %v", body)
	}
	if k := r.storedCase(t, number); k.Status != mamori.StatusClosed {
		t.Errorf("after I'm safe now: %s", k.Status)
	}
}
