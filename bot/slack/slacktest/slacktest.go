// Package slacktest is a loopback fake of the Slack Web API for tests. It
// speaks Slack's wire format — form-encoded or JSON bodies, a Bearer token,
// {"ok":true,...} or {"ok":false,"error":"..."} answers, HTTP 429 with
// Retry-After — for the methods Mamori calls, and records every call.
//
// On request it also behaves like Slack under load: it enforces Slack's
// rate limits (Enforce) and fails a share of calls (SetStorm).
//
// It also plays Slack's side of Socket Mode for several clients at once:
// up to MaxSocketConnections connections, envelopes spread over them,
// redelivery of what is not acknowledged in time, disconnect messages.
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
	"slices"
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
	usergroups map[string]UserGroup // by id (usergroups.go)

	// What channels show, and the response_urls handed out (respond.go).
	history map[string][]Message
	changed chan struct{}
	hooks   map[string]*responseHook
	hookSeq int

	// Socket Mode, under mu.
	sockets    map[int]*socketConn // open connections, by number
	socketSeq  int                 // connections that said hello
	refusals   int                 // connections refused: too many
	rr         int                 // round-robin position
	envSeq     int
	envelopes  map[string]*envelope
	deliveries []Delivery
	acks       map[string][]ack // every acknowledgement, in order
	redeliver  time.Duration    // 0: no redelivery
	retries    int
	grace      time.Duration // from a disconnect message to the close
	socketsSet chan struct{} // closed and replaced when sockets change
	closed     bool
}

// New starts a fake on 127.0.0.1 that accepts token and stops it when the
// test ends.
func New(tb testing.TB, token string) *Server {
	tb.Helper()
	s := &Server{
		Token:      token,
		AppToken:   "xapp-test",
		users:      map[string]User{},
		fail:       map[string][]*failure{},
		notify:     make(chan struct{}, 1),
		channels:   map[string]bool{},
		sockets:    map[int]*socketConn{},
		envelopes:  map[string]*envelope{},
		acks:       map[string][]ack{},
		redeliver:  AckTimeout,
		retries:    MaxRetries,
		grace:      DisconnectGrace,
		socketsSet: make(chan struct{}),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/api/"
	tb.Cleanup(func() {
		s.closeSockets()
		s.srv.Close()
	})
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

// Recover forgets the failures still queued for method (Fail,
// RateLimit, ServerError): its next call succeeds.
func (s *Server) Recover(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fail, method)
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
	if id, ok := strings.CutPrefix(r.URL.Path, "/actions/"); ok {
		s.serveResponse(w, r, id)
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

	reply := s.reply(&c)
	if c.Method == "chat.postMessage" || c.Method == "chat.update" {
		s.keep(&c, reply)
	}
	s.answer(w, &c, http.StatusOK, reply)
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

	case "usergroups.list", "usergroups.users.list":
		return s.userGroupsReply(c)

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

// Socket Mode, as Slack runs it for one app
// (https://docs.slack.dev/apis/events-api/using-socket-mode): each
// apps.connections.open gives a WebSocket URL; Slack keeps up to
// MaxSocketConnections connections open at once and refuses another with
// a disconnect message, reason too_many_websockets; it sends each
// envelope on one open connection; an envelope not acknowledged in time
// comes again, with retry_attempt counted up, on another connection when
// there is one; a disconnect message (refresh_requested, warning) tells a
// client to open a new connection before Slack closes this one.
const (
	// MaxSocketConnections is how many Socket Mode connections an app may
	// have open at once.
	MaxSocketConnections = 10
	// AckTimeout is how long the fake waits for an envelope's
	// acknowledgement before sending it again (Slack: about 3 seconds).
	AckTimeout = 3 * time.Second
	// MaxRetries is how many times an envelope is sent again before the
	// fake gives up on it, as Slack does.
	MaxRetries = 3
	// DisconnectGrace is how long a connection stays open after its
	// disconnect message (Slack's warning comes about 10 seconds ahead).
	DisconnectGrace = 10 * time.Second
)

// Delivery is one sending of an envelope on a Socket Mode connection.
type Delivery struct {
	EnvelopeID string
	Type       string
	// Conn is the connection it went out on: connections are numbered
	// from 1 in the order they said hello.
	Conn int
	// Attempt is its retry_attempt: 0 the first time. Reason is its
	// retry_reason.
	Attempt int
	Reason  string
	// Lost is set when the connection was closed or the write failed:
	// the client never saw this sending.
	Lost bool
	At   time.Time
}

type ack struct {
	payload json.RawMessage
	conn    int
}

type envelope struct {
	id, typ string
	payload json.RawMessage
	attempt int // retry_attempt of the last sending
	conn    int // connection of the last sending
	timer   *time.Timer
}

// socketConn is one open Socket Mode connection.
type socketConn struct {
	n       int
	ws      *websocket.Conn
	wmu     sync.Mutex // serialises writes
	leaving bool       // sent a disconnect: no more envelopes, under Server.mu
}

func (c *socketConn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

// SetRedelivery sets how long an envelope may go unacknowledged before it
// is sent again, and how many times it is; after <= 0 turns redelivery
// off. The default is AckTimeout and MaxRetries.
func (s *Server) SetRedelivery(after time.Duration, retries int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redeliver, s.retries = after, retries
}

// SetDisconnectGrace sets how long a connection told to leave stays open
// before the fake closes it; the default is DisconnectGrace.
func (s *Server) SetDisconnectGrace(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grace = d
}

// upgrader accepts any origin: clients send one of their own.
var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// serveSocket is a Socket Mode WebSocket: it says hello (or refuses a
// connection too many), keeps the connection alive with pings, and
// records the acknowledgements that come back on it.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	c := &socketConn{ws: ws}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.sockets) >= MaxSocketConnections {
		s.refusals++
		s.mu.Unlock()
		c.write(map[string]any{"type": "disconnect", "reason": "too_many_websockets", "debug_info": map[string]any{"host": "slacktest"}})
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		return
	}
	s.socketSeq++
	c.n = s.socketSeq
	// Registered before hello, so that an envelope sent once the client
	// saw hello finds the connection.
	s.sockets[c.n] = c
	open := len(s.sockets)
	s.socketsChanged()
	s.mu.Unlock()
	defer s.dropSocket(c)
	if err := c.write(map[string]any{"type": "hello", "num_connections": open,
		"connection_info": map[string]any{"app_id": "A0MAMORI"},
		"debug_info":      map[string]any{"host": "slacktest", "build_number": 1, "approximate_connection_time": 18060}}); err != nil {
		return
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
				if ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)) != nil {
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
		if err := ws.ReadJSON(&res); err != nil {
			return
		}
		if res.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		s.acks[res.EnvelopeID] = append(s.acks[res.EnvelopeID], ack{payload: res.Payload, conn: c.n})
		if e := s.envelopes[res.EnvelopeID]; e != nil && e.timer != nil {
			e.timer.Stop()
			e.timer = nil
		}
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
}

// socketsChanged wakes whoever waits for a connection; s.mu is held.
func (s *Server) socketsChanged() {
	close(s.socketsSet)
	s.socketsSet = make(chan struct{})
}

func (s *Server) dropSocket(c *socketConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sockets[c.n] == c {
		delete(s.sockets, c.n)
		s.socketsChanged()
	}
}

// closeSockets stops redelivery and closes every connection: the test is
// over.
func (s *Server) closeSockets() {
	s.mu.Lock()
	s.closed = true
	for _, e := range s.envelopes {
		if e.timer != nil {
			e.timer.Stop()
			e.timer = nil
		}
	}
	var open []*socketConn
	for _, c := range s.sockets {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open {
		c.ws.Close()
	}
}

// routable returns the open connections not told to leave, in order;
// s.mu is held.
func (s *Server) routable() []*socketConn {
	var out []*socketConn
	for _, c := range s.sockets {
		if !c.leaving {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *socketConn) int { return a.n - b.n })
	return out
}

// pick returns the next connection round-robin, another than avoid when
// there is one, or nil when none is open; s.mu is held.
func (s *Server) pick(avoid int) *socketConn {
	open := s.routable()
	for range len(open) {
		c := open[s.rr%len(open)]
		s.rr++
		if c.n != avoid || len(open) == 1 {
			return c
		}
	}
	return nil
}

// Connections returns the numbers of the connections envelopes go to:
// open and not told to leave.
func (s *Server) Connections() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ns []int
	for _, c := range s.routable() {
		ns = append(ns, c.n)
	}
	return ns
}

// Opened returns how many connections said hello so far.
func (s *Server) Opened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.socketSeq
}

// Refused returns how many connections were refused as one too many.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refusals
}

// WaitConnections waits until exactly n connections take envelopes and
// returns their numbers; it fails the test after timeout.
func (s *Server) WaitConnections(tb testing.TB, n int, timeout time.Duration) []int {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		open, changed := s.routable(), s.socketsSet
		s.mu.Unlock()
		if len(open) == n {
			return s.Connections()
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("slacktest: %d Socket Mode connections after %s, want %d", len(open), timeout, n)
			return nil
		}
	}
}

// SendEnvelope sends a Socket Mode request of type typ ("events_api",
// "interactive", "slash_commands") carrying payload on the next open
// connection, round-robin, once one is open, and returns its envelope id.
// Unless acknowledged within the redelivery time it is sent again.
func (s *Server) SendEnvelope(tb testing.TB, typ string, payload any) string {
	tb.Helper()
	return s.send(tb, 0, typ, payload)
}

// SendEnvelopeOn is SendEnvelope on connection conn, even one told to
// leave or already closed: then the sending is lost, as Slack's would be,
// and only redelivery brings the envelope to the client.
func (s *Server) SendEnvelopeOn(tb testing.TB, conn int, typ string, payload any) string {
	tb.Helper()
	return s.send(tb, conn, typ, payload)
}

func (s *Server) send(tb testing.TB, conn int, typ string, payload any) string {
	tb.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		tb.Fatalf("slacktest: envelope payload: %v", err)
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		var c *socketConn
		switch {
		case conn > s.socketSeq || conn < 0:
			s.mu.Unlock()
			tb.Fatalf("slacktest: no Socket Mode connection %d", conn)
		case conn > 0:
			c = s.sockets[conn]
			if c == nil {
				c = &socketConn{n: conn} // closed: the sending is lost
			}
		default:
			c = s.pick(0)
		}
		if c != nil {
			s.envSeq++
			e := &envelope{id: fmt.Sprintf("env-%04d", s.envSeq), typ: typ, payload: raw}
			s.envelopes[e.id] = e
			s.mu.Unlock()
			s.deliver(e, c, "")
			return e.id
		}
		changed := s.socketsSet
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatal("slacktest: no Socket Mode connection")
		}
	}
}

// deliver sends e on c (a closed connection has no ws: the sending is
// lost) and arms its redelivery.
func (s *Server) deliver(e *envelope, c *socketConn, reason string) {
	s.mu.Lock()
	e.conn = c.n
	d := Delivery{EnvelopeID: e.id, Type: e.typ, Conn: c.n, Attempt: e.attempt, Reason: reason, At: time.Now()}
	msg := map[string]any{"type": e.typ, "envelope_id": e.id, "payload": e.payload,
		"accepts_response_payload": e.typ != "events_api", "retry_attempt": e.attempt, "retry_reason": reason}
	i := len(s.deliveries)
	s.deliveries = append(s.deliveries, d)
	s.arm(e)
	s.mu.Unlock()
	if c.ws == nil || c.write(msg) != nil {
		s.mu.Lock()
		s.deliveries[i].Lost = true
		s.mu.Unlock()
	}
}

// arm starts e's redelivery timer, unless acknowledged or out of
// retries; s.mu is held.
func (s *Server) arm(e *envelope) {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	if len(s.acks[e.id]) > 0 || s.closed || s.redeliver <= 0 || e.attempt >= s.retries {
		return
	}
	e.timer = time.AfterFunc(s.redeliver, func() { s.timeout(e) })
}

// timeout sends e again, unacknowledged after the redelivery time, on
// another connection when there is one; with none open, it waits.
func (s *Server) timeout(e *envelope) {
	s.mu.Lock()
	if len(s.acks[e.id]) > 0 || s.closed {
		s.mu.Unlock()
		return
	}
	c := s.pick(e.conn)
	if c == nil {
		e.timer = time.AfterFunc(50*time.Millisecond, func() { s.timeout(e) })
		s.mu.Unlock()
		return
	}
	e.attempt++
	s.mu.Unlock()
	s.deliver(e, c, "timeout")
}

// Resend sends an envelope again at once, acknowledged or not, with
// retry_attempt counted up, on another connection than its last when
// there is one — as Slack does when an acknowledgement is lost on the way
// — and returns the connection it went to.
func (s *Server) Resend(tb testing.TB, envelopeID string) int {
	tb.Helper()
	s.mu.Lock()
	e := s.envelopes[envelopeID]
	if e == nil {
		s.mu.Unlock()
		tb.Fatalf("slacktest: no envelope %s", envelopeID)
	}
	c := s.pick(e.conn)
	if c == nil {
		s.mu.Unlock()
		tb.Fatalf("slacktest: no Socket Mode connection to resend %s on", envelopeID)
	}
	e.attempt++
	s.mu.Unlock()
	s.deliver(e, c, "timeout")
	return c.n
}

// Disconnect sends a disconnect message with reason ("refresh_requested",
// "warning", "link_disabled") on connection conn: no envelope goes to it
// any more, and the fake closes it after the disconnect grace unless the
// client does first.
func (s *Server) Disconnect(tb testing.TB, conn int, reason string) {
	tb.Helper()
	s.mu.Lock()
	c := s.sockets[conn]
	if c == nil {
		s.mu.Unlock()
		tb.Fatalf("slacktest: Socket Mode connection %d is not open", conn)
	}
	c.leaving = true
	grace := s.grace
	s.socketsChanged()
	s.mu.Unlock()
	if err := c.write(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "slacktest"}}); err != nil {
		tb.Errorf("slacktest: disconnect on %d: %v", conn, err)
	}
	time.AfterFunc(grace, func() {
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, reason), time.Now().Add(time.Second))
		c.ws.Close()
	})
}

// Drop closes connection conn at once, without a word, as a network
// failure would.
func (s *Server) Drop(tb testing.TB, conn int) {
	tb.Helper()
	s.mu.Lock()
	c := s.sockets[conn]
	s.mu.Unlock()
	if c == nil {
		tb.Fatalf("slacktest: Socket Mode connection %d is not open", conn)
	}
	c.ws.Close()
}

// Deliveries returns the sendings of the given envelopes, or of all when
// none are given, in order.
func (s *Server) Deliveries(envelopeIDs ...string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for _, d := range s.deliveries {
		if len(envelopeIDs) == 0 || contains(envelopeIDs, d.EnvelopeID) {
			out = append(out, d)
		}
	}
	return out
}

// Ack returns the first acknowledgement of an envelope and whether it
// came.
func (s *Server) Ack(envelopeID string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	as := s.acks[envelopeID]
	if len(as) == 0 {
		return nil, false
	}
	return as[0].payload, true
}

// AckConns returns the connections each acknowledgement of an envelope
// came on, in order: an envelope sent twice may be acknowledged twice.
func (s *Server) AckConns(envelopeID string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ns []int
	for _, a := range s.acks[envelopeID] {
		ns = append(ns, a.conn)
	}
	return ns
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
