// Package teamstest is a loopback fake of the Microsoft services a Teams
// bot talks to, for tests: the Bot Connector (post, update, create a
// conversation, read a member), the Entra ID token endpoint of a
// single-tenant bot, and the Bot Framework's OpenID metadata and signing
// keys — its own RSA keys, with which it signs the activities it sends
// the bot, as Teams does. It records every call.
package teamstest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// Identity of the fake's tenant and channel.
const (
	Tenant    = "00000000-0000-4000-8000-0000000000aa"
	ChannelID = "msteams"
	Issuer    = "https://api.botframework.com"
	Scope     = "https://api.botframework.com/.default"
)

// Options configure the fake bot registration. With no AppID the
// Connector wants no token (a local emulator).
type Options struct {
	AppID, Password string
	// Forget keeps no record of the activities posted (a load test).
	Forget bool
}

// Member is a person in the fake tenant.
type Member struct {
	ID          string // the 29:… id
	AadObjectID string
	Name        string
	Email       string
	Locale      string // e.g. "ja-JP"
	// Installed says the person has Mamori installed, so a 1:1 chat can
	// be created with them.
	Installed bool
}

// Conv is a conversation an activity is in.
type Conv struct {
	ID          string
	Type        string // "personal" or "channel"
	TeamID      string
	TeamName    string
	ChannelName string
}

// Activity is one call the bot made to the Connector.
type Activity struct {
	Method       string // POST or PUT
	Conversation string
	ID           string // the activity id the fake gave, or the one updated
	Body         map[string]any
	Auth         string
}

// Card returns the activity's first Adaptive Card, or nil.
func (a Activity) Card() map[string]any {
	atts, _ := a.Body["attachments"].([]any)
	for _, at := range atts {
		m, _ := at.(map[string]any)
		if m["contentType"] == "application/vnd.microsoft.card.adaptive" {
			c, _ := m["content"].(map[string]any)
			return c
		}
	}
	return nil
}

// JSON is the activity as JSON text, for searching.
func (a Activity) JSON() string {
	b, _ := json.Marshal(a.Body)
	return string(b)
}

// Texts lists every text a person reads in the activity, in order.
func (a Activity) Texts() []string {
	var out []string
	if s, _ := a.Body["text"].(string); s != "" {
		out = append(out, s)
	}
	return append(out, Texts(a.Card())...)
}

// Texts lists the texts of a card: text blocks, facts, button titles,
// input labels and choices.
func Texts(c any) []string {
	var out []string
	var walk func(v any, facts bool)
	walk = func(v any, facts bool) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range []string{"text", "title", "value", "label", "altText"} {
				// Only a fact's value is shown; an input's or a choice's is not.
				if s, ok := x[k].(string); ok && s != "" && (k != "value" || facts) {
					out = append(out, s)
				}
			}
			for _, k := range []string{"body", "items", "facts", "actions", "choices", "columns", "inlines"} {
				walk(x[k], k == "facts")
			}
		case []any:
			for _, e := range x {
				walk(e, facts)
			}
		}
	}
	walk(c, false)
	return out
}

type key struct {
	kid          string
	priv         *rsa.PrivateKey
	endorsements []string
	published    bool
}

// Fake is the three services on loopback.
type Fake struct {
	tb   testing.TB
	opts Options

	// ServiceURL is the Connector's base, as activities carry it.
	ServiceURL  string
	TokenURL    string
	MetadataURL string

	connector, login, openid *httptest.Server

	mu          sync.Mutex
	keys        []*key
	current     *key
	issued      map[string]bool
	tokenDown   bool
	tokenCalls  int
	metaCalls   int
	keysCalls   int
	members     map[string]Member // by 29: id and by object id
	activities  []Activity
	created     []string // users conversations were created with
	seq         int
	failNext    map[string]int // "POST" or "PUT" → status to answer once
	retryAfter  int
	memberCalls int
}

// New starts the fake; it stops when the test ends.
func New(tb testing.TB, opts Options) *Fake {
	tb.Helper()
	f := &Fake{tb: tb, opts: opts, issued: map[string]bool{}, members: map[string]Member{}, failNext: map[string]int{}}
	f.connector = httptest.NewServer(http.HandlerFunc(f.serveConnector))
	f.login = httptest.NewServer(http.HandlerFunc(f.serveLogin))
	f.openid = httptest.NewServer(http.HandlerFunc(f.serveOpenID))
	tb.Cleanup(func() {
		f.connector.Close()
		f.login.Close()
		f.openid.Close()
	})
	f.ServiceURL = f.connector.URL + "/teams/"
	f.TokenURL = f.login.URL + "/" + Tenant + "/oauth2/v2.0/token"
	f.MetadataURL = f.openid.URL + "/v1/.well-known/openidconfiguration"
	f.RotateKey(ChannelID)
	return f
}

// AddMember adds a person to the tenant.
func (f *Fake) AddMember(m Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members[m.ID] = m
	if m.AadObjectID != "" {
		f.members[m.AadObjectID] = m
	}
}

// newKey makes an RSA key; published keys are in the JWKS.
func (f *Fake) newKey(published bool, endorsements []string) *key {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.tb.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	k := &key{kid: fmt.Sprintf("kid-%d", f.seq), priv: priv, endorsements: endorsements, published: published}
	f.keys = append(f.keys, k)
	return k
}

// RotateKey publishes a new signing key, endorsed for endorsements, and
// signs with it from now on. It returns its kid.
func (f *Fake) RotateKey(endorsements ...string) string {
	k := f.newKey(true, endorsements)
	f.mu.Lock()
	f.current = k
	f.mu.Unlock()
	return k.kid
}

// UnpublishedKey makes a key that is not in the JWKS (yet): tokens
// signed with it name an unknown kid until Publish.
func (f *Fake) UnpublishedKey(endorsements ...string) string {
	return f.newKey(false, endorsements).kid
}

// Publish puts key kid in the JWKS.
func (f *Fake) Publish(kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.kid == kid {
			k.published = true
		}
	}
}

// Claims is what a token says; Claims() gives a valid one.
type Claims struct {
	Issuer, Audience, ServiceURL string
	Expires, NotBefore           time.Time
	// Kid names the signing key; ForgeKey signs with a fresh key of its
	// own under that kid (a bad signature).
	Kid      string
	ForgeKey bool
}

// Claims returns valid claims for an activity to the bot, now.
func (f *Fake) Claims() Claims {
	f.mu.Lock()
	kid := f.current.kid
	f.mu.Unlock()
	return Claims{Issuer: Issuer, Audience: f.opts.AppID, ServiceURL: f.ServiceURL,
		Expires: time.Now().Add(time.Hour), NotBefore: time.Now().Add(-time.Minute), Kid: kid}
}

// Sign makes a token with c.
func (f *Fake) Sign(c Claims) string {
	f.mu.Lock()
	var priv *rsa.PrivateKey
	for _, k := range f.keys {
		if k.kid == c.Kid {
			priv = k.priv
		}
	}
	f.mu.Unlock()
	if priv == nil || c.ForgeKey {
		var err error
		if priv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			f.tb.Fatal(err)
		}
	}
	mc := jwt.MapClaims{"iss": c.Issuer, "aud": c.Audience, "exp": c.Expires.Unix(), "nbf": c.NotBefore.Unix()}
	if c.ServiceURL != "" {
		mc["serviceurl"] = c.ServiceURL
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, mc)
	t.Header["kid"] = c.Kid
	s, err := t.SignedString(priv)
	if err != nil {
		f.tb.Fatal(err)
	}
	return s
}

// Token is a valid token for an activity now.
func (f *Fake) Token() string { return f.Sign(f.Claims()) }

// SetTokenDown makes the token endpoint drop every connection.
func (f *Fake) SetTokenDown(down bool) {
	f.mu.Lock()
	f.tokenDown = down
	f.mu.Unlock()
}

// FailNext makes the next call with method (POST or PUT) to the
// Connector answer status (429 with Retry-After: 1).
func (f *Fake) FailNext(method string, status int) {
	f.mu.Lock()
	f.failNext[method] = status
	f.mu.Unlock()
}

// Calls counts the calls: "token", "metadata", "keys", "member".
func (f *Fake) Calls(what string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch what {
	case "token":
		return f.tokenCalls
	case "metadata":
		return f.metaCalls
	case "keys":
		return f.keysCalls
	case "member":
		return f.memberCalls
	}
	return 0
}

// Created lists the users 1:1 chats were created with.
func (f *Fake) Created() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.created...)
}

// Activities lists the calls to conversation conv ("" for all).
func (f *Fake) Activities(conv string) []Activity {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Activity
	for _, a := range f.activities {
		if conv == "" || a.Conversation == conv || strings.HasPrefix(a.Conversation, conv+";") {
			out = append(out, a)
		}
	}
	return out
}

// Wait waits up to 10 s for an activity to conv, from the from-th on,
// that match accepts, and returns it and its index.
func (f *Fake) Wait(tb testing.TB, conv string, from int, what string, match func(Activity) bool) (Activity, int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		as := f.Activities(conv)
		for i := from; i < len(as); i++ {
			if match(as[i]) {
				return as[i], i
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, a := range as[min(from, len(as)):] {
				got = append(got, a.Method+" "+a.Conversation+" "+strings.Join(a.Texts(), " | "))
			}
			tb.Fatalf("no activity to %s with %s after 10 s; since #%d:\n%s", conv, what, from, strings.Join(got, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PersonalConv is the id of the bot's 1:1 chat with member id.
func PersonalConv(id string) string { return "a:1" + strings.TrimPrefix(id, "29:") }

func (f *Fake) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if f.opts.AppID == "" {
		return h == ""
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	return ok && f.issued[tok]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": code}})
}

func (f *Fake) serveConnector(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/teams/v3/conversations")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !f.authorized(r) {
		apiError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			apiError(w, http.StatusBadRequest, "BadSyntax")
			return
		}
	}
	f.mu.Lock()
	if st := f.failNext[r.Method]; st != 0 && path != "" {
		delete(f.failNext, r.Method)
		f.mu.Unlock()
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		apiError(w, st, "Injected")
		return
	}
	f.mu.Unlock()
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && path == "":
		f.create(w, in)
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "activities":
		f.mu.Lock()
		f.seq++
		id := fmt.Sprintf("1700000000%06d", f.seq)
		if !f.opts.Forget {
			f.activities = append(f.activities, Activity{Method: "POST", Conversation: parts[0], ID: id, Body: in, Auth: r.Header.Get("Authorization")})
		}
		f.mu.Unlock()
		writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	case r.Method == http.MethodPut && len(parts) == 3 && parts[1] == "activities":
		f.mu.Lock()
		found := false
		for _, a := range f.activities {
			if a.ID == parts[2] && a.Method == "POST" {
				found = true
			}
		}
		if found {
			f.activities = append(f.activities, Activity{Method: "PUT", Conversation: parts[0], ID: parts[2], Body: in, Auth: r.Header.Get("Authorization")})
		}
		f.mu.Unlock()
		if !found {
			apiError(w, http.StatusNotFound, "ActivityNotFoundInConversation")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": parts[2]})
	case r.Method == http.MethodGet && len(parts) == 3 && parts[1] == "members":
		f.mu.Lock()
		f.memberCalls++
		m, ok := f.members[parts[2]]
		f.mu.Unlock()
		if !ok {
			apiError(w, http.StatusNotFound, "MemberNotFoundInConversation")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": m.ID, "name": m.Name, "aadObjectId": m.AadObjectID,
			"email": m.Email, "userPrincipalName": m.Email, "tenantId": Tenant})
	default:
		apiError(w, http.StatusNotFound, "NotFound")
	}
}

func (f *Fake) create(w http.ResponseWriter, in map[string]any) {
	members, _ := in["members"].([]any)
	if len(members) != 1 || in["tenantId"] != Tenant {
		apiError(w, http.StatusBadRequest, "BadArgument")
		return
	}
	m0, _ := members[0].(map[string]any)
	id, _ := m0["id"].(string)
	f.mu.Lock()
	m, ok := f.members[id]
	f.created = append(f.created, id)
	f.mu.Unlock()
	if !ok || !m.Installed {
		apiError(w, http.StatusForbidden, "Forbidden")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": PersonalConv(m.ID)})
}

func (f *Fake) serveLogin(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenCalls++
	down := f.tokenDown
	f.mu.Unlock()
	if down {
		// Drop the connection: what an unreachable endpoint looks like.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/"+Tenant+"/oauth2/v2.0/token" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	r.ParseForm()
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != Scope {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("client_id") != f.opts.AppID || r.PostForm.Get("client_secret") != f.opts.Password {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	f.mu.Lock()
	f.seq++
	tok := fmt.Sprintf("token-%d", f.seq)
	f.issued[tok] = true
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

func (f *Fake) serveOpenID(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/.well-known/openidconfiguration":
		f.mu.Lock()
		f.metaCalls++
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"issuer": Issuer, "jwks_uri": f.openid.URL + "/v1/.well-known/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"}, "token_endpoint_auth_methods_supported": []string{"private_key_jwt"}})
	case "/v1/.well-known/keys":
		f.mu.Lock()
		f.keysCalls++
		var keys []any
		for _, k := range f.keys {
			if !k.published {
				continue
			}
			keys = append(keys, map[string]any{"kty": "RSA", "use": "sig", "kid": k.kid,
				"n":            base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
				"e":            base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
				"endorsements": k.endorsements})
		}
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	default:
		http.NotFound(w, r)
	}
}
