package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/infracloudio/msbotbuilder-go/schema"
)

// Path is where the Bot Connector posts activities.
const Path = "/api/messages"

// activity is an incoming activity: msbotbuilder-go's schema, with the
// times kept raw (an emulator may send them in forms time.Time refuses,
// and Mamori reads none of them).
type activity struct {
	schema.Activity
	// ChannelData is kept as it came, read once by teams (schema's would
	// decode it into maps first).
	ChannelData    json.RawMessage `json:"channelData,omitempty"`
	td             *teamsData
	Timestamp      json.RawMessage `json:"timestamp,omitempty"`
	LocalTimestamp json.RawMessage `json:"localTimestamp,omitempty"`
	Expiration     json.RawMessage `json:"expiration,omitempty"`
	// Entities are read for the clientInfo's locale (schema.Entity keeps
	// only the type).
	Entities []struct {
		Type   string `json:"type"`
		Locale string `json:"locale"`
	} `json:"entities,omitempty"`
}

// locale is the sender's locale: the activity's, else its client's; ""
// when Teams did not say.
func (act *activity) locale() string {
	if act.Locale != "" {
		return act.Locale
	}
	for _, e := range act.Entities {
		if e.Type == "clientInfo" && e.Locale != "" {
			return e.Locale
		}
	}
	return ""
}

// reply is the answer to one activity.
type reply struct {
	status int
	body   any // JSON, or nil
	after  func(ctx context.Context)
}

func answer(status int) reply { return reply{status: status} }
func (r reply) then(fn func(context.Context)) reply {
	r.after = fn
	return r
}

// ServeHTTP answers the Bot Connector on Path. Every activity is
// authenticated first: with an app id by its JWT (401 or 403 otherwise,
// 503 when Microsoft's keys cannot be had), without one only from
// loopback and for a loopback serviceUrl.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("teams: panic serving an activity", "panic", fmt.Sprint(p))
			if !rw.wrote {
				http.Error(rw, "internal error", http.StatusInternalServerError)
			}
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if a.val != nil && r.Header.Get("Authorization") == "" {
		a.log.Warn("teams: activity refused", "reason", ErrNoToken, "remote", r.RemoteAddr)
		http.Error(rw, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(rw, "activity too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(rw, "cannot read the activity", http.StatusBadRequest)
		return
	}
	var act activity
	if err := json.Unmarshal(body, &act); err != nil || act.Type == "" {
		http.Error(rw, "malformed activity", http.StatusBadRequest)
		return
	}
	if status, err := a.authenticate(r, &act); err != nil {
		a.log.Warn("teams: activity refused", "reason", err, "remote", r.RemoteAddr, "type", act.Type)
		http.Error(rw, http.StatusText(status), status)
		return
	}
	if a.refusedID(rw, &act) {
		return
	}
	res := a.activity(r.Context(), &act)
	writeReply(rw, res)
	a.later(string(act.Type), res.after)
}

func (a *Adapter) authenticate(r *http.Request, act *activity) (int, error) {
	if a.val == nil {
		if !loopback(r.RemoteAddr) || !loopbackURL(act.ServiceURL) {
			return http.StatusUnauthorized, errors.New("teams: no MICROSOFT_APP_ID: only a local emulator on loopback may post activities")
		}
		return 0, nil
	}
	err := a.val.Validate(r.Context(), r.Header.Get("Authorization"), act.ChannelID, act.ServiceURL)
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, ErrNotAllowed):
		return http.StatusForbidden, err
	case errors.Is(err, ErrKeysUnavailable):
		return http.StatusServiceUnavailable, err
	}
	return http.StatusUnauthorized, err
}

// loopback reports whether a remote address is on this machine.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackURL reports whether a serviceUrl points to this machine: an
// emulator's replies must not leave it.
func loopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

func writeReply(w http.ResponseWriter, res reply) {
	if res.status == 0 {
		res.status = http.StatusOK
	}
	if res.body == nil {
		w.WriteHeader(res.status)
		return
	}
	b, err := json.Marshal(res.body)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(res.status)
	_, _ = w.Write(b)
}

// statusWriter remembers whether a response was started.
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
