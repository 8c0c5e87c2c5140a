package teams

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/mamori-oss/mamori"
)

// This file is the bot's side of the Bot Connector: tokens from Entra ID
// for a single-tenant bot, and the REST calls Mamori makes — post,
// update in place, create a conversation, read a member. msbotbuilder-go's
// client asks the multi-tenant botframework.com authority (which no
// longer issues tokens to new bots), panics when the token endpoint is
// down, and cannot create conversations or return the ids of what it
// posted.

// BotScope is the scope of tokens for the Bot Connector.
const BotScope = "https://api.botframework.com/.default"

// TokenURL is the Entra ID token endpoint of a single-tenant bot's tenant.
func TokenURL(tenant string) string {
	return "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// ErrTokenUnavailable says the bot could not get a token: the endpoint is
// down, or refused the app's credentials. Messages wait in the outbox.
var ErrTokenUnavailable = errors.New("teams: no token for the Bot Connector")

// Tokens gets the bot's tokens with the client-credentials grant and
// keeps each until a minute before it expires. It is safe for concurrent
// use; one request at a time goes to the endpoint.
type Tokens struct {
	URL, AppID, Password string
	// Scope is what the tokens are for: BotScope when empty; GraphScope
	// for Microsoft Graph (the directory's groups).
	Scope  string
	Client *http.Client
	Clock  mamori.Clock

	fetchMu sync.Mutex
	mu      sync.Mutex
	token   string
	expires time.Time
}

func (t *Tokens) now() time.Time {
	if t.Clock != nil {
		return t.Clock()
	}
	return time.Now()
}

// Token returns a valid token, from the cache when it can.
func (t *Tokens) Token(ctx context.Context) (string, error) {
	if tok, ok := t.cached(); ok {
		return tok, nil
	}
	t.fetchMu.Lock()
	defer t.fetchMu.Unlock()
	if tok, ok := t.cached(); ok {
		return tok, nil
	}
	tok, ttl, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	t.mu.Lock()
	t.token, t.expires = tok, t.now().Add(ttl-time.Minute)
	t.mu.Unlock()
	return tok, nil
}

func (t *Tokens) cached() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.token, t.token != "" && t.now().Before(t.expires)
}

// Forget drops the cached token: the Connector refused it.
func (t *Tokens) Forget() {
	t.mu.Lock()
	t.token = ""
	t.mu.Unlock()
}

func (t *Tokens) fetch(ctx context.Context) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {t.AppID},
		"client_secret": {t.Password}, "scope": {cmp.Or(t.Scope, BotScope)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("%w: token endpoint %q: %v", ErrTokenUnavailable, t.URL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := t.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("%w: token endpoint: %v", ErrTokenUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("%w: token endpoint: %v", ErrTokenUnavailable, err)
	}
	var r struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       string          `json:"error"`
	}
	_ = json.Unmarshal(body, &r)
	if resp.StatusCode != http.StatusOK || r.AccessToken == "" {
		what := resp.Status
		if r.Error != "" {
			// invalid_client: MICROSOFT_APP_PASSWORD or the tenant is wrong.
			what += " " + r.Error
		}
		return "", 0, fmt.Errorf("%w: token endpoint answered %s", ErrTokenUnavailable, what)
	}
	// expires_in is a number, or a string of one from some endpoints.
	secs, _ := strconv.Atoi(strings.Trim(string(r.ExpiresIn), `"`))
	if secs <= 60 {
		secs = 300
	}
	return r.AccessToken, time.Duration(secs) * time.Second, nil
}

// APIError is a Bot Connector call that did not succeed.
type APIError struct {
	Method, Path string
	Status       int
	Code         string // the error's code, e.g. "ConversationNotFound"
	RetryAfter   time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("teams connector %s %s: %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	return s
}

// Connector calls the Bot Connector REST API at an activity's serviceUrl.
// With Tokens nil it sends no Authorization: a local emulator.
type Connector struct {
	Tokens *Tokens
	Client *http.Client
	Log    *slog.Logger
}

// outActivity is an activity the bot sends. (schema.Activity would send
// every zero field, timestamps included.)
type outActivity struct {
	Type         string                      `json:"type"`
	ID           string                      `json:"id,omitempty"`
	Text         string                      `json:"text,omitempty"`
	Summary      string                      `json:"summary,omitempty"`
	Attachments  []schema.Attachment         `json:"attachments,omitempty"`
	Entities     []any                       `json:"entities,omitempty"`
	From         *schema.ChannelAccount      `json:"from,omitempty"`
	Conversation *schema.ConversationAccount `json:"conversation,omitempty"`
	ChannelData  map[string]any              `json:"channelData,omitempty"`
}

// Member is what the Connector says of a conversation member (Teams adds
// email and userPrincipalName).
type Member struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	AadObjectID       string `json:"aadObjectId"`
	Email             string `json:"email"`
	UserPrincipalName string `json:"userPrincipalName"`
	TenantID          string `json:"tenantId"`
}

// Send posts a to conversation conv and returns the new activity's id.
func (c *Connector) Send(ctx context.Context, serviceURL, conv string, a outActivity) (string, error) {
	var r schema.ResourceResponse
	err := c.do(ctx, http.MethodPost, serviceURL, "/v3/conversations/"+url.PathEscape(conv)+"/activities", a, &r)
	return r.ID, err
}

// Update replaces activity id in conv with a.
func (c *Connector) Update(ctx context.Context, serviceURL, conv, id string, a outActivity) error {
	a.ID = id
	return c.do(ctx, http.MethodPut, serviceURL, "/v3/conversations/"+url.PathEscape(conv)+"/activities/"+url.PathEscape(id), a, nil)
}

// CreateConversation opens the bot's 1:1 conversation with user in
// tenant and returns its id.
func (c *Connector) CreateConversation(ctx context.Context, serviceURL, botID, user, tenant string) (string, error) {
	p := map[string]any{
		"isGroup":     false,
		"bot":         map[string]string{"id": botID},
		"members":     []map[string]string{{"id": user}},
		"tenantId":    tenant,
		"channelData": map[string]any{"tenant": map[string]string{"id": tenant}},
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, serviceURL, "/v3/conversations", p, &r); err != nil {
		return "", err
	}
	if r.ID == "" {
		return "", &APIError{Method: http.MethodPost, Path: "/v3/conversations", Status: http.StatusOK, Code: "no conversation id"}
	}
	return r.ID, nil
}

// Member reads one member of conv: email and name, for the directory.
func (c *Connector) Member(ctx context.Context, serviceURL, conv, id string) (Member, error) {
	var m Member
	err := c.do(ctx, http.MethodGet, serviceURL, "/v3/conversations/"+url.PathEscape(conv)+"/members/"+url.PathEscape(id), nil, &m)
	return m, err
}

func (c *Connector) do(ctx context.Context, method, serviceURL, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("teams connector %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	base := strings.TrimRight(serviceURL, "/")
	if base == "" {
		return &mamori.PermanentError{Err: fmt.Errorf("teams connector %s %s: no serviceUrl", method, path)}
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return &mamori.PermanentError{Err: fmt.Errorf("teams connector %s: %w", method, err)}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if c.Tokens != nil {
		tok, err := c.Tokens.Token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("teams connector %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		if out != nil && len(bytes.TrimSpace(b)) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("teams connector %s %s: %w", method, path, err)
			}
		}
		return nil
	}
	e := &APIError{Method: method, Path: path, Status: resp.StatusCode}
	var er struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &er) == nil {
		e.Code = er.Error.Code
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	}
	if resp.StatusCode == http.StatusUnauthorized && c.Tokens != nil {
		c.Tokens.Forget()
	}
	return e
}

// classify turns a Connector failure into the outbox's error kinds:
// throttling says when to come back; a conversation that is gone, a bot
// that is not in it, a card it refuses are permanent; the rest (5xx, the
// network, the token endpoint) are retried.
func classify(err error) error {
	var e *APIError
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return &mamori.RetryAfterError{After: e.RetryAfter}
	case e.Status == http.StatusBadRequest, e.Status == http.StatusForbidden, e.Status == http.StatusNotFound,
		e.Status == http.StatusRequestEntityTooLarge:
		return &mamori.PermanentError{Err: err}
	}
	return err
}
