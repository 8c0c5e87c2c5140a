package slack_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

func newSender(t *testing.T) (*slack.Sender, *slacktest.Server) {
	t.Helper()
	api := slacktest.New(t, botToken)
	api.AddUser(slacktest.User{ID: "UJA", Name: "hanako", Locale: "ja-JP"})
	return slack.NewSender(slack.Config{BotToken: botToken, APIURL: api.URL}), api
}

func item(kind, id string, m mamori.Message) mamori.OutboxItem {
	return mamori.OutboxItem{ID: 1, Key: "k", Target: mamori.Target{Platform: mamori.PlatformSlack, Kind: kind, ID: id}, Message: m}
}

func TestSenderDirectMessage(t *testing.T) {
	s, api := newSender(t)
	ctx := context.Background()
	m := mamori.Message{Header: "報告を受け付けました", Text: "受付番号 KH-2026-0042"}

	p1, err := s.Send(ctx, item(mamori.TargetUser, "UJA", m), nil)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.Send(ctx, item(mamori.TargetUser, "UJA", m), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Channel != "DUJA" || p1.TS == "" || p2.TS <= p1.TS {
		t.Errorf("posted %+v then %+v", p1, p2)
	}
	if n := len(api.Calls("conversations.open")); n != 1 {
		t.Errorf("conversations.open calls = %d, want 1 (cached)", n)
	}
	posts := api.Calls("chat.postMessage")
	if len(posts) != 2 {
		t.Fatalf("chat.postMessage calls = %d", len(posts))
	}
	c := posts[0]
	if c.Get("channel") != "DUJA" || c.Get("text") != "報告を受け付けました\n受付番号 KH-2026-0042" {
		t.Errorf("post = %v", c.Params)
	}
	var blocks []map[string]any
	if err := c.Decode("blocks", &blocks); err != nil || len(blocks) != 2 || blocks[0]["type"] != "header" {
		t.Errorf("blocks = %s (%v)", c.Get("blocks"), err)
	}
}

func TestSenderChannelAndUpdate(t *testing.T) {
	s, api := newSender(t)
	ctx := context.Background()
	p, err := s.Send(ctx, item(mamori.TargetChannel, "CSUP", mamori.Message{Ref: "card:KH-1", Text: "new"}), nil)
	if err != nil || p.Channel != "CSUP" {
		t.Fatalf("posted %+v, %v", p, err)
	}
	u, err := s.Send(ctx, item(mamori.TargetChannel, "CSUP", mamori.Message{Ref: "card:KH-1", Text: "taken"}), &p)
	if err != nil {
		t.Fatal(err)
	}
	if u != p {
		t.Errorf("updated at %+v, want %+v", u, p)
	}
	ups := api.Calls("chat.update")
	if len(ups) != 1 || ups[0].Get("channel") != "CSUP" || ups[0].Get("ts") != p.TS || ups[0].Get("text") != "taken" {
		t.Errorf("chat.update = %+v", ups)
	}
	if n := len(api.Calls("chat.postMessage")); n != 1 {
		t.Errorf("chat.postMessage calls = %d, want 1", n)
	}

	// A message deleted meanwhile is posted anew.
	api.Fail("chat.update", "message_not_found", 1)
	n, err := s.Send(ctx, item(mamori.TargetChannel, "CSUP", mamori.Message{Ref: "card:KH-1", Text: "again"}), &p)
	if err != nil || n.TS == p.TS {
		t.Errorf("after message_not_found: %+v, %v", n, err)
	}
}

func TestSenderErrors(t *testing.T) {
	ctx := context.Background()
	m := mamori.Message{Text: "hello"}
	tests := []struct {
		name    string
		setup   func(*slacktest.Server)
		target  mamori.OutboxItem
		check   func(t *testing.T, err error)
		retried bool
	}{
		{"rate limited", func(api *slacktest.Server) { api.RateLimit("chat.postMessage", 30, 1) },
			item(mamori.TargetChannel, "CSUP", m), func(t *testing.T, err error) {
				var ra *mamori.RetryAfterError
				if !errors.As(err, &ra) || ra.After != 30*time.Second {
					t.Errorf("err = %v, want RetryAfterError 30s", err)
				}
			}, false},
		{"rate limited opening the DM", func(api *slacktest.Server) { api.RateLimit("conversations.open", 7, 1) },
			item(mamori.TargetUser, "UJA", m), func(t *testing.T, err error) {
				var ra *mamori.RetryAfterError
				if !errors.As(err, &ra) || ra.After != 7*time.Second {
					t.Errorf("err = %v, want RetryAfterError 7s", err)
				}
			}, false},
		{"channel not found", func(api *slacktest.Server) { api.Archive("CGONE") },
			item(mamori.TargetChannel, "CGONE", m), permanent("channel_not_found"), false},
		{"not in channel", func(api *slacktest.Server) { api.Fail("chat.postMessage", "not_in_channel", 1) },
			item(mamori.TargetChannel, "CSUP", m), permanent("not_in_channel"), false},
		{"invalid auth", func(api *slacktest.Server) { api.Fail("chat.postMessage", "invalid_auth", 1) },
			item(mamori.TargetChannel, "CSUP", m), permanent("invalid_auth"), false},
		{"unknown user", func(*slacktest.Server) {},
			item(mamori.TargetUser, "UNOBODY", m), permanent("user_not_found"), false},
		{"not slack", func(*slacktest.Server) {},
			mamori.OutboxItem{Target: mamori.Target{Platform: mamori.PlatformTeams, Kind: mamori.TargetUser, ID: "x"}, Message: m},
			func(t *testing.T, err error) {
				var pe *mamori.PermanentError
				if !errors.As(err, &pe) {
					t.Errorf("err = %v, want PermanentError", err)
				}
			}, false},
		{"server error", func(api *slacktest.Server) { api.ServerError("chat.postMessage", 1) },
			item(mamori.TargetChannel, "CSUP", m), transient, true},
		{"internal error code", func(api *slacktest.Server) { api.Fail("chat.postMessage", "internal_error", 1) },
			item(mamori.TargetChannel, "CSUP", m), transient, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, api := newSender(t)
			tt.setup(api)
			_, err := s.Send(ctx, tt.target, nil)
			tt.check(t, err)
			if tt.retried {
				if _, err := s.Send(ctx, tt.target, nil); err != nil {
					t.Errorf("retry: %v", err)
				}
			}
		})
	}
}

func permanent(code string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var pe *mamori.PermanentError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), code) {
			t.Errorf("err = %v, want PermanentError %s", err, code)
		}
	}
}

func transient(t *testing.T, err error) {
	t.Helper()
	var pe *mamori.PermanentError
	var ra *mamori.RetryAfterError
	if err == nil || errors.As(err, &pe) || errors.As(err, &ra) {
		t.Errorf("err = %v, want a plain (retried) error", err)
	}
}
