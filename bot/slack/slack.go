// Package slack connects Mamori to Slack. It verifies and translates what
// Slack sends — slash commands, button clicks, direct messages, App Home
// visits, over HTTP or Socket Mode — into mamori.Input for the flows, and
// renders mamori.Message as Block Kit. It adds no words of its own beyond
// the few texts the policy holds under "slack.*".
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/mamori-oss/mamori"
)

// Flows is what the adapter needs from the conversation engine
// (flows.Service).
type Flows interface {
	// Handle applies one input; nil means it is committed and may be
	// acknowledged.
	Handle(ctx context.Context, in mamori.Input) error
	// CaseDetails returns a case's confidential detail for viewer, or a
	// refusal message with mamori.ErrForbidden.
	CaseDetails(ctx context.Context, viewer mamori.User, number string) (mamori.Message, error)
	// Home returns the App Home content for u.
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
	BotToken      string // xoxb-…
	SigningSecret string // verifies HTTP requests
	AppToken      string // xapp-…; set for Socket Mode
	// APIURL is the Web API base, e.g. "https://slack.com/api/"; empty for
	// Slack's own.
	APIURL string
	Clock  mamori.Clock
	Log    *slog.Logger
	// Policy holds the adapter's few texts: slack.command_ack,
	// slack.error, slack.too_long.
	Policy *mamori.Policy
}

// Limits and timeouts.
const (
	// MaxBody is the largest request body accepted; Slack's are far smaller.
	MaxBody = 1 << 20
	// MaxSkew is how far a request's timestamp may be from now, either way.
	MaxSkew = 5 * time.Minute
	// MaxText is the longest message, in characters, passed to the flows.
	MaxText = 10000

	userTTL       = 10 * time.Minute
	userRetry     = 30 * time.Second // after users.info failed
	lookupTimeout = 2 * time.Second
	bgTimeout     = 15 * time.Second
	maxBackground = 16
)

// Adapter serves Slack's requests. It is an http.Handler for the paths
// /slack/commands, /slack/interactivity and /slack/events, and runs Socket
// Mode with RunSocketMode.
type Adapter struct {
	cfg   Config
	flows Flows
	api   *slackapi.Client
	now   mamori.Clock
	log   *slog.Logger

	mu    sync.Mutex
	users map[string]cachedUser
	botID string // the bot's own user id, from auth.test
	// dms are the app's DM channels with people, by user id, as their
	// messages showed them: the slash command used there needs no word
	// pointing to the DM.
	dms map[string]string

	bg chan struct{} // bounds the work done after an ack
	// dropped counts background work refused when bg was full;
	// droppedLog is when that was last logged (unix ns).
	dropped, droppedLog atomic.Int64
	cosmetic            *rate.Limiter // chat.update calls that only tidy up
	wg                  sync.WaitGroup
	ctx                 context.Context // for work after an ack; ended by Close
	end                 context.CancelFunc
}

type cachedUser struct {
	user mamori.User
	at   time.Time
	// notPerson: a bot, an app or a deactivated account (users.info),
	// which no message of a person's reaches.
	notPerson bool
}

// New returns an adapter handing inputs to f.
func New(cfg Config, f Flows) (*Adapter, error) {
	if f == nil {
		return nil, errors.New("slack: no flows")
	}
	if cfg.Policy == nil {
		return nil, errors.New("slack: no policy")
	}
	if cfg.BotToken == "" {
		return nil, errors.New("slack: no bot token")
	}
	if cfg.SigningSecret == "" && cfg.AppToken == "" {
		return nil, errors.New("slack: a signing secret (HTTP) or an app token (Socket Mode) is needed")
	}
	a := &Adapter{
		cfg:   cfg,
		flows: f,
		api:   newClient(cfg),
		now:   cfg.Clock,
		log:   cfg.Log,
		users: map[string]cachedUser{}, dms: map[string]string{},
		bg: make(chan struct{}, maxBackground),
		// Marking questions answered may use 20 of chat.update's 50+ a
		// minute (Tier 3), leaving the rest to the outbox's card updates.
		cosmetic: rate.NewLimiter(rate.Limit(20.0/60), 5),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.ctx, a.end = context.WithCancel(context.Background())
	return a, nil
}

// newClient returns a Web API client. It never retries by itself: a 429
// comes back as *slackapi.RateLimitedError for the outbox to reschedule.
func newClient(cfg Config) *slackapi.Client {
	opts := []slackapi.Option{}
	if cfg.APIURL != "" {
		opts = append(opts, slackapi.OptionAPIURL(cfg.APIURL))
	}
	if cfg.AppToken != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(cfg.AppToken))
	}
	return slackapi.New(cfg.BotToken, append(opts, slackapi.OptionHTTPClient(apiClient))...)
}

// apiClient keeps connections to Slack open for reuse: the default keeps
// two, so a busy server would open (and TLS-handshake) a connection for
// most calls.
var apiClient = &http.Client{
	Timeout: 30 * time.Second,
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		return t
	}(),
}

// Close ends the work still running after acks and waits for it. Call it
// once the HTTP server and Socket Mode have stopped.
func (a *Adapter) Close() error {
	a.end()
	a.wg.Wait()
	return nil
}

// later runs fn after the ack, at most maxBackground at a time; when that
// many are busy, fn is dropped with a warning rather than piling up.
func (a *Adapter) later(what string, fn func(ctx context.Context)) {
	if fn == nil {
		return
	}
	select {
	case a.bg <- struct{}{}:
	default:
		// Counted, and logged at most once a minute: under load this
		// would otherwise be a line per request.
		n := a.dropped.Add(1)
		if now := a.now().UnixNano(); now-a.droppedLog.Load() > int64(time.Minute) {
			a.droppedLog.Store(now)
			a.log.Warn("slack: too busy, dropped background work", "what", what, "dropped", n)
		}
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() { <-a.bg }()
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("slack: panic in background work", "what", what, "panic", fmt.Sprint(p))
			}
		}()
		ctx, cancel := context.WithTimeout(a.ctx, bgTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// user returns the mamori.User for a Slack user id, with language, email
// and name from users.info, cached for ten minutes. When Slack cannot say,
// the user gets Japanese and the request goes on.
func (a *Adapter) user(ctx context.Context, id string) mamori.User { return a.lookup(ctx, id).user }

// person reports whether id is a person (users.info): not a bot, an app
// or a deactivated account. When Slack cannot say, it is taken as one.
func (a *Adapter) person(ctx context.Context, id string) bool {
	// Within a form's three seconds, beside the actor's own lookup: a
	// Slack too slow to say is taken as saying a person.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return !a.lookup(ctx, id).notPerson
}

// lookup is user id as users.info gave it, asked at most every userTTL.
func (a *Adapter) lookup(ctx context.Context, id string) cachedUser {
	now := a.now()
	a.mu.Lock()
	c, ok := a.users[id]
	a.mu.Unlock()
	if ok && now.Sub(c.at) < userTTL && now.Sub(c.at) >= 0 {
		return c
	}
	u := mamori.User{Platform: mamori.PlatformSlack, ID: id, Lang: mamori.JA}
	notPerson := false
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	info, err := a.api.GetUserInfoContext(ctx, id)
	at := now
	var refused slackapi.SlackErrorResponse
	if errors.As(err, &refused) && refused.Err == "user_not_found" {
		notPerson = true // no one: a typed or stale id
	}
	if err != nil {
		a.log.Warn("slack: users.info failed; using Japanese", "user", id, "err", err)
		// Asked again in a while, not at each of their clicks: while
		// Slack is down or answers 429, every request would wait for it.
		at = now.Add(userRetry - userTTL)
	} else {
		u.Lang = mamori.LangFromLocale(info.Locale)
		u.Email = info.Profile.Email
		u.Name = firstNonEmpty(info.Profile.DisplayName, info.Profile.RealName, info.RealName, info.Name)
		notPerson = info.IsBot || info.IsAppUser || info.Deleted || info.ID == "USLACKBOT"
	}
	a.mu.Lock()
	if len(a.users) > 10000 {
		for k, v := range a.users {
			if now.Sub(v.at) >= userTTL {
				delete(a.users, k)
			}
		}
	}
	c = cachedUser{user: u, at: at, notPerson: notPerson}
	a.users[id] = c
	a.mu.Unlock()
	return c
}

// CheckToken asks Slack (auth.test) whether the bot token is good, and
// keeps the bot's user id. Its error is Slack's refusal of the token; a
// Slack that cannot be reached is only logged (the first request tries
// again).
func (a *Adapter) CheckToken(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	res, err := a.api.AuthTestContext(ctx)
	var refused slackapi.SlackErrorResponse
	switch {
	case errors.As(err, &refused) && tokenRefused[refused.Err]:
		return fmt.Errorf("SLACK_BOT_TOKEN was refused by Slack (auth.test: %s): copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions, and reinstall the app if it was removed", refused.Err)
	case err != nil:
		a.log.Warn("slack: auth.test failed at start; the first request tries again", "err", err)
		return nil
	}
	a.mu.Lock()
	a.botID = res.UserID
	a.mu.Unlock()
	return nil
}

// tokenRefused are auth.test's errors that say the token itself is bad
// (others, such as internal_error, may pass).
var tokenRefused = map[string]bool{"invalid_auth": true, "not_authed": true, "token_revoked": true, "token_expired": true,
	"account_inactive": true, "no_permission": true, "invalid_token": true}

// botUserID returns the bot's own user id, asking auth.test once.
func (a *Adapter) botUserID(ctx context.Context) string {
	a.mu.Lock()
	id := a.botID
	a.mu.Unlock()
	if id != "" {
		return id
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	res, err := a.api.AuthTestContext(ctx)
	if err != nil {
		a.log.Warn("slack: auth.test failed", "err", err)
		return ""
	}
	a.mu.Lock()
	a.botID = res.UserID
	a.mu.Unlock()
	return res.UserID
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
