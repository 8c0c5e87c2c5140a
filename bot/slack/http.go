package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Request verification failures.
var (
	ErrMissingHeaders = errors.New("slack: missing signature headers")
	ErrStale          = errors.New("slack: request timestamp outside the 5-minute window")
	ErrBadSignature   = errors.New("slack: bad signature")
)

// Verify checks that body, with headers h, was signed by Slack with secret
// (HMAC-SHA256 of "v0:<timestamp>:<body>") at a time within MaxSkew of now,
// before or after.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	ts, sig := h.Get("X-Slack-Request-Timestamp"), h.Get("X-Slack-Signature")
	if ts == "" || sig == "" || secret == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrStale
	}
	// Compare in seconds: no time.Duration overflow for absurd stamps.
	if d := now.Unix() - sec; d > int64(MaxSkew/time.Second) || d < -int64(MaxSkew/time.Second) {
		return ErrStale
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	want := "v0=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return ErrBadSignature
	}
	return nil
}

// Paths the adapter serves.
const (
	PathCommands      = "/slack/commands"
	PathInteractivity = "/slack/interactivity"
	PathEvents        = "/slack/events"
)

// ServeHTTP answers Slack's requests on PathCommands, PathInteractivity
// and PathEvents. Every request is verified with the signing secret; a
// request that is not gets 401 and nothing more.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("slack: panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(p))
			if !rw.wrote {
				http.Error(rw, "internal error", http.StatusInternalServerError)
			}
		}
	}()
	a.serve(rw, r)
}

func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) {
	var route func(*http.Request, []byte) reply
	switch {
	case strings.HasSuffix(r.URL.Path, PathCommands):
		route = a.httpCommand
	case strings.HasSuffix(r.URL.Path, PathInteractivity):
		route = a.httpInteraction
	case strings.HasSuffix(r.URL.Path, PathEvents):
		route = a.httpEvent
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	if err := Verify(a.cfg.SigningSecret, r.Header, body, a.now()); err != nil {
		a.log.Warn("slack: request refused", "path", r.URL.Path, "reason", err, "remote", r.RemoteAddr)
		http.Error(w, "request not verified", http.StatusUnauthorized)
		return
	}
	if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
		a.log.Info("slack: retried delivery", "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
	}
	res := route(r, body)
	if res.status >= 400 && res.status < 500 {
		// A verified request Mamori cannot use: say why (a fixed
		// reason, never what the request held).
		a.log.Warn("slack: verified request refused", "path", r.URL.Path, "status", res.status, "reason", res.text)
	}
	writeReply(w, res)
	a.later(r.URL.Path, res.after)
}

func (a *Adapter) httpCommand(r *http.Request, body []byte) reply {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return bad("malformed slash command: not form-encoded")
	}
	return a.command(r.Context(), slashCommand{
		Command:   form.Get("command"),
		Text:      form.Get("text"),
		UserID:    form.Get("user_id"),
		ChannelID: form.Get("channel_id"),
		TriggerID: form.Get("trigger_id"),
	})
}

func (a *Adapter) httpInteraction(r *http.Request, body []byte) reply {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return bad("malformed interaction: not form-encoded")
	}
	payload := form.Get("payload")
	if payload == "" {
		return bad("malformed interaction: no payload")
	}
	return a.interaction(r.Context(), []byte(payload))
}

func (a *Adapter) httpEvent(r *http.Request, body []byte) reply {
	return a.events(r.Context(), body, false)
}

func writeReply(w http.ResponseWriter, res reply) {
	switch {
	case res.body != nil:
		b, err := json.Marshal(res.body)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(res.status)
		_, _ = w.Write(b)
	case res.status == http.StatusOK:
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, res.text, res.status)
	}
}

// statusWriter remembers whether a response was started, so a panic
// after it does not write a second header.
type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}
