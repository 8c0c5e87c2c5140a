package teams

import (
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
	"time"

	"github.com/mamori-oss/mamori"
)

// This file reads the members of Microsoft Entra groups through Microsoft
// Graph for the directory (issue 17): GET /groups/{id}/members, every
// page by @odata.nextLink, with an app-only token of the bot's own app
// registration from its tenant (the client-credentials grant, scope
// GraphScope). The registration needs the application permission
// GroupMember.Read.All, granted by an admin; with User.ReadBasic.All too,
// Graph also gives the members' mail, so they are matched by email on
// Slack as well (without it Graph gives only their object ids, which are
// Teams users' ids in Mamori).

// GraphScope is the scope of app-only tokens for Microsoft Graph.
const GraphScope = "https://graph.microsoft.com/.default"

// GraphURL is Microsoft Graph's v1.0 endpoint.
const GraphURL = "https://graph.microsoft.com/v1.0"

// GraphConfig is what Groups needs, as plain values.
type GraphConfig struct {
	// AppID, Password and TenantID are the bot's app registration.
	AppID, Password, TenantID string
	// TokenURL is the token endpoint; default TokenURL(TenantID).
	TokenURL string
	// URL is Graph's base; default GraphURL.
	URL    string
	Client *http.Client
	Clock  mamori.Clock
	Log    *slog.Logger
	// MaxWait is the longest a throttled request waits before it is made
	// again; a longer Retry-After fails the read (the group keeps its
	// members until the next sync). Zero means a minute.
	MaxWait time.Duration
}

// Groups reads Entra groups' members through Microsoft Graph.
type Groups struct {
	cfg    GraphConfig
	base   *url.URL
	tokens *Tokens
	client *http.Client
	log    *slog.Logger
	// after is time.After, or a test's that shows a wait without waiting.
	after func(time.Duration) <-chan time.Time
}

var _ mamori.Directory = (*Groups)(nil)

// NewGroups returns the Graph reader of cfg's tenant.
func NewGroups(cfg GraphConfig) (*Groups, error) {
	if cfg.AppID == "" || cfg.Password == "" || cfg.TenantID == "" {
		return nil, errors.New("teams graph: the app id, its client secret and the tenant id are needed for Microsoft Graph")
	}
	base, err := url.Parse(strings.TrimRight(cmp.Or(cfg.URL, GraphURL), "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("teams graph: %q is not an http(s) URL", cfg.URL)
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Groups{cfg: cfg, base: base, client: client, log: log, after: time.After,
		tokens: &Tokens{URL: cmp.Or(cfg.TokenURL, TokenURL(cfg.TenantID)), AppID: cfg.AppID, Password: cfg.Password,
			Scope: GraphScope, Client: client, Clock: cfg.Clock}}, nil
}

// IsObjectID reports whether s has the shape of an Entra object id: a
// GUID, 8-4-4-4-12 hexadecimal digits.
func IsObjectID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F'):
			return false
		}
	}
	return true
}

// graphMember is a directoryObject of a group's members page.
type graphMember struct {
	Type              string `json:"@odata.type"`
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	Mail              string `json:"mail"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// Members returns the users who are direct members of the Entra group
// with object id group, every page of them. Nested groups, devices and
// service principals are left out (a nested group's people are not read:
// name that group too). A group Graph does not know is mamori.ErrNotFound.
func (g *Groups) Members(ctx context.Context, group string) ([]mamori.Member, error) {
	if !IsObjectID(group) {
		return nil, fmt.Errorf("entra group %q: not an object id: %w", group, mamori.ErrInvalid)
	}
	next := g.base.JoinPath("groups", group, "members")
	next.RawQuery = url.Values{"$select": {"id,displayName,mail,userPrincipalName"}, "$top": {"999"}}.Encode()
	var out []mamori.Member
	nested := 0
	for page := 0; next != nil; page++ {
		if page > 10000 {
			return nil, fmt.Errorf("entra group %s: more than 10000 pages", group)
		}
		var body struct {
			Value    []graphMember `json:"value"`
			NextLink string        `json:"@odata.nextLink"`
		}
		if err := g.get(ctx, next, &body); err != nil {
			return nil, fmt.Errorf("entra group %s: %w", group, err)
		}
		for _, m := range body.Value {
			switch m.Type {
			case "#microsoft.graph.user", "":
			case "#microsoft.graph.group":
				nested++
				continue
			default:
				continue
			}
			email := m.Mail
			if email == "" && !strings.Contains(m.UserPrincipalName, "#EXT#") {
				email = m.UserPrincipalName
			}
			out = append(out, mamori.Member{ID: m.ID, Email: email, Name: m.DisplayName})
		}
		next = nil
		if body.NextLink != "" {
			u, err := url.Parse(body.NextLink)
			// The token goes only where Graph is: a next link elsewhere
			// is refused, not followed.
			if err != nil || u.Scheme != g.base.Scheme || u.Host != g.base.Host {
				return nil, fmt.Errorf("entra group %s: @odata.nextLink %q is not on %s", group, body.NextLink, g.base.Host)
			}
			next = u
		}
	}
	if nested > 0 {
		g.log.Warn("teams graph: the group has nested groups; only its direct members are read (name the nested groups too)",
			"group", group, "nested", nested)
	}
	return out, nil
}

// GraphError is a Graph request that did not succeed.
type GraphError struct {
	Status int
	Code   string // e.g. "Authorization_RequestDenied", "Request_ResourceNotFound"
}

func (e *GraphError) Error() string {
	s := fmt.Sprintf("microsoft graph: %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Status == http.StatusForbidden {
		s += " (grant the app registration the application permission GroupMember.Read.All, with admin consent)"
	}
	return s
}

// get GETs u into dst with a token, waiting out a 429 (or a 503 that
// says when to come back) for its Retry-After, and fetching a new token
// once when Graph refuses the one it had.
func (g *Groups) get(ctx context.Context, u *url.URL, dst any) error {
	maxWait := cmp.Or(g.cfg.MaxWait, time.Minute)
	refreshed := false
	for attempt := 0; ; attempt++ {
		tok, err := g.tokens.Token(ctx)
		if err != nil {
			// ErrTokenUnavailable's words name the Bot Connector.
			return fmt.Errorf("microsoft graph: no app-only token from the tenant: %s", strings.TrimPrefix(err.Error(), ErrTokenUnavailable.Error()+": "))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		resp, err := g.client.Do(req)
		if err != nil {
			return fmt.Errorf("microsoft graph: %w", err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("microsoft graph: %w", err)
		}
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, dst); err != nil {
				return fmt.Errorf("microsoft graph: %w", err)
			}
			return nil
		}
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		gerr := &GraphError{Status: resp.StatusCode, Code: e.Error.Code}
		retryAfter := resp.Header.Get("Retry-After")
		switch {
		case resp.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %w", gerr, mamori.ErrNotFound)
		case resp.StatusCode == http.StatusUnauthorized && !refreshed:
			g.tokens.Forget()
			refreshed = true
			continue
		case attempt < 5 && (resp.StatusCode == http.StatusTooManyRequests ||
			(resp.StatusCode == http.StatusServiceUnavailable && retryAfter != "")):
			// Graph says how long to wait; without a Retry-After, back
			// off exponentially from one second.
			wait := time.Duration(1<<attempt) * time.Second
			if secs, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && secs >= 0 {
				wait = time.Duration(secs) * time.Second
			}
			if wait > maxWait {
				return fmt.Errorf("%w: throttled for %s", gerr, wait)
			}
			g.log.Info("teams graph: throttled; waiting as Graph asks", "wait", wait, "status", resp.StatusCode)
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (throttled: %w)", ctx.Err(), gerr)
			case <-g.after(wait):
			}
			continue
		}
		return gerr
	}
}
