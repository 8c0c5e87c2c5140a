// Package teams connects Mamori to Microsoft Teams through the Bot
// Framework. It authenticates what the Bot Connector posts to
// /api/messages (a JWT checked against Microsoft's published keys),
// translates activities — personal chat messages, Adaptive Card actions,
// dialogs, installations — into mamori.Input for the flows, renders
// mamori.Message as Adaptive Cards, and sends the outbox through the
// Connector with a single-tenant bot's token. It stores conversation
// references so follow-ups can go out days later. It uses
// msbotbuilder-go's schema types only; its authentication and client
// cannot serve a bot created today (see auth.go and connector.go).
package teams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mamori-oss/mamori"
)

// Flows is what the adapter needs from the conversation engine
// (flows.Service).
type Flows interface {
	// Handle applies one input; nil means it is committed.
	Handle(ctx context.Context, in mamori.Input) error
	// CaseDetails returns a case's confidential detail for viewer, or a
	// refusal message with mamori.ErrForbidden.
	CaseDetails(ctx context.Context, viewer mamori.User, number string) (mamori.Message, error)
	// Home returns the overview for u (Slack's App Home).
	Home(ctx context.Context, u mamori.User) (mamori.Message, error)
	// Open answers a click on a supervisor's or HR's button: the form
	// to fill in, or the one-click action done with a message for the
	// actor alone (with mamori.ErrForbidden, ErrNotFound, ErrInvalid or
	// ErrConflict, the refusal in the actor's words). Submit acts on a
	// filled-in form; a refused value is a *mamori.Refusal naming the field.
	Open(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error)
	Submit(ctx context.Context, actor mamori.User, a mamori.Action, v mamori.Values) (mamori.Message, error)
}

// Config is what the adapter needs, as plain values.
type Config struct {
	// AppID, Password and TenantID are the bot's Entra ID app
	// registration (single tenant). With no AppID the adapter accepts
	// unauthenticated activities from loopback only, for a local emulator,
	// and sends without a token.
	AppID, Password, TenantID string
	// OpenIDMetadataURL is where the Connector's signing keys are
	// published; default DefaultOpenIDMetadataURL.
	OpenIDMetadataURL string
	// TokenURL is the token endpoint; default TokenURL(TenantID).
	TokenURL string
	// Command is the start command (e.g. "/kasuhara"), also accepted typed.
	Command string
	Client  *http.Client
	Clock   mamori.Clock
	Log     *slog.Logger
	// Policy holds the adapter's texts (teams.*).
	Policy *mamori.Policy
}

// Limits.
const (
	// MaxBody is the largest activity accepted.
	MaxBody = 1 << 20
	// MaxText is the longest message, in characters, passed to the flows.
	MaxText       = 10000
	userTTL       = 10 * time.Minute
	lookupTimeout = 2 * time.Second
	bgTimeout     = 15 * time.Second
	maxBackground = 16
	// refEvery is how often an unchanged reference is written again.
	refEvery = time.Hour
)

// Adapter serves the Bot Connector's POST /api/messages.
type Adapter struct {
	cfg   Config
	flows Flows
	val   *Validator // nil: loopback emulator mode
	conn  *Connector
	refs  Refs
	now   mamori.Clock
	log   *slog.Logger

	mu      sync.Mutex
	users   map[string]cachedUser // by 29:… id
	written map[string]writtenRef // reference key → last written

	bg  chan struct{}
	wg  sync.WaitGroup
	ctx context.Context
	end context.CancelFunc
}

type cachedUser struct {
	user mamori.User
	at   time.Time
}

type writtenRef struct {
	ref Ref
	at  time.Time
}

// New returns an adapter handing inputs to f and keeping references in
// refs. Its errors name the missing setting.
func New(cfg Config, f Flows, refs Refs) (*Adapter, error) {
	switch {
	case f == nil:
		return nil, errors.New("teams: no flows")
	case refs == nil:
		return nil, errors.New("teams: no reference store")
	case cfg.Policy == nil:
		return nil, errors.New("teams: no policy")
	case cfg.AppID != "" && cfg.Password == "":
		return nil, errors.New("MICROSOFT_APP_PASSWORD is not set: the bot needs its client secret with MICROSOFT_APP_ID")
	case cfg.AppID != "" && cfg.TenantID == "" && cfg.TokenURL == "":
		return nil, errors.New("MICROSOFT_APP_TENANT_ID is not set: a single-tenant bot gets its tokens from its own tenant (the Directory (tenant) ID of the app registration)")
	case cfg.AppID == "" && cfg.Password != "":
		return nil, errors.New("MICROSOFT_APP_ID is not set: it is needed with MICROSOFT_APP_PASSWORD")
	}
	a := &Adapter{cfg: cfg, flows: f, refs: refs, now: cfg.Clock, log: cfg.Log,
		users: map[string]cachedUser{}, written: map[string]writtenRef{}, bg: make(chan struct{}, maxBackground)}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	a.conn = &Connector{Client: client, Log: a.log}
	if cfg.AppID != "" {
		a.val = &Validator{AppID: cfg.AppID, MetadataURL: cfg.OpenIDMetadataURL, Client: client, Clock: a.now, Log: a.log}
		tokenURL := cfg.TokenURL
		if tokenURL == "" {
			tokenURL = TokenURL(cfg.TenantID)
		}
		a.conn.Tokens = &Tokens{URL: tokenURL, AppID: cfg.AppID, Password: cfg.Password, Client: client, Clock: a.now}
	}
	a.ctx, a.end = context.WithCancel(context.Background())
	return a, nil
}

// Sender returns the outbox's Sender for Teams, sharing the adapter's
// token cache.
// The personal chat's menu gets a button showing the person's cases.
func (a *Adapter) Sender() *Sender {
	s := NewSender(a.conn, a.refs, a.cfg.AppID, a.log)
	s.policy = a.cfg.Policy
	return s
}

// Authenticated reports whether activities are checked with JWTs (an app
// id is set), rather than accepted from loopback only.
func (a *Adapter) Authenticated() bool { return a.val != nil }

// Close ends the work still running after answers and waits for it.
func (a *Adapter) Close() error {
	a.end()
	a.wg.Wait()
	return nil
}

// later runs fn after the answer, at most maxBackground at a time.
func (a *Adapter) later(what string, fn func(ctx context.Context)) {
	if fn == nil {
		return
	}
	select {
	case a.bg <- struct{}{}:
	default:
		a.log.Warn("teams: too busy, dropped background work", "what", what)
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() { <-a.bg }()
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("teams: panic in background work", "what", what, "panic", fmt.Sprint(p))
			}
		}()
		ctx, cancel := context.WithTimeout(a.ctx, bgTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// user returns the mamori.User of an activity's sender: the Entra object
// id as ID (the 29:… id when there is none, as in an emulator), the
// language from the activity's locale (Japanese when there is none), and
// the email the Connector gives, cached for ten minutes. When the
// Connector cannot say, the request goes on without an email.
func (a *Adapter) user(ctx context.Context, act *activity) mamori.User {
	from := act.From
	u := mamori.User{Platform: mamori.PlatformTeams, ID: firstNonEmpty(from.AadObjectID, from.ID), Name: from.Name,
		Lang: mamori.LangFromLocale(act.locale())}
	now := a.now()
	a.mu.Lock()
	c, ok := a.users[from.ID]
	a.mu.Unlock()
	if ok && now.Sub(c.at) < userTTL && now.Sub(c.at) >= 0 {
		u.Email = c.user.Email
		u.Name = firstNonEmpty(c.user.Name, u.Name)
		return u
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	m, err := a.conn.Member(ctx, act.ServiceURL, act.Conversation.ID, from.ID)
	if err != nil {
		// Not asked again for a while: an emulator may not answer at all.
		a.log.Warn("teams: member lookup failed; going on without an email", "user", u.ID, "err", err)
	} else {
		u.Email = firstNonEmpty(m.Email, m.UserPrincipalName)
		u.Name = firstNonEmpty(m.Name, u.Name)
	}
	a.mu.Lock()
	if len(a.users) > 10000 {
		for k, v := range a.users {
			if now.Sub(v.at) >= userTTL {
				delete(a.users, k)
			}
		}
	}
	a.users[from.ID] = cachedUser{user: u, at: now}
	a.mu.Unlock()
	return u
}
