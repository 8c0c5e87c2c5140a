// Package web is Mamori's sandbox: the real product in a browser with no
// Slack workspace and no credentials. It is the Slack adapter (bot/slack)
// talking to a Slack of its own — the part of Slack's Web API the adapter
// calls, served on a loopback port, keeping what it is asked to show in
// memory — and a page that shows that Slack: the employee's DM and App
// Home, the supervisors' channel and HR's, rendering the very Block Kit
// the adapter produced.
//
// What a person does on the page becomes what Slack would send: a typed
// message an Events API message.im event, a click a block_actions
// payload with its response_url and trigger_id, a modal's submit a
// view_submission, a slash command or a shortcut its payload — signed
// with a signing secret made for this process and handed to the
// adapter's own handler. So every click and message goes through the
// same adapter, flows, store and outbox as in Slack; nothing is played.
package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
)

// Config is what the sandbox needs, as plain values.
type Config struct {
	// Flows is the conversation engine the adapter hands inputs to.
	Flows slack.Flows
	// Policy holds the adapter's texts.
	Policy *mamori.Policy
	// Directory is the workspace: the people and channels of the
	// organisation the flows were given (Directory.Org).
	Directory *Directory
	// Lang is everyone's language at the start (the page switches it).
	Lang mamori.Lang
	// Location is the time zone the page shows times in.
	Location *time.Location
	// Command is the slash command, such as /kasuhara.
	Command string
	// Clock is the demo clock the flows and the worker read. Advance
	// moves it forward and returns the new time. Drain delivers what is
	// due and waits, a few seconds at most, for what is held back for a
	// channel's pace: it runs before the clock moves (a message still
	// waiting must not look a day old) and after (what came due). Without
	// Advance the page has no clock control.
	Clock   mamori.Clock
	Advance func(d time.Duration) time.Time
	Drain   func(ctx context.Context)
	Log     *slog.Logger
}

// Sandbox serves the page and runs the adapter against its own Slack.
type Sandbox struct {
	cfg    Config
	ws     *workspace
	secret string
	apiURL string
	srv    *http.Server
	sender *slack.Sender
	// acts serialises what people do on the page, as one Slack client
	// sends one request at a time.
	acts sync.Mutex

	mu      sync.Mutex
	adapter *slack.Adapter
	closed  bool
	wg      sync.WaitGroup // the sandbox's Slack serving
	retired sync.WaitGroup // adapters a change of language replaced, closing
}

var (
	_ http.Handler = (*Sandbox)(nil)
	_ http.Handler = (*workspace)(nil)
)

// New starts the sandbox's Slack on a loopback port and the adapter in
// front of it.
func New(cfg Config) (*Sandbox, error) {
	if cfg.Flows == nil || cfg.Policy == nil || cfg.Directory == nil {
		return nil, errors.New("web: flows, policy and directory are needed")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Command == "" {
		cfg.Command = "/kasuhara"
	}
	if cfg.Lang != mamori.EN {
		cfg.Lang = mamori.JA
	}
	s := &Sandbox{cfg: cfg, secret: randomHex(32)}
	s.ws = newWorkspace("xoxb-sandbox-"+randomHex(12), cfg.Directory, cfg.Clock, cfg.Lang)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("web: the sandbox's Slack: %w", err)
	}
	s.ws.base = "http://" + ln.Addr().String()
	s.apiURL = s.ws.base + "/api/"
	s.srv = &http.Server{Handler: s.ws, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("web: the sandbox's Slack stopped", "err", err)
		}
	}()
	s.adapter, err = slack.New(s.slackConfig(), cfg.Flows)
	if err != nil {
		s.srv.Close()
		return nil, err
	}
	// The sandbox's Web API is its own, not Slack's: nothing to pace, and
	// a newcomer would wait a second a card.
	s.sender = slack.NewSender(s.slackConfig(), slack.WithLimits(slack.Limits{}))
	return s, nil
}

func (s *Sandbox) slackConfig() slack.Config {
	return slack.Config{BotToken: s.ws.token, SigningSecret: s.secret, APIURL: s.apiURL,
		Clock: time.Now, Log: s.cfg.Log, Policy: s.cfg.Policy}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}

// Sender is the outbox's Sender for the slack platform: the Slack
// adapter's own, pointed at the sandbox's Slack.
func (s *Sandbox) Sender() *slack.Sender { return s.sender }

// APIURL is the Web API base of the sandbox's Slack, on loopback.
func (s *Sandbox) APIURL() string { return s.apiURL }

// Close stops the adapter and the sandbox's Slack. Call it once the page's
// server has stopped.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	s.closed = true
	a := s.adapter
	s.mu.Unlock()
	err := a.Close()
	s.retired.Wait()
	// Every client of the sandbox's Slack — the page's server, the worker,
	// the adapters — has stopped: nothing is in flight. A graceful
	// Shutdown would only wait, 5 s, on a connection a client dialled and
	// never used.
	s.srv.Close()
	s.wg.Wait()
	return err
}

// setLang makes everyone speak l: users.info answers with l's locale, and
// a new adapter, whose cache of people is empty, asks again.
func (s *Sandbox) setLang(l mamori.Lang) error {
	s.ws.mu.Lock()
	same := s.ws.lang == l
	s.ws.lang = l
	s.ws.changedLocked()
	s.ws.mu.Unlock()
	if same {
		return nil
	}
	a, err := slack.New(s.slackConfig(), s.cfg.Flows)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.adapter
	s.adapter = a
	s.mu.Unlock()
	s.retired.Go(func() { old.Close() })
	return nil
}

// recorder is the response the adapter writes.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// deliver signs body as Slack does (v0, HMAC-SHA256 of
// "v0:<timestamp>:<body>" with the signing secret) and hands it to the
// adapter's handler for path, returning its answer.
func (s *Sandbox) deliver(ctx context.Context, path, contentType string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://slack.invalid"+path, bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(s.secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	req.RemoteAddr = "127.0.0.1:0"
	s.mu.Lock()
	a := s.adapter
	s.mu.Unlock()
	rec := &recorder{h: http.Header{}}
	a.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.body.Bytes()
}

func (s *Sandbox) interact(ctx context.Context, payload map[string]any) (int, []byte) {
	b, err := json.Marshal(payload)
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	return s.deliver(ctx, slack.PathInteractivity, "application/x-www-form-urlencoded", []byte(url.Values{"payload": {string(b)}}.Encode()))
}

func (s *Sandbox) event(ctx context.Context, ev map[string]any) (int, []byte) {
	now := time.Now()
	b, err := json.Marshal(map[string]any{
		"token": "sandbox", "team_id": TeamID, "api_app_id": AppID, "event": ev, "type": "event_callback",
		"event_id": "Ev" + strings.ToUpper(randomHex(8)), "event_time": now.Unix(),
		"authorizations":        []any{map[string]any{"team_id": TeamID, "user_id": BotUserID, "is_bot": true}},
		"is_ext_shared_channel": false,
	})
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	return s.deliver(ctx, slack.PathEvents, "application/json", b)
}

func (s *Sandbox) userObject(p Person) map[string]any {
	return map[string]any{"id": p.ID, "username": p.Handle, "name": p.Handle, "team_id": TeamID}
}

var team = map[string]any{"id": TeamID, "domain": teamName}

// actionTS is a click's action_ts: when, to the microsecond.
func actionTS() string {
	now := time.Now()
	return fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

// ephemeralFrom posts a platform notice (Slackbot's) only p sees.
func (s *Sandbox) ephemeralFrom(channel, user, text string) {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	s.ws.addLocked(channel, &message{TS: s.ws.nextTSLocked(), User: "USLACKBOT", Text: text, To: user, At: s.ws.now()})
}
