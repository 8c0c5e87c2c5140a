package teams_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
	"github.com/mamori-oss/mamori/store/mem"
)

// putRef stores how to reach key, as the adapter does when someone
// writes.
func putRef(t *testing.T, refs teams.Refs, key string, ref teams.Ref) {
	t.Helper()
	b, _ := json.Marshal(ref)
	if err := refs.PutReference(context.Background(), key, b); err != nil {
		t.Fatal(err)
	}
}

var (
	tanaka = teamstest.Member{ID: "29:tanaka", AadObjectID: "aad-tanaka", Name: "田中 花子", Email: "tanaka@example.co.jp", Locale: "ja-JP", Installed: true}
	sato   = teamstest.Member{ID: "29:sato", AadObjectID: "aad-sato", Name: "佐藤 一郎", Email: "sato@example.co.jp", Locale: "ja-JP", Installed: true}
	hidden = teamstest.Member{ID: "29:kato", AadObjectID: "aad-kato", Name: "加藤", Email: "kato@example.co.jp"} // Mamori not installed
)

const storeChannel = "19:store@thread.tacv2"

// newSender returns a sender on a fake Bot Connector, keeping references
// in the in-memory store.
func newSender(t *testing.T) (*teamstest.Fake, *teams.Sender, teams.Refs, *teams.Tokens) {
	f := teamstest.New(t, teamstest.Options{AppID: appID, Password: "pw"})
	for _, m := range []teamstest.Member{tanaka, sato, hidden} {
		f.AddMember(m)
	}
	db := mem.New()
	t.Cleanup(func() { db.Close() })
	refs := teams.StoreRefs(db, nil)
	tokens := &teams.Tokens{URL: f.TokenURL, AppID: appID, Password: "pw"}
	conn := &teams.Connector{Tokens: tokens}
	s := teams.NewSender(conn, refs, appID, slog.New(slog.DiscardHandler))
	putRef(t, refs, "teams:service", teams.Ref{ServiceURL: f.ServiceURL, Tenant: teamstest.Tenant, Bot: f.BotID()})
	putRef(t, refs, "teams:channel:"+storeChannel, teams.Ref{ServiceURL: f.ServiceURL, Conversation: storeChannel, Tenant: teamstest.Tenant})
	putRef(t, refs, "teams:user:aad-tanaka", teams.Ref{ServiceURL: f.ServiceURL, Conversation: teamstest.PersonalConv(tanaka.ID), User: tanaka.ID, Name: tanaka.Name})
	return f, s, refs, tokens
}

func item(kind, id, text string) mamori.OutboxItem {
	return mamori.OutboxItem{ID: 1, Key: "k", Target: mamori.Target{Platform: mamori.PlatformTeams, Kind: kind, ID: id},
		Message: mamori.Message{Header: "KH-2026-0001", Text: text}}
}

func TestSenderPostsUpdatesAndThreads(t *testing.T) {
	f, s, _, _ := newSender(t)
	ctx := context.Background()
	card := item(mamori.TargetChannel, storeChannel, "新しい報告 <@aad-tanaka>")
	p, err := s.Send(ctx, card, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Channel != storeChannel || p.TS == "" {
		t.Fatalf("posted %+v", p)
	}
	// The card is updated in place after judgement.
	card.Message.Text = "判断済み"
	if q, err := s.Send(ctx, card, &p); err != nil || q != p {
		t.Fatalf("update: %+v %v", q, err)
	}
	// A reply goes in the card's thread.
	reply := item(mamori.TargetChannel, storeChannel, "三回目です")
	reply.InThread = &p
	if _, err := s.Send(ctx, reply, nil); err != nil {
		t.Fatal(err)
	}
	as := f.Activities(storeChannel)
	if len(as) != 3 || as[1].Method != "PUT" || as[1].ID != p.TS || as[2].Conversation != storeChannel+";messageid="+p.TS {
		t.Fatalf("activities: %+v", as)
	}
	if !strings.Contains(strings.Join(as[0].Texts(), "\n"), "<at>田中 花子</at>") || !strings.Contains(as[0].JSON(), `"mentioned":{"id":"aad-tanaka"`) {
		t.Errorf("the mention: %s", as[0].JSON())
	}
	if !strings.Contains(as[1].JSON(), "判断済み") {
		t.Errorf("the update: %s", as[1].JSON())
	}
	// One token served every call.
	if n := f.Calls("token"); n != 1 {
		t.Errorf("%d token requests, want 1 (cached until expiry)", n)
	}
	// A card that is gone is posted anew.
	gone := mamori.Posted{Channel: storeChannel, TS: "404"}
	if q, err := s.Send(ctx, card, &gone); err != nil || q.TS == "404" {
		t.Errorf("update of a gone card: %+v %v", q, err)
	}
}

func TestSenderProactive(t *testing.T) {
	f, s, refs, _ := newSender(t)
	ctx := context.Background()
	// A person with a 1:1 chat: posted there.
	if _, err := s.Send(ctx, item(mamori.TargetUser, "aad-tanaka", "その後いかがですか"), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Activities(teamstest.PersonalConv(tanaka.ID))); n != 1 {
		t.Errorf("%d posts in tanaka's chat", n)
	}
	// Someone who never wrote: the 1:1 chat is created, and remembered.
	if _, err := s.Send(ctx, item(mamori.TargetUser, "aad-sato", "研修のお知らせ"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, item(mamori.TargetUser, "aad-sato", "研修の催促"), nil); err != nil {
		t.Fatal(err)
	}
	if got := f.Created(); len(got) != 1 || got[0] != "aad-sato" {
		t.Errorf("conversations created with %v, want once with aad-sato", got)
	}
	if _, err := refs.Reference(ctx, "teams:user:aad-sato"); err != nil {
		t.Errorf("the new conversation was not remembered: %v", err)
	}
	if n := len(f.Activities(teamstest.PersonalConv(sato.ID))); n != 2 {
		t.Errorf("%d posts in sato's chat, want 2", n)
	}
	// Someone who cannot be reached: permanent, so the worker tells HR.
	var perm *mamori.PermanentError
	for _, id := range []string{"aad-kato", "nobody@example.co.jp", "aad-unknown"} {
		if _, err := s.Send(ctx, item(mamori.TargetUser, id, "x"), nil); !errors.As(err, &perm) {
			t.Errorf("%s: %v, want a permanent error", id, err)
		}
	}
	if _, err := s.Send(ctx, item(mamori.TargetChannel, "general", "x"), nil); !errors.As(err, &perm) {
		t.Errorf("unknown channel: %v, want a permanent error", err)
	}
	// A channel of the team with no reference of its own: the tenant's
	// serviceUrl reaches it.
	if _, err := s.Send(ctx, item(mamori.TargetChannel, "19:other@thread.tacv2", "x"), nil); err != nil {
		t.Errorf("another channel: %v", err)
	}
}

func TestSenderTokenEndpointDown(t *testing.T) {
	f, s, _, tokens := newSender(t)
	ctx := context.Background()
	f.SetTokenDown(true)
	_, err := s.Send(ctx, item(mamori.TargetUser, "aad-tanaka", "x"), nil)
	var perm *mamori.PermanentError
	if !errors.Is(err, teams.ErrTokenUnavailable) || errors.As(err, &perm) {
		t.Fatalf("token endpoint down: %v, want ErrTokenUnavailable, to retry", err)
	}
	if !strings.Contains(err.Error(), "token endpoint") {
		t.Errorf("the error does not say what is down: %v", err)
	}
	f.SetTokenDown(false)
	if _, err := s.Send(ctx, item(mamori.TargetUser, "aad-tanaka", "x"), nil); err != nil {
		t.Fatalf("after the endpoint came back: %v", err)
	}
	// A wrong secret is said so, and retried too (it can be fixed).
	bad := &teams.Tokens{URL: f.TokenURL, AppID: appID, Password: "wrong"}
	if _, err := bad.Token(ctx); !errors.Is(err, teams.ErrTokenUnavailable) || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("wrong secret: %v", err)
	}
	_ = tokens
}

func TestSenderThrottled(t *testing.T) {
	f, s, _, _ := newSender(t)
	f.FailNext("POST", 429)
	_, err := s.Send(context.Background(), item(mamori.TargetUser, "aad-tanaka", "x"), nil)
	var ra *mamori.RetryAfterError
	if !errors.As(err, &ra) || ra.After <= 0 {
		t.Fatalf("429: %v, want RetryAfterError", err)
	}
	f.FailNext("POST", 503)
	_, err = s.Send(context.Background(), item(mamori.TargetUser, "aad-tanaka", "x"), nil)
	var perm *mamori.PermanentError
	if err == nil || errors.As(err, &perm) {
		t.Fatalf("503: %v, want an error to retry", err)
	}
}

func jsonRoundTrip(v, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
