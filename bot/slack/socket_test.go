package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

func TestSocketMode(t *testing.T) {
	api := slacktest.New(t, botToken)
	api.AddUser(slacktest.User{ID: "UEN", Name: "alex", Email: "alex@example.com", Locale: "en-US"})
	flows := newFakeFlows()
	ad, err := slack.New(slack.Config{BotToken: botToken, AppToken: api.AppToken, APIURL: api.URL,
		Log: slog.New(slog.DiscardHandler), Policy: testPolicy()}, flows)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ad.RunSocketMode(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("RunSocketMode did not stop")
		}
		ad.Close()
	})

	// An event: acknowledged after Handle, with the event id as delivery.
	env := api.SendEnvelope(t, "events_api", map[string]any{"type": "event_callback", "event_id": "EvS1",
		"team_id": "T0000001", "event": dm("UEN", "hello over a socket")})
	api.WaitAck(t, env, 5*time.Second)

	// A slash command: the ack carries the ephemeral text.
	env = api.SendEnvelope(t, "slash_commands", map[string]any{"command": "/kasuhara", "text": "consult",
		"user_id": "UEN", "channel_id": "C0GENERAL", "trigger_id": "T.1"})
	var ack map[string]string
	if err := json.Unmarshal(api.WaitAck(t, env, 5*time.Second), &ack); err != nil || ack["text"] != "Check your direct messages with Mamori." {
		t.Errorf("slash command ack = %v (%v)", ack, err)
	}

	// A click.
	env = api.SendEnvelope(t, "interactive", clickPayload(t, "UEN", "DUEN", blocksOf(t, question()), "safe"))
	api.WaitAck(t, env, 5*time.Second)

	want := []mamori.Input{
		{Kind: mamori.InputText, Text: "hello over a socket", Delivery: "EvS1"},
		{Kind: mamori.InputStart, Value: mamori.StartConsult, Delivery: "command:T.1"},
		{Kind: mamori.InputChoice, Step: "safety", Value: "safe"},
	}
	got := flows.Inputs()
	if len(got) != len(want) {
		t.Fatalf("inputs = %+v", got)
	}
	for i, in := range got {
		if in.Kind != want[i].Kind || in.Text != want[i].Text || in.Value != want[i].Value || in.Step != want[i].Step ||
			(want[i].Delivery != "" && in.Delivery != want[i].Delivery) || in.User.Lang != mamori.EN {
			t.Errorf("input %d = %+v, want %+v", i, in, want[i])
		}
	}

	// A failing Handle leaves the event unacknowledged for redelivery.
	flows.setErr(errors.New("locked"))
	env = api.SendEnvelope(t, "events_api", map[string]any{"type": "event_callback", "event_id": "EvS2",
		"event": dm("UEN", "again")})
	deadline := time.Now().Add(5 * time.Second)
	for len(flows.Inputs()) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if _, acked := api.Ack(env); acked {
		t.Error("failed event was acknowledged")
	}
}
