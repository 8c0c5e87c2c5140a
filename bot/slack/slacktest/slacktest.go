// Package slacktest is a loopback fake of the Slack Web API for tests. It
// speaks Slack's wire format — form-encoded or JSON bodies, a Bearer token,
// {"ok":true,...} or {"ok":false,"error":"..."} answers, HTTP 429 with
// Retry-After — for the methods Mamori calls, and records every call.
//
// On request it also behaves like Slack under load: it enforces Slack's
// rate limits (Enforce) and fails a share of calls (SetStorm).
package slacktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Identity of the bot the fake answers for in auth.test.
const (
	BotUserID = "UBOT0001"
	BotID     = "BBOT0001"
	TeamID    = "T0000001"
)

// User is a workspace member users.info knows.
type User struct {
	ID       string
	Name     string // the handle
	RealName string
	Email    string
	Locale   string // e.g. "ja-JP", "en-US"
	IsBot    bool
}

// Call is one recorded Web API call.
type Call struct {
	Method string
	// Params holds a form-encoded call's fields; JSON holds a JSON call's
	// body. Get reads either.
	Params url.Values
	JSON   map[string]any
	// Status is the HTTP status the fake answered; Error the ok:false code.
	Status int
	Error  string
	// Reply is the JSON body the fake answered with (the ts it gave a
	// message, the id it gave a view), or nil for an HTTP error.
	Reply map[string]any
	// At is when the call arrived.
	At time.Time
}

// Channel returns the channel a call posted in: for a post to a user's id,
// the DM channel Slack answered with; otherwise the channel parameter.
func (c Call) Channel() string {
	if ch, ok := c.Reply["channel"].(string); ok && ch != "" {
		return ch
	}
	return c.Get("channel")
}

// Get returns the parameter named key as a string: a form field, a JSON
// string, or the JSON encoding of any other JSON value.
func (c Call) Get(key string) string {
	if c.Params != nil {
		return c.Params.Get(key)
	}
	v, ok := c.JSON[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Decode unmarshals the parameter named key (a JSON value or a form field
// holding JSON, like blocks or view) into dst.
func (c Call) Decode(key string, dst any) error {
	s := c.Get(key)
	if s == "" {
		return fmt.Errorf("slacktest: %s has no %q", c.Method, key)
	}
	return json.Unmarshal([]byte(s), dst)
}

type failure struct {
	status     int // 200 with an error code, 429 or 500
	code       string
	retryAfter int
	times      int
}

// Server is the fake Web API. Its zero value is not usable; call New.
type Server struct {
	// URL is the Web API base to hand to a client, with the trailing
	// slash: "http://127.0.0.1:port/api/".
	URL   string
	Token string
	// AppToken is the app-level token apps.connections.open accepts
	// (Socket Mode); "xapp-test" unless changed before use.
	AppToken string

	srv *httptest.Server

	mu       sync.Mutex
	calls    []Call
	users    map[string]User
	fail     map[string][]*failure
	tsCount  int64
	viewSeq  int
	notify   chan struct{}
	channels map[string]bool // channels the fake refuses: channel_not_found

	latency    time.Duration
	limits     *enforcer
	violations map[string]int
	storm      *storm
	files      map[string]*File
	fileOrder  []string
	fileSeq    int

	// Socket Mode.
	conn     *websocket.Conn
	connMu   sync.Mutex // serialises writes to conn
	envSeq   int
	acks     map[string]json.RawMessage
	socketUp chan struct{}
}

// New starts a fake on 127.0.0.1 that accepts token and stops it when the
// test ends.
func New(tb testing.TB, token string) *Server {
	tb.Helper()
	s := &Server{
		Token:    token,
		AppToken: "xapp-test",
		acks:     map[string]json.RawMessage{},
		socketUp: make(chan struct{}),
		users:    map[string]User{},
		fail:     map[string][]*failure{},
		notify:   make(chan struct{}, 1),
		channels: map[string]bool{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/api/"
	tb.Cleanup(s.srv.Close)
	return s
}

// AddUser makes users.info, users.lookupByEmail, conversations.open and
// chat.postMessage to a user id know u.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// Fail makes the next times calls of method answer ok:false with code.
func (s *Server) Fail(method, code string, times int) {
	s.addFailure(method, &failure{status: http.StatusOK, code: code, times: times})
}

// RateLimit makes the next times calls of method answer HTTP 429 with
// Retry-After: after (seconds).
func (s *Server) RateLimit(method string, after, times int) {
	s.addFailure(method, &failure{status: http.StatusTooManyRequests, retryAfter: after, times: times})
}

// ServerError makes the next times calls of method answer HTTP 500.
func (s *Server) ServerError(method string, times int) {
	s.addFailure(method, &failure{status: http.StatusInternalServerError, times: times})
}

// Archive makes posts to channel fail with channel_not_found, as for a
// channel deleted or never joined.
func (s *Server) Archive(channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[channel] = true
}

func (s *Server) addFailure(method string, f *failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method] = append(s.fail[method], f)
}

// Calls returns the recorded calls of the given methods, or of all methods
// when none are given, in order.
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// Reset forgets the recorded calls.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// WaitCalls waits until at least n calls of method were recorded and
// returns them; it fails the test after timeout.
func (s *Server) WaitCalls(tb testing.TB, method string, n int, timeout time.Duration) []Call {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if c := s.Calls(method); len(c) >= n {
			return c
		}
		select {
		case <-s.notify:
		case <-time.After(10 * time.Millisecond):
		case <-deadline.C:
			tb.Fatalf("slacktest: %d %s calls after %s, want %d", len(s.Calls(method)), method, timeout, n)
			return nil
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Sign returns the headers Slack sends with a request signed by secret at
// ts: X-Slack-Request-Timestamp and X-Slack-Signature.
func Sign(secret string, ts time.Time, body []byte) http.Header {
	sec := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + sec + ":"))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", sec)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/socket" {
		s.serveSocket(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/upload/v1/") {
		s.serveUpload(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	c := Call{Method: method, At: time.Now()}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch ct {
	case "application/json":
		c.JSON = map[string]any{}
		if len(bytes.TrimSpace(body)) == 0 {
			break
		}
		if err := json.Unmarshal(body, &c.JSON); err != nil {
			s.answer(w, &c, http.StatusOK, map[string]any{"ok": false, "error": "invalid_json"})
			return
		}
	default:
		c.Params, err = url.ParseQuery(string(body))
		if err != nil {
			s.answer(w, &c, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
			return
		}
		if token == "" {
			token = c.Params.Get("token")
		}
	}
	if method == "apps.connections.open" {
		if token != s.AppToken {
			s.answer(w, &c, http.StatusOK, errBody("invalid_auth"))
			return
		}
		s.answer(w, &c, http.StatusOK, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket"})
		return
	}
	if token != s.Token {
		s.answer(w, &c, http.StatusOK, errBody("invalid_auth"))
		return
	}
	if d := s.delay(); d > 0 {
		time.Sleep(d)
	}

	s.mu.Lock()
	if fs := s.fail[method]; len(fs) > 0 {
		f := fs[0]
		f.times--
		if f.times <= 0 {
			s.fail[method] = fs[1:]
		}
		s.mu.Unlock()
		switch f.status {
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
			s.answer(w, &c, f.status, errBody("ratelimited"))
		case http.StatusInternalServerError:
			c.Status = f.status
			s.record(c)
			http.Error(w, "<html>internal error</html>", f.status)
		default:
			s.answer(w, &c, http.StatusOK, errBody(f.code))
		}
		return
	}
	s.mu.Unlock()

	switch hit, after := s.stormHit(method); hit {
	case 0:
	case -1:
		c.Error = "dropped"
		s.record(c)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		http.Error(w, "dropped", http.StatusBadGateway)
		return
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(after))
		s.answer(w, &c, hit, errBody("ratelimited"))
		return
	default:
		c.Status = hit
		s.record(c)
		http.Error(w, "<html>service unavailable</html>", hit)
		return
	}
	if wait := s.overLimit(&c, c.At); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
		s.answer(w, &c, http.StatusTooManyRequests, errBody("ratelimited"))
		return
	}

	s.answer(w, &c, http.StatusOK, s.reply(&c))
}

func errBody(code string) map[string]any { return map[string]any{"ok": false, "error": code} }

func (s *Server) answer(w http.ResponseWriter, c *Call, status int, body map[string]any) {
	c.Status = status
	c.Reply = body
	if ok, _ := body["ok"].(bool); !ok {
		c.Error, _ = body["error"].(string)
	}
	s.record(*c)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// nextTS returns a message timestamp later than every earlier one.
func (s *Server) nextTS() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tsCount++
	return fmt.Sprintf("1700000000.%06d", s.tsCount)
}

func (s *Server) user(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	return u, ok
}

func (s *Server) refused(channel string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[channel]
}

// reply answers a call that neither failed nor was refused.
func (s *Server) reply(c *Call) map[string]any {
	switch c.Method {
	case "auth.test":
		return map[string]any{"ok": true, "url": "https://test.slack.com/", "team": "Test", "user": "mamori",
			"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID}

	case "users.info":
		u, ok := s.user(c.Get("user"))
		if !ok {
			return errBody("user_not_found")
		}
		out := map[string]any{"id": u.ID, "team_id": TeamID, "name": u.Name, "real_name": u.RealName,
			"is_bot": u.IsBot, "profile": map[string]any{"real_name": u.RealName, "display_name": u.Name, "email": u.Email}}
		if c.Get("include_locale") == "true" && u.Locale != "" {
			out["locale"] = u.Locale
		}
		return map[string]any{"ok": true, "user": out}

	case "conversations.open":
		users := c.Get("users")
		if users == "" || strings.Contains(users, ",") {
			return errBody("invalid_arguments")
		}
		if _, ok := s.user(users); !ok {
			return errBody("user_not_found")
		}
		return map[string]any{"ok": true, "channel": map[string]any{"id": "D" + users}}

	case "users.lookupByEmail":
		email := strings.ToLower(c.Get("email"))
		s.mu.Lock()
		var u User
		found := false
		for _, x := range s.users {
			if email != "" && strings.ToLower(x.Email) == email {
				u, found = x, true
				break
			}
		}
		s.mu.Unlock()
		if !found {
			return errBody("users_not_found")
		}
		return map[string]any{"ok": true, "user": map[string]any{"id": u.ID, "team_id": TeamID, "name": u.Name,
			"real_name": u.RealName, "is_bot": u.IsBot, "profile": map[string]any{"real_name": u.RealName, "email": u.Email}}}

	case "files.getUploadURLExternal":
		return s.getUploadURL(c)

	case "files.completeUploadExternal":
		return s.completeUpload(c)

	case "chat.postMessage", "chat.update", "chat.postEphemeral":
		ch := c.Get("channel")
		if c.Method == "chat.postMessage" && isUserID(ch) {
			// A post to a user's id lands in the app's DM with that user.
			if _, ok := s.user(ch); !ok {
				return errBody("channel_not_found")
			}
			ch = "D" + ch
		}
		switch {
		case ch == "":
			return errBody("channel_not_found")
		case s.refused(ch):
			return errBody("channel_not_found")
		case c.Get("text") == "" && c.Get("blocks") == "":
			return errBody("no_text")
		}
		if b := c.Get("blocks"); b != "" {
			var blocks []map[string]any
			if err := json.Unmarshal([]byte(b), &blocks); err != nil || len(blocks) > 50 {
				return errBody("invalid_blocks")
			}
		}
		switch c.Method {
		case "chat.postEphemeral":
			if c.Get("user") == "" {
				return errBody("user_not_found")
			}
			return map[string]any{"ok": true, "message_ts": s.nextTS()}
		case "chat.update":
			if c.Get("ts") == "" {
				return errBody("message_not_found")
			}
			return map[string]any{"ok": true, "channel": ch, "ts": c.Get("ts"), "text": c.Get("text")}
		}
		return map[string]any{"ok": true, "channel": ch, "ts": s.nextTS(),
			"message": map[string]any{"type": "message", "text": c.Get("text"), "bot_id": BotID, "user": BotUserID}}

	case "views.open", "views.publish":
		if c.Method == "views.open" && c.Get("trigger_id") == "" {
			return errBody("invalid_trigger_id")
		}
		if c.Method == "views.publish" && c.Get("user_id") == "" {
			return errBody("invalid_arguments")
		}
		var view map[string]any
		if err := c.Decode("view", &view); err != nil {
			return errBody("invalid_arguments")
		}
		s.mu.Lock()
		s.viewSeq++
		view["id"] = fmt.Sprintf("V%08d", s.viewSeq)
		s.mu.Unlock()
		return map[string]any{"ok": true, "view": view}
	}
	return errBody("unknown_method")
}

// upgrader accepts any origin: slack-go sends one of its own.
var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// serveSocket is the Socket Mode WebSocket: it says hello, keeps the
// connection alive with pings, and records the acknowledgements.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	s.connMu.Lock()
	err = conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0MAMORI"}, "debug_info": map[string]any{"host": "slacktest"}})
	s.connMu.Unlock()
	if err != nil {
		return
	}
	s.mu.Lock()
	first := s.conn == nil
	s.conn = conn
	s.mu.Unlock()
	if first {
		close(s.socketUp)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.connMu.Lock()
				err := conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
				s.connMu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	for {
		var res struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&res); err != nil {
			return
		}
		s.mu.Lock()
		s.acks[res.EnvelopeID] = res.Payload
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
}

// SendEnvelope sends a Socket Mode request of type typ ("events_api",
// "interactive", "slash_commands") carrying payload, once a client is
// connected, and returns its envelope id.
func (s *Server) SendEnvelope(tb testing.TB, typ string, payload any) string {
	tb.Helper()
	select {
	case <-s.socketUp:
	case <-time.After(10 * time.Second):
		tb.Fatal("slacktest: no Socket Mode connection")
	}
	s.mu.Lock()
	s.envSeq++
	id := fmt.Sprintf("env-%04d", s.envSeq)
	conn := s.conn
	s.mu.Unlock()
	s.connMu.Lock()
	defer s.connMu.Unlock()
	msg := map[string]any{"type": typ, "envelope_id": id, "payload": payload, "accepts_response_payload": typ != "events_api"}
	if typ == "events_api" {
		msg["retry_attempt"] = 0
		msg["retry_reason"] = ""
	}
	if err := conn.WriteJSON(msg); err != nil {
		tb.Fatalf("slacktest: send envelope: %v", err)
	}
	return id
}

// Ack returns the acknowledgement of an envelope and whether it came.
func (s *Server) Ack(envelopeID string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.acks[envelopeID]
	return p, ok
}

// WaitAck waits for the acknowledgement of an envelope and returns its
// payload; it fails the test after timeout.
func (s *Server) WaitAck(tb testing.TB, envelopeID string, timeout time.Duration) json.RawMessage {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p, ok := s.Ack(envelopeID); ok {
			return p
		}
		select {
		case <-s.notify:
		case <-time.After(10 * time.Millisecond):
		}
	}
	tb.Fatalf("slacktest: envelope %s not acknowledged after %s", envelopeID, timeout)
	return nil
}
