package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// What a conversation shows, and response_url, as Slack has them
// (https://docs.slack.dev/interactivity/handling-user-interaction): a
// block_actions payload carries a response_url that may be used up to
// ResponseURLUses times within ResponseURLLife of the click. A response
// with "replace_original": true replaces the message that was clicked;
// "delete_original": true deletes it; otherwise the response is a new
// message, in the channel for "response_type": "in_channel" and seen by
// the clicker alone when it is "ephemeral" or absent. response_url is no
// Web API method: chat.postMessage's limits do not apply to it.
const (
	ResponseURLUses = 5
	ResponseURLLife = 30 * time.Minute
)

// Message is one message as a channel shows it.
type Message struct {
	TS     string
	Text   string
	Blocks json.RawMessage // nil when the message has none
	// Thread is the ts of the message this one replies to, or "".
	Thread string
	// Ephemeral is set for a response only the clicker sees.
	Ephemeral bool
	// Posted is when the message appeared; Edited when it last changed
	// (chat.update or a response replacing it), or zero.
	Posted, Edited time.Time
	// Via is what made it: "chat.postMessage" or "response_url".
	Via string
}

// HasBlock reports whether the message has a block whose block_id
// begins with prefix.
func (m Message) HasBlock(prefix string) bool {
	var bs []struct {
		BlockID string `json:"block_id"`
	}
	if json.Unmarshal(m.Blocks, &bs) != nil {
		return false
	}
	for _, b := range bs {
		if strings.HasPrefix(b.BlockID, prefix) {
			return true
		}
	}
	return false
}

// responseHook is one response_url handed out.
type responseHook struct {
	channel, ts, user string
	issued            time.Time
	uses              int
}

// Messages returns what channel shows now, oldest first: messages posted
// and responses, as edited since, without those deleted. A DM is named
// "D" + the user's id, as a post to the user's id lands there.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.history[channel]...)
}

// Changed returns a channel closed at the next change to any channel's
// messages. Take it before reading Messages so no change is missed.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// changedLocked wakes those waiting on Changed. Callers hold s.mu.
func (s *Server) changedLocked() {
	if s.changed != nil {
		close(s.changed)
	}
	s.changed = make(chan struct{})
}

// ResponseURL returns a response_url for a click on the message ts in
// channel by user, as Slack puts in a block_actions payload.
func (s *Server) ResponseURL(channel, ts, user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hooks == nil {
		s.hooks = map[string]*responseHook{}
	}
	s.hookSeq++
	id := fmt.Sprintf("%s/%d/%s", TeamID, s.hookSeq, randomish(s.hookSeq))
	s.hooks[id] = &responseHook{channel: channel, ts: ts, user: user, issued: time.Now()}
	return s.srv.URL + "/actions/" + id
}

// ExpireResponseURLs makes every response_url handed out so far expired.
func (s *Server) ExpireResponseURLs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hooks {
		h.issued = time.Time{}
	}
}

// randomish makes a hook id look like Slack's without a random source, so
// runs repeat.
func randomish(n int) string {
	return fmt.Sprintf("%024x", uint64(n)*0x9e3779b97f4a7c15)
}

// keep records in the channel history what a successful chat.postMessage
// or chat.update made.
func (s *Server) keep(c *Call, body map[string]any) {
	if ok, _ := body["ok"].(bool); !ok {
		return
	}
	ch, _ := body["channel"].(string)
	ts, _ := body["ts"].(string)
	if ch == "" || ts == "" {
		return
	}
	var blocks json.RawMessage
	if b := c.Get("blocks"); b != "" {
		blocks = json.RawMessage(b)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.Method {
	case "chat.postMessage":
		s.addMessageLocked(ch, Message{TS: ts, Text: c.Get("text"), Blocks: blocks, Thread: c.Get("thread_ts"), Posted: now, Via: c.Method})
	case "chat.update":
		s.editLocked(ch, ts, c.Get("text"), blocks, now)
	}
}

func (s *Server) addMessageLocked(ch string, m Message) {
	if s.history == nil {
		s.history = map[string][]Message{}
	}
	s.history[ch] = append(s.history[ch], m)
	s.changedLocked()
}

func (s *Server) editLocked(ch, ts, text string, blocks json.RawMessage, at time.Time) bool {
	for i := range s.history[ch] {
		if m := &s.history[ch][i]; m.TS == ts {
			m.Text, m.Blocks, m.Edited = text, blocks, at
			s.changedLocked()
			return true
		}
	}
	return false
}

// serveResponse answers a POST to a response_url.
func (s *Server) serveResponse(w http.ResponseWriter, r *http.Request, id string) {
	c := Call{Method: "response_url", At: time.Now()}
	if r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	c.JSON = map[string]any{}
	if err := json.Unmarshal(body, &c.JSON); err != nil {
		s.answer(w, &c, http.StatusBadRequest, errBody("invalid_payload"))
		return
	}
	if d := s.delay(); d > 0 {
		time.Sleep(d)
	}
	if hit, _ := s.stormHit(c.Method); hit != 0 {
		c.Status = http.StatusServiceUnavailable
		s.record(c)
		http.Error(w, "<html>service unavailable</html>", http.StatusServiceUnavailable)
		return
	}
	var blocks json.RawMessage
	if b := c.Get("blocks"); b != "" {
		blocks = json.RawMessage(b)
		var list []map[string]any
		if json.Unmarshal(blocks, &list) != nil || len(list) > 50 {
			s.answer(w, &c, http.StatusBadRequest, errBody("invalid_blocks"))
			return
		}
	}
	text := c.Get("text")
	now := time.Now()
	s.mu.Lock()
	h := s.hooks[id]
	switch {
	case h == nil:
		s.mu.Unlock()
		s.answer(w, &c, http.StatusNotFound, errBody("no_active_hooks"))
		return
	case c.At.Sub(h.issued) > ResponseURLLife:
		s.mu.Unlock()
		s.answer(w, &c, http.StatusNotFound, errBody("expired_url"))
		return
	case h.uses >= ResponseURLUses:
		s.mu.Unlock()
		s.answer(w, &c, http.StatusNotFound, errBody("used_url"))
		return
	case text == "" && blocks == nil && c.Get("delete_original") != "true":
		s.mu.Unlock()
		s.answer(w, &c, http.StatusBadRequest, errBody("no_text"))
		return
	}
	h.uses++
	switch {
	case c.Get("delete_original") == "true":
		msgs := s.history[h.channel]
		for i := range msgs {
			if msgs[i].TS == h.ts {
				s.history[h.channel] = append(msgs[:i:i], msgs[i+1:]...)
				s.changedLocked()
				break
			}
		}
	case c.Get("replace_original") == "true":
		s.editLocked(h.channel, h.ts, text, blocks, now)
	default:
		s.tsCount++
		ts := fmt.Sprintf("1700000000.%06d", s.tsCount)
		s.addMessageLocked(h.channel, Message{TS: ts, Text: text, Blocks: blocks, Thread: c.Get("thread_ts"),
			Ephemeral: c.Get("response_type") != "in_channel", Posted: now, Via: c.Method})
	}
	s.mu.Unlock()
	s.answer(w, &c, http.StatusOK, map[string]any{"ok": true})
}
