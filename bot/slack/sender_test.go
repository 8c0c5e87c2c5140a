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
	api.AddUser(slacktest.User{ID: "UJA", Name: "hanako", Email: "hanako@example.co.jp", Locale: "ja-JP"})
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
	// A DM is posted to the user's id: no conversations.open (Tier 3) per
	// recipient, which would make a campaign to thousands take hours.
	if n := len(api.Calls("conversations.open")); n != 0 {
		t.Errorf("conversations.open calls = %d, want 0", n)
	}
	posts := api.Calls("chat.postMessage")
	if len(posts) != 2 {
		t.Fatalf("chat.postMessage calls = %d", len(posts))
	}
	c := posts[0]
	if c.Get("channel") != "UJA" || c.Channel() != "DUJA" || c.Get("text") != "報告を受け付けました\n受付番号 KH-2026-0042" {
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
		{"rate limited looking up an email", func(api *slacktest.Server) { api.RateLimit("users.lookupByEmail", 7, 1) },
			item(mamori.TargetUser, "hanako@example.co.jp", m), func(t *testing.T, err error) {
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
			item(mamori.TargetUser, "UNOBODY", m), permanent("channel_not_found"), false},
		{"unknown email", func(*slacktest.Server) {},
			item(mamori.TargetUser, "nobody@example.co.jp", m), permanent("users_not_found"), false},
		{"server error looking up an email", func(api *slacktest.Server) { api.ServerError("users.lookupByEmail", 1) },
			item(mamori.TargetUser, "hanako@example.co.jp", m), transient, true},
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

func TestSenderEmailTarget(t *testing.T) {
	s, api := newSender(t)
	ctx := context.Background()
	for range 2 {
		p, err := s.Send(ctx, item(mamori.TargetUser, "Hanako@Example.co.jp", mamori.Message{Text: "hi"}), nil)
		if err != nil || p.Channel != "DUJA" {
			t.Fatalf("posted %+v, %v", p, err)
		}
	}
	if n := len(api.Calls("users.lookupByEmail")); n != 1 {
		t.Errorf("users.lookupByEmail calls = %d, want 1 (cached)", n)
	}
	for _, c := range api.Calls("chat.postMessage") {
		if c.Get("channel") != "UJA" {
			t.Errorf("posted to %q, want UJA", c.Get("channel"))
		}
	}
}

func TestSenderImage(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake chart")
	img := &mamori.Image{Name: "kasuhara-2026-10.png", Alt: "10月の報告件数: 店舗 12 件", PNG: png}
	ctx := context.Background()

	t.Run("after the message", func(t *testing.T) {
		s, api := newSender(t)
		p, err := s.Send(ctx, item(mamori.TargetUser, "UJA", mamori.Message{Header: "10月の報告", Image: img}), nil)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, c := range api.Calls() {
			order = append(order, c.Method)
		}
		if want := "chat.postMessage files.getUploadURLExternal files.completeUploadExternal"; strings.Join(order, " ") != want {
			t.Errorf("calls = %v, want %s", order, want)
		}
		fs := api.Files()
		if len(fs) != 1 {
			t.Fatalf("files = %+v", fs)
		}
		f := fs[0]
		if string(f.Data) != string(png) || f.Channel != p.Channel || f.Name != img.Name || f.AltText != img.Alt || f.Length != len(png) {
			t.Errorf("file = %+v, message at %+v", f, p)
		}
	})

	t.Run("in a thread", func(t *testing.T) {
		s, api := newSender(t)
		it := item(mamori.TargetChannel, "CSUP", mamori.Message{Text: "chart", Image: img})
		it.InThread = &mamori.Posted{Channel: "CSUP", TS: "1700000000.000001"}
		if _, err := s.Send(ctx, it, nil); err != nil {
			t.Fatal(err)
		}
		if fs := api.Files(); len(fs) != 1 || fs[0].ThreadTS != "1700000000.000001" || fs[0].Channel != "CSUP" {
			t.Errorf("files = %+v", fs)
		}
	})

	t.Run("upload fails, the retry sends only the image", func(t *testing.T) {
		s, api := newSender(t)
		api.ServerError("files.completeUploadExternal", 1)
		it := item(mamori.TargetUser, "UJA", mamori.Message{Text: "chart", Image: img})
		_, err := s.Send(ctx, it, nil)
		transient(t, err)
		p, err := s.Send(ctx, it, nil)
		if err != nil || p.Channel != "DUJA" {
			t.Fatalf("retry: %+v, %v", p, err)
		}
		if n := len(api.Calls("chat.postMessage")); n != 1 {
			t.Errorf("chat.postMessage calls = %d, want 1", n)
		}
		if fs := api.Files(); len(fs) != 1 || string(fs[0].Data) != string(png) {
			t.Errorf("files = %+v", fs)
		}
	})

	t.Run("uploads disabled", func(t *testing.T) {
		s, api := newSender(t)
		api.Fail("files.getUploadURLExternal", "file_uploads_disabled", 1)
		p, err := s.Send(ctx, item(mamori.TargetUser, "UJA", mamori.Message{Text: "chart", Image: img}), nil)
		if err != nil || p.TS == "" {
			t.Fatalf("the message is out, the image never will be: want no error, got %+v, %v", p, err)
		}
		if fs := api.Files(); len(fs) != 0 {
			t.Errorf("files = %+v", fs)
		}
	})
}

func TestSenderPacing(t *testing.T) {
	ctx := context.Background()
	m := mamori.Message{Text: "hello"}
	newPaced := func(t *testing.T, l slack.Limits) (*slack.Sender, *slacktest.Server) {
		api := slacktest.New(t, botToken)
		return slack.NewSender(slack.Config{BotToken: botToken, APIURL: api.URL}, slack.WithLimits(l)), api
	}
	paced := func(t *testing.T, err error, max time.Duration) {
		t.Helper()
		var ra *mamori.RetryAfterError
		if !errors.As(err, &ra) || !ra.Paced || ra.After <= 0 || ra.After > max {
			t.Errorf("err = %v, want a paced RetryAfterError of at most %s", err, max)
		}
	}

	t.Run("a channel not yet due is handed back at once", func(t *testing.T) {
		s, api := newPaced(t, slack.Limits{Channel: slack.Rate{PerMinute: 60, Burst: 1}})
		if _, err := s.Send(ctx, item(mamori.TargetChannel, "CSUP", m), nil); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := s.Send(ctx, item(mamori.TargetChannel, "CSUP", m), nil)
		paced(t, err, time.Second)
		if time.Since(start) > 100*time.Millisecond {
			t.Errorf("a paced send blocked for %s", time.Since(start))
		}
		// Another channel goes meanwhile.
		if _, err := s.Send(ctx, item(mamori.TargetChannel, "COTHER", m), nil); err != nil {
			t.Fatal(err)
		}
		if n := len(api.Calls("chat.postMessage")); n != 2 {
			t.Errorf("chat.postMessage calls = %d, want 2", n)
		}
	})

	t.Run("the workspace budget is waited for", func(t *testing.T) {
		s, _ := newPaced(t, slack.Limits{Workspace: slack.Rate{PerMinute: 600, Burst: 1}})
		start := time.Now()
		for _, ch := range []string{"C1", "C2", "C3"} {
			if _, err := s.Send(ctx, item(mamori.TargetChannel, ch, m), nil); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d < 180*time.Millisecond {
			t.Errorf("3 posts at 10 a second took %s", d)
		}
	})

	t.Run("a long wait for the workspace is handed back", func(t *testing.T) {
		s, _ := newPaced(t, slack.Limits{Workspace: slack.Rate{PerMinute: 6, Burst: 1}, MaxWait: 50 * time.Millisecond})
		if _, err := s.Send(ctx, item(mamori.TargetChannel, "C1", m), nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.Send(ctx, item(mamori.TargetChannel, "C2", m), nil)
		paced(t, err, 10*time.Second)
	})

	t.Run("after a 429 the channel waits Retry-After", func(t *testing.T) {
		s, api := newPaced(t, slack.DefaultLimits())
		api.RateLimit("chat.postMessage", 30, 1)
		_, err := s.Send(ctx, item(mamori.TargetChannel, "CSUP", m), nil)
		var ra *mamori.RetryAfterError
		if !errors.As(err, &ra) || ra.Paced || ra.After != 30*time.Second {
			t.Fatalf("err = %v, want Slack's RetryAfterError 30s", err)
		}
		_, err = s.Send(ctx, item(mamori.TargetChannel, "CSUP", m), nil)
		paced(t, err, 30*time.Second)
		if _, err := s.Send(ctx, item(mamori.TargetChannel, "COTHER", m), nil); err != nil {
			t.Fatal(err)
		}
		if n := len(api.Calls("chat.postMessage")); n != 2 {
			t.Errorf("chat.postMessage calls = %d, want 2 (none to CSUP while it waits)", n)
		}
	})
}

func TestSenderDirectMessageUpdatedInPlace(t *testing.T) {
	s, api := newSender(t)
	ctx := context.Background()
	p, err := s.Send(ctx, item(mamori.TargetUser, "UJA", mamori.Message{Ref: "care:1", Text: "お元気ですか"}), nil)
	if err != nil || p.Channel != "DUJA" {
		t.Fatalf("posted %+v, %v", p, err)
	}
	u, err := s.Send(ctx, item(mamori.TargetUser, "UJA", mamori.Message{Ref: "care:1", Text: "回答ありがとうございました"}), &p)
	if err != nil || u != p {
		t.Fatalf("updated %+v, %v; want at %+v", u, err, p)
	}
	if ups := api.Calls("chat.update"); len(ups) != 1 || ups[0].Get("channel") != "DUJA" || ups[0].Error != "" {
		t.Errorf("chat.update = %+v", ups)
	}
}

// TestSenderRespond: a reply to a click goes through the click's
// response_url as a new message in the DM — no chat.postMessage, so the
// DM's one-a-second pace does not hold it back — while the url has uses
// left (four: the fifth is the adapter's mark) and is young enough. A
// message to be updated in place later (Ref) needs a ts, which a
// response_url does not give: it is posted. A url Slack refuses is not
// tried again, and its message is posted instead.
func TestSenderRespond(t *testing.T) {
	_, api := newSender(t)
	// Unpaced, so the posts here are not held back for the DM's pace.
	s := slack.NewSender(slack.Config{BotToken: botToken, APIURL: api.URL}, slack.WithLimits(slack.Limits{}))
	ctx := context.Background()
	url := api.ResponseURL("DUJA", "1700000000.000001", "UJA")
	reply := func(text string, age time.Duration) mamori.OutboxItem {
		it := item(mamori.TargetUser, "UJA", mamori.Message{Text: text, Respond: url})
		it.Created = time.Now().Add(-age)
		return it
	}
	send := func(t *testing.T, it mamori.OutboxItem) mamori.Posted {
		t.Helper()
		p, err := s.Send(ctx, it, nil)
		if err != nil {
			t.Fatalf("%s: %v", it.Message.Text, err)
		}
		return p
	}
	for _, text := range []string{"q1", "q2", "q3", "q4"} {
		send(t, reply(text, 0))
	}
	if n := len(api.Calls("chat.postMessage")); n != 0 {
		t.Fatalf("%d chat.postMessage calls, want the replies through the response_url", n)
	}
	for _, c := range api.Calls("response_url") {
		if c.Get("response_type") != "in_channel" || c.Get("replace_original") != "false" {
			t.Errorf("response %v: want a new message in the DM", c.JSON)
		}
	}
	// The fifth use is the mark's: this one is posted.
	if p := send(t, reply("q5", 0)); p.TS == "" {
		t.Errorf("q5 posted %+v, want a ts", p)
	}
	var got []string
	for _, m := range api.Messages("DUJA") {
		if m.Ephemeral {
			t.Errorf("%q is ephemeral", m.Text)
		}
		got = append(got, m.Text+" "+m.Via)
	}
	want := "q1 response_url|q2 response_url|q3 response_url|q4 response_url|q5 chat.postMessage"
	if strings.Join(got, "|") != want {
		t.Errorf("the DM shows %q, want %q", strings.Join(got, "|"), want)
	}

	fresh := func() string { return api.ResponseURL("DUJA", "1700000000.000002", "UJA") }
	for _, tt := range []struct {
		name string
		it   func() mamori.OutboxItem
	}{
		{"with a Ref", func() mamori.OutboxItem {
			it := reply("ref", 0)
			it.Message.Respond, it.Message.Ref = fresh(), "training:x"
			return it
		}},
		{"older than its life", func() mamori.OutboxItem {
			it := reply("old", 26*time.Minute)
			it.Message.Respond = fresh()
			return it
		}},
		{"not Slack's url", func() mamori.OutboxItem {
			it := reply("elsewhere", 0)
			it.Message.Respond = "https://attacker.example/actions/1"
			return it
		}},
		{"to a channel", func() mamori.OutboxItem {
			it := item(mamori.TargetChannel, "C0STORE", mamori.Message{Text: "card", Respond: fresh()})
			it.Created = time.Now()
			return it
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, responses := len(api.Calls("chat.postMessage")), len(api.Calls("response_url"))
			if p := send(t, tt.it()); p.TS == "" {
				t.Errorf("posted %+v, want a ts", p)
			}
			if len(api.Calls("chat.postMessage")) != before+1 || len(api.Calls("response_url")) != responses {
				t.Errorf("want one chat.postMessage and no response")
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		u := fresh()
		api.ExpireResponseURLs()
		before := len(api.Calls("chat.postMessage"))
		for _, text := range []string{"e1", "e2"} {
			it := reply(text, 0)
			it.Message.Respond = u
			if p := send(t, it); p.TS == "" {
				t.Errorf("%s posted %+v, want a ts", text, p)
			}
		}
		if n := len(api.Calls("chat.postMessage")) - before; n != 2 {
			t.Errorf("%d posts, want both messages posted", n)
		}
		var refused int
		for _, c := range api.Calls("response_url") {
			if c.Error == "expired_url" {
				refused++
			}
		}
		if refused != 1 {
			t.Errorf("the expired url was tried %d times, want once", refused)
		}
	})
}
