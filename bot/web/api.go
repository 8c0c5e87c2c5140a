package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mamori-oss/mamori"
)

// This file is the sandbox's Slack: the part of Slack's Web API the
// adapter and its Sender call (https://docs.slack.dev/reference/methods),
// with Slack's wire format — form-encoded or JSON requests with a Bearer
// token, {"ok":true,…} or {"ok":false,"error":"…"} answers — served on a
// loopback port of its own. What it is asked to post, update, show to one
// person, open as a modal or publish as App Home, it keeps in memory for
// the page to show. A click's response_url, the upload of a file and its
// sharing work as Slack's do.

// Identity of the sandbox's app and workspace.
const (
	BotUserID = "UMAMORIBOT"
	BotID     = "BMAMORI"
	TeamID    = "TSANDBOX"
	AppID     = "AMAMORI"
	teamName  = "mamori-sandbox"
)

// Slack's limits the workspace keeps to, as Slack does.
const (
	maxMessageBlocks = 50
	maxViewBlocks    = 100
	responseURLUses  = 5
	responseURLLife  = 30 * time.Minute
	// Slack gives a trigger 3 seconds; the sandbox allows more, as a
	// busy laptop running the tests beside is no slower Slack.
	triggerLife = 10 * time.Second
	// keepMessages is how many messages a conversation keeps in memory.
	keepMessages = 400
	maxFileBytes = 20 << 20
)

// message is one message as a conversation shows it.
type message struct {
	TS     string          `json:"ts"`
	User   string          `json:"user"` // who posted it: a person, or BotUserID
	Text   string          `json:"text"`
	Blocks json.RawMessage `json:"blocks,omitempty"`
	Thread string          `json:"thread_ts,omitempty"`
	// To is the one person who sees an ephemeral message, or "".
	To     string    `json:"-"`
	Edited bool      `json:"edited,omitempty"`
	Files  []*file   `json:"files,omitempty"`
	At     time.Time `json:"at"` // on the demo clock
}

// view is a modal or an App Home as Slack holds it.
type view struct {
	ID   string
	User string
	JSON map[string]any
	// Errors are the messages under inputs from a response_action
	// "errors", by block id.
	Errors map[string]string
}

// file is an upload: the bot's chart, or what a person attached.
type file struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Title    string `json:"title,omitempty"`
	Alt      string `json:"alt,omitempty"`
	Mimetype string `json:"mimetype"`
	User     string `json:"-"`
	data     []byte
	length   int
	shared   bool
}

type trigger struct {
	user string
	at   time.Time
}

type hook struct {
	channel, ts, user string
	issued            time.Time
	uses              int
}

// workspace holds what Slack would: conversations, views, files.
type workspace struct {
	token string
	dir   *Directory
	now   mamori.Clock // the demo clock, for what the page shows

	mu       sync.Mutex
	base     string // http://127.0.0.1:port, once listening
	lang     mamori.Lang
	convs    map[string][]*message // by channel id: C… or D…
	modals   map[string][]*view    // by person: the stack of open modals
	homes    map[string]*view      // by person
	triggers map[string]trigger
	hooks    map[string]*hook
	files    map[string]*file
	seq      int64
	start    int64
	version  int64
	changed  chan struct{}
}

func newWorkspace(token string, dir *Directory, now mamori.Clock, lang mamori.Lang) *workspace {
	return &workspace{token: token, dir: dir, now: now, lang: lang, convs: map[string][]*message{},
		modals: map[string][]*view{}, homes: map[string]*view{}, triggers: map[string]trigger{},
		hooks: map[string]*hook{}, files: map[string]*file{}, start: time.Now().Unix(), changed: make(chan struct{}),
		version: 1}
}

// changedLocked wakes the page's feeds; w.mu is held.
func (w *workspace) changedLocked() {
	w.version++
	close(w.changed)
	w.changed = make(chan struct{})
}

// nextTSLocked returns a message timestamp later than every earlier one;
// w.mu is held.
func (w *workspace) nextTSLocked() string {
	w.seq++
	return fmt.Sprintf("%d.%06d", w.start+w.seq/1000000, w.seq%1000000)
}

func (w *workspace) nextID(prefix string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return fmt.Sprintf("%s%08d", prefix, w.seq)
}

// addLocked appends m to channel, keeping the last keepMessages; w.mu is
// held.
func (w *workspace) addLocked(channel string, m *message) {
	msgs := append(w.convs[channel], m)
	if len(msgs) > keepMessages {
		msgs = append([]*message(nil), msgs[len(msgs)-keepMessages:]...)
	}
	w.convs[channel] = msgs
	w.changedLocked()
}

func (w *workspace) findLocked(channel, ts string) *message {
	for _, m := range w.convs[channel] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// dmOf returns the DM channel of the app with user.
func dmOf(user string) string { return "D" + strings.TrimPrefix(user, "U") }

// userOfDM returns the person whose DM with the app channel is, or "".
func (w *workspace) userOfDM(channel string) string {
	if !strings.HasPrefix(channel, "D") {
		return ""
	}
	for _, p := range w.dir.People {
		if dmOf(p.ID) == channel {
			return p.ID
		}
	}
	return ""
}

// channelID resolves what a caller names a conversation by: a channel id
// or name, a DM id, or a person's id (a post to it lands in the DM).
func (w *workspace) channelID(ch string) (string, bool) {
	if _, ok := w.dir.Person(ch); ok {
		return dmOf(ch), true
	}
	if c, ok := w.dir.Channel(ch); ok {
		return c.ID, true
	}
	if w.userOfDM(ch) != "" {
		return ch, true
	}
	return "", false
}

// newTrigger returns a trigger_id for a person's click, as Slack puts in
// an interaction: valid a few seconds, for one views.open.
func (w *workspace) newTrigger(user string) string {
	b := make([]byte, 8)
	rand.Read(b)
	id := fmt.Sprintf("%d.%s.%s", time.Now().Unix(), strings.TrimPrefix(TeamID, "T"), hex.EncodeToString(b))
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for k, t := range w.triggers {
		if now.Sub(t.at) > time.Minute {
			delete(w.triggers, k)
		}
	}
	w.triggers[id] = trigger{user: user, at: now}
	return id
}

// newHook returns a response_url for a click on message ts in channel by
// user.
func (w *workspace) newHook(channel, ts, user string) string {
	b := make([]byte, 12)
	rand.Read(b)
	id := TeamID + "/" + hex.EncodeToString(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for k, h := range w.hooks {
		if now.Sub(h.issued) > responseURLLife {
			delete(w.hooks, k)
		}
	}
	w.hooks[id] = &hook{channel: channel, ts: ts, user: user, issued: now}
	return w.base + "/actions/" + id
}

// call is one Web API request's parameters: form fields or a JSON body.
type call struct {
	form url.Values
	json map[string]any
}

func (c call) get(key string) string {
	if c.form != nil {
		return c.form.Get(key)
	}
	v, ok := c.json[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func errBody(code string) map[string]any { return map[string]any{"ok": false, "error": code} }

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// ServeHTTP answers the Web API under /api/, response_urls under
// /actions/ and file uploads under /upload/.
func (w *workspace) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/actions/"):
		w.serveHook(rw, r, strings.TrimPrefix(r.URL.Path, "/actions/"))
		return
	case strings.HasPrefix(r.URL.Path, "/upload/"):
		w.serveUpload(rw, r, strings.TrimPrefix(r.URL.Path, "/upload/"))
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(rw, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(rw, "read error", http.StatusBadRequest)
		return
	}
	var c call
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ct == "application/json" {
		c.json = map[string]any{}
		if len(bytes.TrimSpace(body)) > 0 && json.Unmarshal(body, &c.json) != nil {
			answer(rw, http.StatusOK, errBody("invalid_json"))
			return
		}
	} else {
		if c.form, err = url.ParseQuery(string(body)); err != nil {
			answer(rw, http.StatusOK, errBody("invalid_form_data"))
			return
		}
		if token == "" {
			token = c.form.Get("token")
		}
	}
	if token == "" {
		answer(rw, http.StatusOK, errBody("not_authed"))
		return
	}
	if token != w.token {
		answer(rw, http.StatusOK, errBody("invalid_auth"))
		return
	}
	answer(rw, http.StatusOK, w.method(method, c))
}

func (w *workspace) method(name string, c call) map[string]any {
	switch name {
	case "auth.test":
		return map[string]any{"ok": true, "url": "https://" + teamName + ".slack.com/", "team": teamName, "user": "mamori",
			"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID}
	case "users.info":
		if c.get("user") == BotUserID {
			return map[string]any{"ok": true, "user": map[string]any{"id": BotUserID, "team_id": TeamID, "name": "mamori",
				"real_name": "Mamori", "is_bot": true, "profile": map[string]any{"real_name": "Mamori", "display_name": "Mamori"}}}
		}
		p, ok := w.dir.Person(c.get("user"))
		if !ok {
			return errBody("user_not_found")
		}
		u := w.userJSON(p)
		if c.get("include_locale") == "true" {
			u["locale"] = w.locale()
		}
		return map[string]any{"ok": true, "user": u}
	case "users.lookupByEmail":
		email := c.get("email")
		for _, p := range w.dir.People {
			if p.Email != "" && strings.EqualFold(p.Email, email) {
				return map[string]any{"ok": true, "user": w.userJSON(p)}
			}
		}
		return errBody("users_not_found")
	case "conversations.open":
		users := c.get("users")
		if _, ok := w.dir.Person(users); !ok || strings.Contains(users, ",") {
			return errBody("user_not_found")
		}
		return map[string]any{"ok": true, "channel": map[string]any{"id": dmOf(users)}}
	case "chat.postMessage", "chat.postEphemeral", "chat.update":
		return w.chat(name, c)
	case "views.open", "views.publish", "views.update", "views.push":
		return w.views(name, c)
	case "files.getUploadURLExternal":
		return w.uploadURL(c)
	case "files.completeUploadExternal":
		return w.completeUpload(c)
	}
	return errBody("unknown_method")
}

func (w *workspace) locale() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lang == mamori.EN {
		return "en-US"
	}
	return "ja-JP"
}

func (w *workspace) userJSON(p Person) map[string]any {
	return map[string]any{"id": p.ID, "team_id": TeamID, "name": p.Handle, "real_name": p.Handle, "is_bot": false,
		"tz": "Asia/Tokyo", "profile": map[string]any{"real_name": p.Handle, "display_name": p.Handle, "email": p.Email}}
}

// blocksOK checks a message's blocks as Slack does: a JSON array of at
// most max blocks.
func blocksOK(raw string, max int) (json.RawMessage, bool) {
	if raw == "" {
		return nil, true
	}
	var list []map[string]any
	if json.Unmarshal([]byte(raw), &list) != nil || len(list) > max {
		return nil, false
	}
	if len(list) == 0 {
		return nil, true
	}
	return json.RawMessage(raw), true
}

func (w *workspace) chat(method string, c call) map[string]any {
	ch, ok := w.channelID(c.get("channel"))
	if !ok {
		return errBody("channel_not_found")
	}
	text := c.get("text")
	blocks, ok := blocksOK(c.get("blocks"), maxMessageBlocks)
	switch {
	case !ok:
		return errBody("invalid_blocks")
	case text == "" && blocks == nil:
		return errBody("no_text")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch method {
	case "chat.update":
		m := w.findLocked(ch, c.get("ts"))
		if m == nil || m.User != BotUserID {
			return errBody("message_not_found")
		}
		m.Text, m.Blocks, m.Edited = text, blocks, true
		w.changedLocked()
		return map[string]any{"ok": true, "channel": ch, "ts": m.TS, "text": text}
	case "chat.postEphemeral":
		user := c.get("user")
		if _, ok := w.dir.Person(user); !ok {
			return errBody("user_not_found")
		}
		ts := w.nextTSLocked()
		w.addLocked(ch, &message{TS: ts, User: BotUserID, Text: text, Blocks: blocks, Thread: c.get("thread_ts"), To: user, At: w.now()})
		return map[string]any{"ok": true, "message_ts": ts}
	}
	ts := w.nextTSLocked()
	m := &message{TS: ts, User: BotUserID, Text: text, Blocks: blocks, At: w.now()}
	if th := c.get("thread_ts"); th != "" && w.findLocked(ch, th) != nil {
		m.Thread = th
	}
	w.addLocked(ch, m)
	return map[string]any{"ok": true, "channel": ch, "ts": ts,
		"message": map[string]any{"type": "message", "text": text, "bot_id": BotID, "user": BotUserID, "ts": ts}}
}

func (w *workspace) views(method string, c call) map[string]any {
	var v map[string]any
	if err := json.Unmarshal([]byte(c.get("view")), &v); err != nil || v == nil {
		return errBody("invalid_arguments")
	}
	blocks, _ := v["blocks"].([]any)
	if len(blocks) > maxViewBlocks {
		return errBody("invalid_arguments")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch method {
	case "views.publish":
		user := c.get("user_id")
		if _, ok := w.dir.Person(user); !ok {
			return errBody("user_not_found")
		}
		vw := w.homes[user]
		if vw == nil {
			w.seq++
			vw = &view{ID: fmt.Sprintf("VH%08d", w.seq), User: user}
			w.homes[user] = vw
		}
		v["id"] = vw.ID
		vw.JSON = v
		w.changedLocked()
		return map[string]any{"ok": true, "view": v}
	case "views.update":
		id := c.get("view_id")
		for _, stack := range w.modals {
			for _, vw := range stack {
				if vw.ID == id {
					v["id"] = id
					vw.JSON, vw.Errors = v, nil
					w.changedLocked()
					return map[string]any{"ok": true, "view": v}
				}
			}
		}
		return errBody("not_found")
	}
	t, ok := w.triggers[c.get("trigger_id")]
	if !ok || time.Since(t.at) > triggerLife {
		return errBody("expired_trigger_id")
	}
	delete(w.triggers, c.get("trigger_id"))
	if method == "views.push" && len(w.modals[t.user]) == 0 {
		return errBody("not_found")
	}
	if method == "views.open" && len(w.modals[t.user]) > 0 {
		// Slack opens a new modal over whatever was there.
		w.modals[t.user] = nil
	}
	w.seq++
	vw := &view{ID: fmt.Sprintf("VM%08d", w.seq), User: t.user, JSON: v}
	v["id"] = vw.ID
	w.modals[t.user] = append(w.modals[t.user], vw)
	w.changedLocked()
	return map[string]any{"ok": true, "view": v}
}

// serveHook answers a POST to a response_url, as Slack does: up to five
// uses within 30 minutes; replace_original or delete_original act on the
// clicked message; otherwise a new message, seen by the clicker alone
// unless response_type is in_channel.
func (w *workspace) serveHook(rw http.ResponseWriter, r *http.Request, id string) {
	var c call
	c.json = map[string]any{}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil || json.Unmarshal(body, &c.json) != nil {
		answer(rw, http.StatusBadRequest, errBody("invalid_payload"))
		return
	}
	blocks, ok := blocksOK(c.get("blocks"), maxMessageBlocks)
	if !ok {
		answer(rw, http.StatusBadRequest, errBody("invalid_blocks"))
		return
	}
	text := c.get("text")
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hooks[id]
	switch {
	case h == nil:
		answer(rw, http.StatusNotFound, errBody("no_active_hooks"))
		return
	case time.Since(h.issued) > responseURLLife:
		answer(rw, http.StatusNotFound, errBody("expired_url"))
		return
	case h.uses >= responseURLUses:
		answer(rw, http.StatusNotFound, errBody("used_url"))
		return
	case text == "" && blocks == nil && c.get("delete_original") != "true":
		answer(rw, http.StatusBadRequest, errBody("no_text"))
		return
	}
	h.uses++
	switch {
	case c.get("delete_original") == "true":
		msgs := w.convs[h.channel]
		for i, m := range msgs {
			if m.TS == h.ts {
				w.convs[h.channel] = append(msgs[:i:i], msgs[i+1:]...)
				w.changedLocked()
				break
			}
		}
	case c.get("replace_original") == "true":
		if m := w.findLocked(h.channel, h.ts); m != nil {
			m.Text, m.Blocks, m.Edited = text, blocks, true
			w.changedLocked()
		}
	default:
		m := &message{TS: w.nextTSLocked(), User: BotUserID, Text: text, Blocks: blocks, At: w.now()}
		if th := c.get("thread_ts"); th != "" {
			m.Thread = th
		}
		if c.get("response_type") != "in_channel" {
			m.To = h.user
		}
		w.addLocked(h.channel, m)
	}
	answer(rw, http.StatusOK, map[string]any{"ok": true})
}

// uploadURL answers files.getUploadURLExternal: an upload URL on this
// server.
func (w *workspace) uploadURL(c call) map[string]any {
	name := c.get("filename")
	n, err := strconv.Atoi(c.get("length"))
	if name == "" || err != nil || n <= 0 || n > maxFileBytes {
		return errBody("invalid_arguments")
	}
	id := w.nextID("F")
	w.mu.Lock()
	w.files[id] = &file{ID: id, Name: name, Alt: c.get("alt_txt"), length: n, User: BotUserID, Mimetype: mimeOf(name)}
	base := w.base
	w.mu.Unlock()
	return map[string]any{"ok": true, "upload_url": base + "/upload/" + id, "file_id": id}
}

// serveUpload takes a file's bytes, multipart or raw, and answers as
// Slack's upload service: 200 "OK - <length>".
func (w *workspace) serveUpload(rw http.ResponseWriter, r *http.Request, id string) {
	var data []byte
	var err error
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		if err = r.ParseMultipartForm(maxFileBytes); err == nil {
			f, _, ferr := r.FormFile("file")
			if ferr != nil {
				err = ferr
			} else {
				data, err = io.ReadAll(io.LimitReader(f, maxFileBytes))
				f.Close()
			}
		}
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, maxFileBytes))
	}
	if err != nil {
		http.Error(rw, "bad upload", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	f := w.files[id]
	if f != nil && !f.shared {
		f.data = data
	}
	w.mu.Unlock()
	if f == nil {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(rw, "OK - %d", len(data))
}

// completeUpload answers files.completeUploadExternal: the files are
// shared in channel_id (in thread_ts), with initial_comment, as one
// message of the bot's.
func (w *workspace) completeUpload(c call) map[string]any {
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(c.get("files")), &list); err != nil || len(list) == 0 {
		return errBody("invalid_arguments")
	}
	ch := ""
	if raw := c.get("channel_id"); raw != "" {
		var ok bool
		if ch, ok = w.channelID(raw); !ok {
			return errBody("channel_not_found")
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var files []*file
	var out []map[string]any
	for _, x := range list {
		f := w.files[x.ID]
		if f == nil || f.shared || f.data == nil {
			return errBody("file_not_found")
		}
		files = append(files, f)
	}
	for i, f := range files {
		f.Title, f.shared = list[i].Title, true
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	if ch != "" {
		m := &message{TS: w.nextTSLocked(), User: BotUserID, Text: c.get("initial_comment"), Files: files, At: w.now()}
		if th := c.get("thread_ts"); th != "" && w.findLocked(ch, th) != nil {
			m.Thread = th
		}
		w.addLocked(ch, m)
	}
	return map[string]any{"ok": true, "files": out}
}

func mimeOf(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "application/octet-stream"
	}
	if t := mime.TypeByExtension(strings.ToLower(name[i:])); t != "" {
		return t
	}
	return "application/octet-stream"
}
