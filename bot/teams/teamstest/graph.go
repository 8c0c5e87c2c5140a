package teamstest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// GraphScope is the scope the fake's token endpoint gives Graph tokens for.
const GraphScope = "https://graph.microsoft.com/.default"

// Graph is a loopback fake of the part of Microsoft Graph the directory
// reads, with the Entra ID token endpoint that gives its app-only tokens
// (https://learn.microsoft.com/graph/api/group-list-members,
// …/graph/paging, …/graph/throttling):
//
//   - POST /{Tenant}/oauth2/v2.0/token: the client-credentials grant, for
//     the scope GraphScope and the app's id and secret;
//   - GET /v1.0/groups/{id}/members: a bearer token it issued; $select
//     and $top (at most 999; the fake's PageSize caps a page); the next
//     page's absolute URL in @odata.nextLink with an opaque $skiptoken;
//     404 Request_ResourceNotFound for a group it does not know; 429
//     TooManyRequests with Retry-After when Throttle says so.
//
// It records every members request.
type Graph struct {
	// URL is Graph's v1.0 base: http://127.0.0.1:port/v1.0.
	URL string
	// TokenURL is the tenant's token endpoint.
	TokenURL string

	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	pageSize int
	groups   map[string][]GraphMember
	issued   map[string]bool
	seq      int
	throttle []throttle
	fail     []int // statuses to answer, one request each
	down     bool
	requests []GraphRequest
	tokens   int
}

// GraphMember is a member of a group: a user, or a nested group, device
// or service principal (Type "#microsoft.graph.group", …).
type GraphMember struct {
	Type              string // default "#microsoft.graph.user"
	ID                string // the object id
	DisplayName       string
	Mail              string
	UserPrincipalName string
}

// GraphRequest is one members request the fake received.
type GraphRequest struct {
	Group  string
	Query  string // the raw query
	Status int
}

type throttle struct{ retryAfter, times int }

// NewGraph starts the fake for the app opts names; it stops when the
// test ends. A page holds 100 members unless SetPageSize says otherwise.
func NewGraph(tb testing.TB, opts Options) *Graph {
	tb.Helper()
	g := &Graph{opts: opts, pageSize: 100, groups: map[string][]GraphMember{}, issued: map[string]bool{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	tb.Cleanup(g.srv.Close)
	g.URL = g.srv.URL + "/v1.0"
	g.TokenURL = g.srv.URL + "/" + Tenant + "/oauth2/v2.0/token"
	return g
}

// SetPageSize makes pages hold at most n members.
func (g *Graph) SetPageSize(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pageSize = n
}

// SetGroup makes group (an object id) have members, replacing those it
// had: a member removed is gone from the next request.
func (g *Graph) SetGroup(group string, members ...GraphMember) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.groups[group] = slices.Clone(members)
}

// Throttle makes the next times members requests answer 429 with
// Retry-After: retryAfter (seconds).
func (g *Graph) Throttle(retryAfter, times int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.throttle = append(g.throttle, throttle{retryAfter, times})
}

// Fail makes the next times members requests answer status (500, 503…)
// with no Retry-After.
func (g *Graph) Fail(status, times int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range times {
		g.fail = append(g.fail, status)
	}
}

// SetDown makes every request, the token's too, find the connection
// dropped: Graph unreachable.
func (g *Graph) SetDown(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = down
}

// Requests returns the members requests received, in order.
func (g *Graph) Requests() []GraphRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests)
}

// Tokens counts the tokens issued.
func (g *Graph) Tokens() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tokens
}

func graphError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message,
		"innerError": map[string]any{"request-id": "00000000-0000-4000-8000-00000000beef", "date": "2026-10-01T00:00:00"}}})
}

func (g *Graph) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	down := g.down
	g.mu.Unlock()
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == "/"+Tenant+"/oauth2/v2.0/token" {
		g.serveToken(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0/groups/")
	group, tail, _ := strings.Cut(rest, "/")
	if !ok || tail != "members" || r.Method != http.MethodGet {
		graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment.")
		return
	}
	req := GraphRequest{Group: group, Query: r.URL.RawQuery}
	status := g.serveMembers(w, r, group)
	req.Status = status
	g.mu.Lock()
	g.requests = append(g.requests, req)
	g.mu.Unlock()
}

func (g *Graph) serveToken(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	switch {
	case r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "client_credentials":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	case r.PostForm.Get("scope") != GraphScope:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope"})
		return
	case r.PostForm.Get("client_id") != g.opts.AppID || r.PostForm.Get("client_secret") != g.opts.Password:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	g.mu.Lock()
	g.seq++
	g.tokens++
	tok := fmt.Sprintf("graph-token-%d", g.seq)
	g.issued[tok] = true
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// serveMembers answers one members request and returns its status.
func (g *Graph) serveMembers(w http.ResponseWriter, r *http.Request, group string) int {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	valid := g.issued[tok]
	var th *throttle
	if len(g.throttle) > 0 {
		th = &g.throttle[0]
		th.times--
		if th.times <= 0 {
			g.throttle = g.throttle[1:]
		}
	}
	fail := 0
	if th == nil && len(g.fail) > 0 {
		fail, g.fail = g.fail[0], g.fail[1:]
	}
	members, known := g.groups[group]
	size := g.pageSize
	g.mu.Unlock()
	switch {
	case !valid:
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return http.StatusUnauthorized
	case th != nil:
		w.Header().Set("Retry-After", strconv.Itoa(th.retryAfter))
		graphError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
		return http.StatusTooManyRequests
	case fail != 0:
		graphError(w, fail, "UnknownError", "")
		return fail
	case !known:
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", group))
		return http.StatusNotFound
	}
	q := r.URL.Query()
	if top := q.Get("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 || n > 999 {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: '"+top+"'. Must be between 1 and 999 inclusive.")
			return http.StatusBadRequest
		}
		size = min(size, n)
	}
	from := 0
	if st := q.Get("$skiptoken"); st != "" {
		b, err := base64.RawURLEncoding.DecodeString(st)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || n < 0 || n > len(members) {
			graphError(w, http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
			return http.StatusBadRequest
		}
		from = n
	}
	var sel []string
	if s := q.Get("$select"); s != "" {
		sel = strings.Split(s, ",")
	}
	to := min(from+size, len(members))
	value := []any{}
	for _, m := range members[from:to] {
		typ := m.Type
		if typ == "" {
			typ = "#microsoft.graph.user"
		}
		obj := map[string]any{"@odata.type": typ, "id": m.ID}
		for k, v := range map[string]string{"displayName": m.DisplayName, "mail": m.Mail, "userPrincipalName": m.UserPrincipalName} {
			if typ != "#microsoft.graph.user" && k != "displayName" {
				continue
			}
			if sel == nil || slices.Contains(sel, k) {
				if v == "" {
					obj[k] = nil
				} else {
					obj[k] = v
				}
			}
		}
		value = append(value, obj)
	}
	body := map[string]any{"@odata.context": g.URL + "/$metadata#directoryObjects", "value": value}
	if to < len(members) {
		next := r.URL.Query()
		next.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("offset:"+strconv.Itoa(to))))
		body["@odata.nextLink"] = g.URL + "/groups/" + group + "/members?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, body)
	return http.StatusOK
}
