package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/mamori-oss/mamori"
)

// This file is `mamori bench`: a load tool that sends what Slack and Teams
// send — signed slash commands, clicks and DM events; Teams activities
// with JWTs from a local key — to a running `mamori serve`, and reports
// throughput, latency and the server's memory. It can also serve, on
// loopback, the fakes the server then talks to: a Slack Web API that
// answers ok to everything, and Teams' OpenID metadata, signing keys,
// token endpoint and Connector.

const (
	benchTenant  = "00000000-0000-4000-8000-0000000000be"
	benchChannel = "msteams"
	benchIssuer  = "https://api.botframework.com"
)

// benchSlackUser is the Slack user id of fake user i.
func benchSlackUser(i int) string { return fmt.Sprintf("UBENCH%05d", i) }

// benchTeamsUser is the Teams 29: id of fake user i.
func benchTeamsUser(i int) string { return fmt.Sprintf("29:bench%05d", i) }

func bench(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of a running `mamori serve`")
	n := fs.Int("n", 10000, "requests to send (0: only serve the fakes until interrupted)")
	conc := fs.Int("c", 64, "requests in flight at once")
	mix := fs.String("mix", "slack", "what to send: slack, teams or both")
	dur := fs.Duration("duration", 60*time.Second, "stop after this long even if -n is not reached")
	users := fs.Int("users", 1000, "distinct fake users")
	fakeSlack := fs.String("fake-slack", "", "also serve a fake Slack Web API on this loopback ADDR (the server's SLACK_API_URL)")
	teamsKeys := fs.String("teams-keys", "", "the loopback ADDR of the Teams fakes (OpenID/JWKS, token, Connector); served here unless already in use")
	keyFile := fs.String("teams-key", filepath.Join(os.TempDir(), "mamori-bench-teams.pem"), "RSA key that signs the activities' JWTs (made if missing)")
	appID := fs.String("teams-app", getenv("MICROSOFT_APP_ID"), "the bot's app id, the tokens' audience (default $MICROSOFT_APP_ID)")
	pid := fs.Int("pid", 0, "the server's process id, to read its memory from /proc (Linux) when /metrics has none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	slackOn, teamsOn := *mix == "slack" || *mix == "both", *mix == "teams" || *mix == "both"
	switch {
	case !slackOn && !teamsOn:
		return fmt.Errorf("-mix must be slack, teams or both, not %q", *mix)
	case *n < 0 || *conc < 1 || *users < 1:
		return errors.New("-n must be 0 or more, -c and -users 1 or more")
	case *n > 0 && slackOn && getenv("SLACK_SIGNING_SECRET") == "":
		return errors.New("SLACK_SIGNING_SECRET is not set: bench signs Slack's requests with the server's secret")
	case *n > 0 && teamsOn && (*teamsKeys == "" || *appID == ""):
		return errors.New("-mix teams needs -teams-keys ADDR (where the server's MAMORI_TEAMS_OPENID_METADATA_URL points) and the app id (-teams-app or MICROSOFT_APP_ID)")
	}
	var key *rsa.PrivateKey
	if *teamsKeys != "" {
		var err error
		if key, err = benchKey(*keyFile); err != nil {
			return err
		}
	}
	fk := &benchFakes{key: key, kid: benchKid(key)}
	served := map[string]bool{}
	for _, addr := range []string{*fakeSlack, *teamsKeys} {
		if addr == "" || served[addr] {
			continue
		}
		served[addr] = true
		ln, err := net.Listen("tcp", addr)
		if errors.Is(err, syscall.EADDRINUSE) && *n > 0 {
			fmt.Fprintf(stdout, "fakes: %s is in use; assuming an earlier `mamori bench -n 0` serves them\n", addr)
			continue
		}
		if err != nil {
			return fmt.Errorf("fakes: %w", err)
		}
		if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
			ln.Close()
			return fmt.Errorf("fakes: %s is not a loopback address", addr)
		}
		srv := &http.Server{Handler: fk, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}
	if *fakeSlack != "" || *teamsKeys != "" {
		fmt.Fprintln(stdout, "the server needs (besides SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, MICROSOFT_APP_ID and _PASSWORD):")
		if *fakeSlack != "" {
			fmt.Fprintf(stdout, "  SLACK_API_URL=http://%s/api/\n", *fakeSlack)
		}
		if *teamsKeys != "" {
			fmt.Fprintf(stdout, "  MAMORI_TEAMS_OPENID_METADATA_URL=http://%s/v1/.well-known/openidconfiguration\n", *teamsKeys)
			fmt.Fprintf(stdout, "  MAMORI_TEAMS_TOKEN_URL=http://%s/%s/oauth2/v2.0/token\n", *teamsKeys, benchTenant)
			fmt.Fprintf(stdout, "  MICROSOFT_APP_TENANT_ID=%s\n", benchTenant)
		}
	}
	if *n == 0 {
		fmt.Fprintln(stdout, "serving the fakes until interrupted")
		<-ctx.Done()
		return nil
	}

	l := &loader{base: strings.TrimRight(*base, "/"), secret: getenv("SLACK_SIGNING_SECRET"), users: *users,
		nonce: strconv.FormatInt(time.Now().UnixNano()%1e12, 36), slack: slackOn, teams: teamsOn,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}}}
	if teamsOn {
		l.serviceURL = "http://" + *teamsKeys + "/teams/"
		// Teams sends a token valid an hour with many activities.
		for range 3 {
			tok, err := benchToken(key, fk.kid, *appID, l.serviceURL)
			if err != nil {
				return err
			}
			l.tokens = append(l.tokens, tok)
		}
	}
	before := serverMemory(l.client, l.base, *pid)
	res := l.run(ctx, *n, *conc, *dur)
	after := serverMemory(l.client, l.base, *pid)
	res.print(stdout, l.base, *mix, *conc, *users, before, after)
	if res.failed > 0 {
		return fmt.Errorf("bench: %d of %d requests failed", res.failed, res.done)
	}
	return nil
}

// loader sends the requests.
type loader struct {
	base, secret, nonce string
	users               int
	slack, teams        bool
	serviceURL          string
	tokens              []string
	client              *http.Client
}

// op is one request to send.
type op struct {
	kind, path, contentType, auth string
	body                          []byte
}

// op returns request i. Each user in turn goes through a short session —
// on Slack: the slash command, a click on "report" in the menu, a click
// on "safe", a message in the DM; on Teams: "menu", "report", a message —
// so most requests move a conversation on; the others are answered as
// stale, which is the same acknowledgement path.
func (l *loader) op(i int) op {
	teams := l.teams && (!l.slack || i%2 == 1)
	if l.slack && l.teams {
		i /= 2
	}
	u, round := i%l.users, i/l.users
	id := l.nonce + "." + strconv.Itoa(i)
	if teams {
		text := []string{"menu", "report", "昨日の15時ごろ、レジで大声で怒鳴られた"}[round%3]
		b, _ := json.Marshal(benchActivity(l.serviceURL, u, id, text))
		return op{kind: "teams message", path: "/api/messages", contentType: "application/json; charset=utf-8",
			auth: "Bearer " + l.tokens[i%len(l.tokens)], body: b}
	}
	user := benchSlackUser(u)
	switch round % 4 {
	case 0:
		b := url.Values{"token": {"bench"}, "team_id": {"TBENCH"}, "channel_id": {"D" + user}, "channel_name": {"directmessage"},
			"user_id": {user}, "command": {"/kasuhara"}, "text": {""}, "trigger_id": {"trigger." + id},
			"response_url": {"https://hooks.slack.com/commands/TBENCH/1/x"}}.Encode()
		return op{kind: "slack command", path: "/slack/commands", contentType: "application/x-www-form-urlencoded", body: []byte(b)}
	case 1, 2:
		step, value, label := "menu", mamori.StartReport, "報告する"
		if round%4 == 2 {
			step, value, label = "safety", "safe", "安全です"
		}
		blockID := "choice/0/" + step
		button := map[string]any{"type": "button", "action_id": blockID + "/0", "value": value,
			"text": map[string]any{"type": "plain_text", "text": label}}
		act := map[string]any{"type": "button", "block_id": blockID, "action_id": blockID + "/0", "value": value,
			"text": button["text"], "action_ts": id}
		p := map[string]any{"type": "block_actions", "api_app_id": "ABENCH", "token": "bench",
			"team": map[string]any{"id": "TBENCH"}, "user": map[string]any{"id": user},
			"trigger_id": "trigger." + id, "channel": map[string]any{"id": "D" + user},
			"container": map[string]any{"type": "message", "channel_id": "D" + user, "message_ts": "1700000000." + id},
			"message": map[string]any{"type": "message", "blocks": []any{
				map[string]any{"type": "actions", "block_id": blockID, "elements": []any{button}}}},
			"actions": []any{act}}
		j, _ := json.Marshal(p)
		b := url.Values{"payload": {string(j)}}.Encode()
		return op{kind: "slack click", path: "/slack/interactivity", contentType: "application/x-www-form-urlencoded", body: []byte(b)}
	}
	ts := "1700000100." + id
	b, _ := json.Marshal(map[string]any{"token": "bench", "team_id": "TBENCH", "api_app_id": "ABENCH",
		"type": "event_callback", "event_id": "EvB" + id, "event_time": time.Now().Unix(),
		"event": map[string]any{"type": "message", "channel_type": "im", "channel": "D" + user, "user": user,
			"text": "昨日の15時ごろ、レジで大声で怒鳴られた", "ts": ts, "event_ts": ts}})
	return op{kind: "slack event", path: "/slack/events", contentType: "application/json", body: b}
}

// benchActivity is a message from fake user u in their 1:1 chat, as Teams sends it.
func benchActivity(serviceURL string, u int, id, text string) map[string]any {
	from := benchTeamsUser(u)
	return map[string]any{
		"type": "message", "id": "b:" + id, "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"serviceUrl": serviceURL, "channelId": benchChannel, "text": text, "textFormat": "plain", "locale": "ja-JP",
		"from":         map[string]any{"id": from, "name": fmt.Sprintf("Bench %d", u), "aadObjectId": fmt.Sprintf("aad-bench%05d", u)},
		"recipient":    map[string]any{"id": "28:bench", "name": "Mamori"},
		"conversation": map[string]any{"id": "a:1" + strings.TrimPrefix(from, "29:"), "conversationType": "personal", "tenantId": benchTenant},
		"channelData":  map[string]any{"tenant": map[string]any{"id": benchTenant}},
	}
}

// send makes one request and returns its status (0 when it failed on the way).
func (l *loader) send(ctx context.Context, o op) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+o.path, bytes.NewReader(o.body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", o.contentType)
	if o.auth != "" {
		req.Header.Set("Authorization", o.auth)
	} else {
		sec := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(l.secret))
		mac.Write([]byte("v0:" + sec + ":"))
		mac.Write(o.body)
		req.Header.Set("X-Slack-Request-Timestamp", sec)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type benchResult struct {
	done, failed int
	elapsed      time.Duration
	lat          []time.Duration
	byStatus     map[int]int
	byKind       map[string][]time.Duration
}

// run sends n requests from conc workers, stopping early after dur. A
// request under way when dur ends is let finish: it is not an error.
func (l *loader) run(ctx context.Context, n, conc int, dur time.Duration) benchResult {
	deadline := time.Now().Add(dur)
	var next atomic.Int64
	var mu sync.Mutex
	res := benchResult{byStatus: map[int]int{}, byKind: map[string][]time.Duration{}}
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				o := l.op(i)
				t0 := time.Now()
				code := l.send(ctx, o)
				d := time.Since(t0)
				mu.Lock()
				res.done++
				res.lat = append(res.lat, d)
				res.byKind[o.kind] = append(res.byKind[o.kind], d)
				if code != http.StatusOK {
					res.failed++
					res.byStatus[code]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func (r benchResult) print(w io.Writer, base, mix string, conc, users int, before, after []string) {
	fmt.Fprintf(w, "mamori bench: %s, %s, concurrency %d, %d users\n", base, mix, conc, users)
	fmt.Fprintf(w, "requests   %d in %s: %.0f req/s\n", r.done, r.elapsed.Round(time.Millisecond), float64(r.done)/r.elapsed.Seconds())
	var errs []string
	codes := make([]int, 0, len(r.byStatus))
	for c := range r.byStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "no answer"
		}
		errs = append(errs, fmt.Sprintf("%s: %d", name, r.byStatus[c]))
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "errors     %d (%s)\n", r.failed, strings.Join(errs, ", "))
	} else {
		fmt.Fprintln(w, "errors     0")
	}
	slices.Sort(r.lat)
	fmt.Fprintf(w, "latency    p50 %s  p90 %s  p99 %s  max %s\n", ms(pct(r.lat, .5)), ms(pct(r.lat, .9)), ms(pct(r.lat, .99)), ms(pct(r.lat, 1)))
	kinds := make([]string, 0, len(r.byKind))
	for k := range r.byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		l := r.byKind[k]
		slices.Sort(l)
		fmt.Fprintf(w, "  %-14s %6d  p50 %s  p99 %s\n", k, len(l), ms(pct(l, .5)), ms(pct(l, .99)))
	}
	fmt.Fprintln(w, "server memory and outbox, before → after:")
	if len(after) == 0 {
		fmt.Fprintln(w, "  (no memory figures in /metrics; pass -pid to read them from /proc)")
	}
	for _, a := range after {
		name, v, _ := strings.Cut(a, " ")
		was := "?"
		for _, x := range before {
			if bn, bv, _ := strings.Cut(x, " "); bn == name {
				was = bv
			}
		}
		fmt.Fprintf(w, "  %s %s → %s\n", name, was, v)
	}
}

// serverMemory reads the memory figures the server exposes — process and
// Go runtime gauges in /metrics if it has them, its outbox, and with pid
// the resident set from /proc — as "name value" lines.
func serverMemory(c *http.Client, base string, pid int) []string {
	var out []string
	if resp, err := c.Get(base + "/metrics"); err == nil {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, p := range []string{"process_resident_memory_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes", "go_goroutines", "mamori_outbox_messages", "mamori_store_"} {
				if strings.HasPrefix(line, p) {
					out = append(out, line)
				}
			}
		}
		resp.Body.Close()
	}
	if pid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) == 3 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
					out = append(out, fmt.Sprintf("%s{pid=\"%d\"} %s%s", strings.TrimSuffix(f[0], ":"), pid, f[1], f[2]))
				}
			}
		}
	}
	return out
}

// benchKey reads the signing key from file, or makes it there, so that a
// bench run and the fakes of an earlier `mamori bench -n 0` agree.
func benchKey(file string) (*rsa.PrivateKey, error) {
	if b, err := os.ReadFile(file); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("-teams-key %s: not PEM", file)
		}
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("-teams-key %s: %w", file, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("-teams-key: %w", err)
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, fmt.Errorf("-teams-key: %w", err)
	}
	return k, nil
}

// benchKid names key by its modulus, so a new key gets a new kid.
func benchKid(key *rsa.PrivateKey) string {
	if key == nil {
		return ""
	}
	sum := sha256.Sum256(key.N.Bytes())
	return "bench-" + hex.EncodeToString(sum[:6])
}

func benchToken(key *rsa.PrivateKey, kid, appID, serviceURL string) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": benchIssuer, "aud": appID,
		"exp": time.Now().Add(time.Hour).Unix(), "nbf": time.Now().Add(-time.Minute).Unix(), "serviceurl": serviceURL})
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign a token: %w", err)
	}
	return s, nil
}

// benchFakes is the outside world the server talks to during a run,
// answering everything at once and keeping nothing, so that what is
// measured is Mamori.
type benchFakes struct {
	key *rsa.PrivateKey
	kid string
	seq atomic.Int64
}

func benchJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *benchFakes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/"):
		f.slack(w, r, strings.TrimPrefix(p, "/api/"))
	case p == "/v1/.well-known/openidconfiguration" && f.key != nil:
		benchJSON(w, http.StatusOK, map[string]any{"issuer": benchIssuer, "jwks_uri": "http://" + r.Host + "/v1/.well-known/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	case p == "/v1/.well-known/keys" && f.key != nil:
		benchJSON(w, http.StatusOK, map[string]any{"keys": []any{map[string]any{"kty": "RSA", "use": "sig", "kid": f.kid,
			"n":            base64.RawURLEncoding.EncodeToString(f.key.N.Bytes()),
			"e":            base64.RawURLEncoding.EncodeToString(big.NewInt(int64(f.key.E)).Bytes()),
			"endorsements": []string{benchChannel}}}})
	case strings.HasSuffix(p, "/oauth2/v2.0/token"):
		benchJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": "bench-token"})
	case strings.HasPrefix(p, "/teams/v3/conversations"):
		f.connector(w, r, strings.TrimPrefix(p, "/teams/v3/conversations"))
	default:
		http.NotFound(w, r)
	}
}

// slack answers a Web API call as Slack does when it goes well.
func (f *benchFakes) slack(w http.ResponseWriter, r *http.Request, method string) {
	r.ParseForm()
	get := r.PostForm.Get
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		get = func(k string) string { s, _ := m[k].(string); return s }
	}
	ts := fmt.Sprintf("1700000000.%06d", f.seq.Add(1))
	ch := get("channel")
	if strings.HasPrefix(ch, "U") {
		ch = "D" + ch
	}
	var out map[string]any
	switch method {
	case "auth.test":
		out = map[string]any{"team_id": "TBENCH", "user_id": "UBENCHBOT", "bot_id": "BBENCHBOT"}
	case "users.info":
		id := get("user")
		out = map[string]any{"user": map[string]any{"id": id, "name": strings.ToLower(id), "real_name": "Bench " + id, "locale": "ja-JP",
			"profile": map[string]any{"real_name": "Bench " + id, "email": strings.ToLower(id) + "@bench.example"}}}
	case "conversations.open":
		out = map[string]any{"channel": map[string]any{"id": "D" + get("users")}}
	case "chat.postEphemeral":
		out = map[string]any{"message_ts": ts}
	case "chat.update":
		out = map[string]any{"channel": ch, "ts": get("ts")}
	case "views.open", "views.publish", "views.update":
		out = map[string]any{"view": map[string]any{"id": "V" + ts}}
	default: // chat.postMessage and the rest
		out = map[string]any{"channel": ch, "ts": ts}
	}
	out["ok"] = true
	benchJSON(w, http.StatusOK, out)
}

// connector answers the Bot Connector calls Mamori makes.
func (f *benchFakes) connector(w http.ResponseWriter, r *http.Request, path string) {
	io.Copy(io.Discard, r.Body)
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	id := fmt.Sprintf("1700000000%06d", f.seq.Add(1))
	switch {
	case r.Method == http.MethodPost && path == "":
		benchJSON(w, http.StatusCreated, map[string]string{"id": "a:1bench" + id})
	case r.Method == http.MethodGet && len(parts) == 3 && parts[1] == "members":
		m := strings.TrimPrefix(parts[2], "29:")
		benchJSON(w, http.StatusOK, map[string]string{"id": parts[2], "name": "Bench " + m, "email": m + "@bench.example", "tenantId": benchTenant})
	case r.Method == http.MethodPut && len(parts) == 3:
		benchJSON(w, http.StatusOK, map[string]string{"id": parts[2]})
	default:
		benchJSON(w, http.StatusCreated, map[string]string{"id": id})
	}
}
