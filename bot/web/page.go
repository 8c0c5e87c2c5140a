package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
)

// The page: index.html, its script and its style, embedded.
//
//go:embed static
var static embed.FS

// Paths of the page and its feed.
const (
	PathState  = "/sandbox/state"  // GET: the workspace as one person sees it (long poll)
	PathAct    = "/sandbox/act"    // POST: what a person did
	PathUpload = "/sandbox/upload" // POST: a file a person sends
	pathFiles  = "/files/"
	pathStatic = "/static/"
	// feedWait is how long a feed request waits for a change.
	feedWait = 25 * time.Second
	// actTimeout bounds one act: Slack gives an app 3 seconds; the
	// flows on a slow disk may need more, and the page waits.
	actTimeout = 30 * time.Second
)

// ServeHTTP serves the page at /, its script and style, the feed, and
// what people do on it.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/" || p == "/index.html":
		s.serveStatic(w, r, "static/index.html")
	case strings.HasPrefix(p, pathStatic):
		name := strings.TrimPrefix(p, pathStatic)
		if name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			http.NotFound(w, r)
			return
		}
		s.serveStatic(w, r, "static/"+name)
	case p == PathState:
		s.serveState(w, r)
	case p == PathAct:
		s.serveAct(w, r)
	case p == PathUpload:
		s.serveUpload(w, r)
	case strings.HasPrefix(p, pathFiles):
		s.serveFile(w, r, strings.TrimPrefix(p, pathFiles))
	default:
		http.NotFound(w, r)
	}
}

func (s *Sandbox) serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, err := fs.ReadFile(static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(name[strings.LastIndexByte(name, '.'):])
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	w.Write(b)
}

// sameOrigin refuses what another site's page could send: a request
// that says it comes from elsewhere, or is not JSON (a form posted
// across sites).
func sameOrigin(r *http.Request, wantJSON bool) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if wantJSON {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		return ct == "application/json"
	}
	return true
}

// person returns the person the request acts as (?as= or the act's "as").
func (s *Sandbox) person(id string) (Person, bool) { return s.cfg.Directory.Person(id) }

// State is the workspace as one person sees it: what the page renders.
type State struct {
	Version int64  `json:"version"`
	Lang    string `json:"lang"`
	// Now is the demo clock's time, and Ahead how far it runs ahead of
	// the real time, in minutes.
	Now     string `json:"now"`
	Ahead   int64  `json:"ahead"`
	Clock   bool   `json:"clock"` // the clock can be moved
	Command string `json:"command"`
	Me      string `json:"me"`
	Bot     string `json:"bot"`
	// Cast are the people the page offers first.
	Cast     map[string]string `json:"cast"`
	People   []pagePerson      `json:"people"`
	Channels []pageChannel     `json:"channels"`
	// DM is the person's direct messages with the app; Conversations
	// holds it and every shared channel, by id.
	DM            string                   `json:"dm"`
	Conversations map[string][]pageMessage `json:"conversations"`
	Home          map[string]any           `json:"home"`
	Modal         *pageModal               `json:"modal"`
}

type pagePerson struct {
	Person
	DepartmentName string `json:"department_name,omitempty"`
}

type pageChannel struct {
	Channel
	DepartmentName string `json:"department_name,omitempty"`
}

type pageMessage struct {
	TS        string          `json:"ts"`
	User      string          `json:"user"`
	Text      string          `json:"text"`
	Blocks    json.RawMessage `json:"blocks,omitempty"`
	Thread    string          `json:"thread_ts,omitempty"`
	Ephemeral bool            `json:"ephemeral,omitempty"`
	Edited    bool            `json:"edited,omitempty"`
	Files     []pageFile      `json:"files,omitempty"`
	Time      string          `json:"time"`
}

type pageFile struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	Alt   string `json:"alt,omitempty"`
	URL   string `json:"url"`
	Image bool   `json:"image"`
}

type pageModal struct {
	ID     string            `json:"id"`
	View   map[string]any    `json:"view"`
	Errors map[string]string `json:"errors,omitempty"`
	Depth  int               `json:"depth"`
}

func (s *Sandbox) state(me Person) State {
	ws := s.ws
	org := s.cfg.Directory.Org()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	now := s.cfg.Clock()
	st := State{Version: ws.version, Lang: string(ws.lang), Now: now.In(s.cfg.Location).Format("2006-01-02 15:04 MST"),
		Ahead: int64(now.Sub(time.Now()).Round(time.Minute) / time.Minute), Clock: s.cfg.Advance != nil,
		Command: s.cfg.Command, Me: me.ID, Bot: BotUserID, DM: dmOf(me.ID), Cast: map[string]string{},
		Conversations: map[string][]pageMessage{}}
	st.Cast["employee"], st.Cast["supervisor"], st.Cast["hr"], st.Cast["colleague"] = s.cfg.Directory.Cast()
	deptName := func(id string) string {
		if d, ok := org.Department(id); ok {
			return d.Name.In(ws.lang)
		}
		return ""
	}
	for _, p := range s.cfg.Directory.People {
		st.People = append(st.People, pagePerson{Person: p, DepartmentName: deptName(p.Department)})
	}
	convs := []string{st.DM}
	for _, c := range s.cfg.Directory.Channels {
		st.Channels = append(st.Channels, pageChannel{Channel: c, DepartmentName: deptName(c.Department)})
		convs = append(convs, c.ID)
	}
	for _, ch := range convs {
		out := []pageMessage{}
		for _, m := range ws.convs[ch] {
			if m.To != "" && m.To != me.ID {
				continue
			}
			pm := pageMessage{TS: m.TS, User: m.User, Text: m.Text, Blocks: m.Blocks, Thread: m.Thread,
				Ephemeral: m.To != "", Edited: m.Edited, Time: m.At.In(s.cfg.Location).Format("01/02 15:04")}
			for _, f := range m.Files {
				pm.Files = append(pm.Files, pageFile{ID: f.ID, Name: f.Name, Title: f.Title, Alt: f.Alt,
					URL: pathFiles + f.ID, Image: strings.HasPrefix(f.Mimetype, "image/")})
			}
			out = append(out, pm)
		}
		st.Conversations[ch] = out
	}
	if h := ws.homes[me.ID]; h != nil {
		st.Home = h.JSON
	}
	if stack := ws.modals[me.ID]; len(stack) > 0 {
		top := stack[len(stack)-1]
		st.Modal = &pageModal{ID: top.ID, View: top.JSON, Errors: top.Errors, Depth: len(stack)}
	}
	sort.Slice(st.Channels, func(i, j int) bool { return !st.Channels[i].HR && st.Channels[j].HR })
	return st
}

// serveState answers the feed: the workspace as ?as= sees it, at once
// when it changed since ?since=, else once it does (or after feedWait).
func (s *Sandbox) serveState(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	me, ok := s.person(r.URL.Query().Get("as"))
	if !ok {
		emp, _, _, _ := s.cfg.Directory.Cast()
		if me, ok = s.person(emp); !ok && len(s.cfg.Directory.People) > 0 {
			me = s.cfg.Directory.People[0]
		}
	}
	// Without since (or since=0) the state comes at once.
	since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
	timer := time.NewTimer(feedWait)
	defer timer.Stop()
	for {
		s.ws.mu.Lock()
		v, changed := s.ws.version, s.ws.changed
		s.ws.mu.Unlock()
		if v != since {
			break
		}
		select {
		case <-changed:
			continue
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
		break
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // mentions stay <@U…>, as Slack wrote them
	enc.Encode(s.state(me))
}

// Act is what a person did on the page.
type Act struct {
	As   string `json:"as"`
	Kind string `json:"kind"` // message, action, submit, close, home, shortcut, clock, lang
	// Channel and TS name the message acted on (or written in); View the
	// modal or App Home.
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
	View    string `json:"view,omitempty"`
	// Block and Action name the element clicked; Value a button's value;
	// Selected the options now chosen in a checkbox group or a select.
	Block    string   `json:"block,omitempty"`
	Action   string   `json:"action,omitempty"`
	Value    string   `json:"value,omitempty"`
	Selected []string `json:"selected,omitempty"`
	// State holds the options ticked in each checkbox group of the
	// message, by block id; Values a modal's inputs, by block id (a text
	// input's text is its one value).
	State  map[string][]string `json:"state,omitempty"`
	Values map[string][]string `json:"values,omitempty"`
	Text   string              `json:"text,omitempty"`
	Thread string              `json:"thread_ts,omitempty"`
	// By is how far to move the clock: 3m, 1h, 1d; Lang ja or en.
	By   string `json:"by,omitempty"`
	Lang string `json:"lang,omitempty"`
	// Callback is a shortcut's callback id.
	Callback string `json:"callback,omitempty"`
}

// ActResult is the answer to an act.
type ActResult struct {
	OK bool `json:"ok"`
	// Status is the adapter's HTTP status, when the act reached it.
	Status int `json:"status,omitempty"`
	// Error says why not, in a word: not_found, required, refused…
	Error string `json:"error,omitempty"`
	// Errors are a modal's messages under its inputs, by block id.
	Errors map[string]string `json:"errors,omitempty"`
}

var errNotFound = errors.New("not found")

func (s *Sandbox) serveAct(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !sameOrigin(r, true) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	var a Act
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&a); err != nil {
		http.Error(w, "bad act", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), actTimeout)
	defer cancel()
	res := s.Do(ctx, a, "http://"+r.Host)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !res.OK && res.Status == 0 && res.Error == "bad_request" {
		w.WriteHeader(http.StatusBadRequest)
	}
	json.NewEncoder(w).Encode(res)
}

// Do carries out a: what the person did becomes what Slack would send
// the app. base is the page's own address, for links to files.
func (s *Sandbox) Do(ctx context.Context, a Act, base string) ActResult {
	switch a.Kind {
	case "lang":
		l := mamori.Lang(a.Lang)
		if l != mamori.JA && l != mamori.EN {
			return ActResult{Error: "bad_request"}
		}
		if err := s.setLang(l); err != nil {
			return ActResult{Error: "failed"}
		}
		return ActResult{OK: true}
	case "clock":
		return s.moveClock(ctx, a.By)
	}
	me, ok := s.person(a.As)
	if !ok {
		return ActResult{Error: "bad_request"}
	}
	s.acts.Lock()
	defer s.acts.Unlock()
	switch a.Kind {
	case "message":
		return s.message(ctx, me, a)
	case "action":
		return s.action(ctx, me, a)
	case "submit":
		return s.submit(ctx, me, a)
	case "close":
		s.ws.mu.Lock()
		if stack := s.ws.modals[me.ID]; len(stack) > 0 && stack[len(stack)-1].ID == a.View {
			s.ws.modals[me.ID] = stack[:len(stack)-1]
			s.ws.changedLocked()
		}
		s.ws.mu.Unlock()
		return ActResult{OK: true}
	case "home":
		st, _ := s.event(ctx, map[string]any{"type": "app_home_opened", "user": me.ID, "channel": dmOf(me.ID),
			"tab": "home", "event_ts": actionTS()})
		return ActResult{OK: st == http.StatusOK, Status: st}
	case "shortcut":
		if a.Callback != slack.ShortcutSOS {
			return ActResult{Error: "bad_request"}
		}
		st, _ := s.interact(ctx, map[string]any{"type": "shortcut", "token": "sandbox", "action_ts": actionTS(),
			"team": team, "user": s.userObject(me), "callback_id": a.Callback, "trigger_id": s.ws.newTrigger(me.ID),
			"is_enterprise_install": false, "enterprise": nil})
		return ActResult{OK: st == http.StatusOK, Status: st}
	}
	return ActResult{Error: "bad_request"}
}

// parseBy reads a clock step: Go's durations, and days as "1d".
func parseBy(by string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(by, "d"); ok {
		days, err := strconv.Atoi(n)
		return time.Duration(days) * 24 * time.Hour, err == nil && days > 0 && days <= 366
	}
	d, err := time.ParseDuration(by)
	return d, err == nil && d > 0 && d <= 366*24*time.Hour
}

func (s *Sandbox) moveClock(ctx context.Context, by string) ActResult {
	if s.cfg.Advance == nil {
		return ActResult{Error: "no_clock"}
	}
	d, ok := parseBy(by)
	if !ok {
		return ActResult{Error: "bad_request"}
	}
	// What was said before the jump is delivered before it: a message
	// still waiting for its channel's pace must not look a day old.
	if s.cfg.Drain != nil {
		s.cfg.Drain(ctx)
	}
	// Time passes an hour at a time, and what falls due on the way runs
	// at its hour: a check-in due at 9:00 the next morning is sent then,
	// not held back again because the jump lands in the evening, out of
	// working hours.
	for d > 0 {
		step := min(d, time.Hour)
		d -= step
		s.cfg.Advance(step)
		if s.cfg.Drain != nil {
			s.cfg.Drain(ctx)
		}
	}
	s.ws.mu.Lock()
	s.ws.changedLocked()
	s.ws.mu.Unlock()
	return ActResult{OK: true}
}

// message sends what me typed in channel: in the DM an Events API
// message.im event after the message shows, as Slack does; a slash
// command its payload; in a shared channel it only shows (the app
// subscribes to DMs alone).
func (s *Sandbox) message(ctx context.Context, me Person, a Act) ActResult {
	text := strings.TrimSpace(a.Text)
	if text == "" {
		return ActResult{Error: "bad_request"}
	}
	ch, ok := s.ws.channelID(a.Channel)
	if !ok || (strings.HasPrefix(ch, "D") && ch != dmOf(me.ID)) {
		return ActResult{Error: "not_found"}
	}
	if strings.HasPrefix(text, "/") {
		return s.command(ctx, me, ch, text)
	}
	// Slack escapes &, < and > in the text it sends.
	escaped := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(text)
	s.ws.mu.Lock()
	ts := s.ws.nextTSLocked()
	m := &message{TS: ts, User: me.ID, Text: escaped, At: s.ws.now()}
	if a.Thread != "" && s.ws.findLocked(ch, a.Thread) != nil {
		m.Thread = a.Thread
	}
	s.ws.addLocked(ch, m)
	s.ws.mu.Unlock()
	if !strings.HasPrefix(ch, "D") {
		return ActResult{OK: true}
	}
	ev := map[string]any{"type": "message", "channel": ch, "user": me.ID, "text": escaped, "ts": ts, "event_ts": ts,
		"channel_type": "im", "client_msg_id": randomUUID(), "team": TeamID}
	if m.Thread != "" {
		ev["thread_ts"] = m.Thread
	}
	st, _ := s.event(ctx, ev)
	return ActResult{OK: st == http.StatusOK, Status: st}
}

func randomUUID() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// command sends a slash command as Slack does, form-encoded; its
// acknowledgement shows where it was typed.
func (s *Sandbox) command(ctx context.Context, me Person, ch, text string) ActResult {
	cmd, rest, _ := strings.Cut(text, " ")
	if cmd != s.cfg.Command {
		s.ephemeralFrom(ch, me.ID, fmt.Sprintf("`%s` is not a valid command. / `%s` は有効なコマンドではありません。", cmd, cmd))
		return ActResult{OK: true}
	}
	name := "directmessage"
	if c, ok := s.cfg.Directory.Channel(ch); ok {
		name = c.Name
	}
	form := url.Values{
		"token": {"sandbox"}, "team_id": {TeamID}, "team_domain": {teamName}, "channel_id": {ch}, "channel_name": {name},
		"user_id": {me.ID}, "user_name": {me.Handle}, "command": {cmd}, "text": {strings.TrimSpace(rest)},
		"api_app_id": {AppID}, "is_enterprise_install": {"false"},
		"response_url": {s.ws.newHook(ch, "", me.ID)}, "trigger_id": {s.ws.newTrigger(me.ID)},
	}
	st, body := s.deliver(ctx, slack.PathCommands, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if st != http.StatusOK {
		s.ephemeralFrom(ch, me.ID, fmt.Sprintf("%s failed with the error \"dispatch_failed\" / %s は「dispatch_failed」エラーで失敗しました", cmd, cmd))
		return ActResult{Status: st, Error: "failed"}
	}
	var ack struct {
		ResponseType string          `json:"response_type"`
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
	}
	if json.Unmarshal(body, &ack) == nil && (ack.Text != "" || len(ack.Blocks) > 0) {
		s.ws.mu.Lock()
		m := &message{TS: s.ws.nextTSLocked(), User: BotUserID, Text: ack.Text, Blocks: ack.Blocks, At: s.ws.now()}
		if ack.ResponseType != "in_channel" {
			m.To = me.ID
		}
		s.ws.addLocked(ch, m)
		s.ws.mu.Unlock()
	}
	return ActResult{OK: true, Status: st}
}

// serveUpload takes a file a person sends in their DM: it is shared
// there, and the app gets the message event with subtype file_share.
func (s *Sandbox) serveUpload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !sameOrigin(r, false) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	me, ok := s.person(r.URL.Query().Get("as"))
	if !ok {
		http.Error(w, "who?", http.StatusBadRequest)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFileBytes+1<<20)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		http.Error(w, "no file", http.StatusBadRequest)
		return
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || len(data) == 0 {
		http.Error(w, "bad file", http.StatusBadRequest)
		return
	}
	name := hdr.Filename
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), actTimeout)
	defer cancel()
	s.acts.Lock()
	defer s.acts.Unlock()
	res := s.sendFile(ctx, me, name, data, r.FormValue("text"), "http://"+r.Host)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(res)
}

// sendFile shares a file me sends in their DM and tells the app.
func (s *Sandbox) sendFile(ctx context.Context, me Person, name string, data []byte, text, base string) ActResult {
	if name == "" {
		name = "file"
	}
	ch := dmOf(me.ID)
	id := s.ws.nextID("F")
	f := &file{ID: id, Name: name, Title: name, Mimetype: mimeOf(name), User: me.ID, data: data, length: len(data), shared: true}
	s.ws.mu.Lock()
	s.ws.files[id] = f
	ts := s.ws.nextTSLocked()
	s.ws.addLocked(ch, &message{TS: ts, User: me.ID, Text: text, Files: []*file{f}, At: s.ws.now()})
	s.ws.mu.Unlock()
	link := base + pathFiles + id
	st, _ := s.event(ctx, map[string]any{"type": "message", "subtype": "file_share", "channel": ch, "user": me.ID,
		"text": text, "ts": ts, "event_ts": ts, "channel_type": "im", "upload": true,
		"files": []any{map[string]any{"id": id, "name": name, "title": name, "mimetype": f.Mimetype, "size": len(data),
			"user": me.ID, "permalink": link, "url_private": link}}})
	return ActResult{OK: st == http.StatusOK, Status: st}
}

// serveFile serves an uploaded file's bytes: the bot's charts and what
// people attached.
func (s *Sandbox) serveFile(w http.ResponseWriter, r *http.Request, id string) {
	s.ws.mu.Lock()
	f := s.ws.files[id]
	var data []byte
	if f != nil {
		data = f.data
	}
	s.ws.mu.Unlock()
	if f == nil || data == nil {
		http.NotFound(w, r)
		return
	}
	ct := f.Mimetype
	if !strings.HasPrefix(ct, "image/") || ct == "image/svg+xml" {
		ct = "application/octet-stream"
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(data)
}
