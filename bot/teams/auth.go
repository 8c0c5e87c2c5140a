package teams

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/mamori-oss/mamori"
)

// This file checks that an activity comes from the Bot Connector, as the
// Bot Framework's "Connector to bot" authentication asks: an RS256 JWT in
// the Authorization header, signed with a key the OpenID metadata
// publishes, issued by api.botframework.com for this bot, not expired
// (five minutes of clock skew), for the activity's serviceUrl, with a key
// endorsed for the activity's channel.
//
// msbotbuilder-go's own check cannot be used: it fetches the metadata on
// every request without closing the body, its caches race, and a token
// without an expected claim panics it.

// Defaults of the Bot Framework's public cloud.
const (
	DefaultOpenIDMetadataURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	DefaultIssuer            = "https://api.botframework.com"
	// MaxClockSkew is how far expiry and not-before may be off.
	MaxClockSkew = 5 * time.Minute
)

// Authentication failures. ErrNoToken and ErrBadToken answer 401,
// ErrNotAllowed 403, ErrKeysUnavailable 503.
var (
	ErrNoToken         = errors.New("teams: no bearer token")
	ErrBadToken        = errors.New("teams: token not valid")
	ErrNotAllowed      = errors.New("teams: token not valid for this activity")
	ErrKeysUnavailable = errors.New("teams: signing keys unavailable")
)

// maxMetadata bounds what is read from the metadata and keys endpoints.
const maxMetadata = 1 << 20

// Validator checks the Bot Connector's tokens. Its keys are cached and
// refetched once a day, or when a token names a key it does not know
// (at most once per MinRefetch, so forged tokens cannot make it fetch in a
// loop). It is safe for concurrent use.
type Validator struct {
	AppID       string
	MetadataURL string   // default DefaultOpenIDMetadataURL
	Issuers     []string // default DefaultIssuer
	Client      *http.Client
	Clock       mamori.Clock
	Log         *slog.Logger
	// Refresh is how old the keys may grow before they are fetched again
	// (default 24 hours); MinRefetch the least time between two fetches
	// for an unknown key (default 5 minutes).
	Refresh, MinRefetch time.Duration

	fetchMu sync.Mutex // one fetch at a time
	mu      sync.Mutex
	keys    map[string]signingKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
	// verified are tokens whose signature was checked, by the token
	// itself: the Connector sends one token, valid an hour, with many
	// activities, and checking its RSA signature again each time was a
	// quarter of a busy server's work. The claims are still checked at
	// every activity (expiry, serviceUrl, the key's endorsements, the key
	// still published).
	verified map[string]verifiedToken
}

type verifiedToken struct {
	claims claims
	kid    string
}

// maxVerified bounds the tokens remembered; the Connector uses a few at
// a time.
const maxVerified = 1024

type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// claims are the token's claims Mamori checks.
type claims struct {
	jwt.RegisteredClaims
	ServiceURL string `json:"serviceurl"`
}

func (v *Validator) now() time.Time {
	if v.Clock != nil {
		return v.Clock()
	}
	return time.Now()
}

func (v *Validator) log() *slog.Logger {
	if v.Log != nil {
		return v.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Validate checks the Authorization header of an activity from channelID
// whose serviceUrl is serviceURL. The error says why not, and is one of
// the kinds above.
func (v *Validator) Validate(ctx context.Context, authorization, channelID, serviceURL string) error {
	scheme, tok, found := strings.Cut(strings.TrimSpace(authorization), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return ErrNoToken
	}
	if v.AppID == "" {
		return fmt.Errorf("%w: no app id to check the audience against", ErrBadToken)
	}
	tok = strings.TrimSpace(tok)
	c, key, known := v.seen(tok)
	var kid string
	if !known {
		parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
		_, perr := parser.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
			kid, _ = t.Header["kid"].(string)
			if kid == "" {
				return nil, errors.New("no kid")
			}
			k, err := v.key(ctx, kid)
			if err != nil {
				return nil, err
			}
			key = k
			return k.pub, nil
		})
		if perr != nil {
			if errors.Is(perr, ErrKeysUnavailable) {
				return perr
			}
			return fmt.Errorf("%w: %v", ErrBadToken, perr)
		}
	}
	if err := v.check(c, key, channelID, serviceURL); err != nil {
		return err
	}
	if !known {
		// Remembered only once every claim checked out.
		v.remember(tok, verifiedToken{claims: c, kid: kid})
	}
	return nil
}

// seen returns the claims of tok and its key when tok's signature was
// checked before and its key is still published.
func (v *Validator) seen(tok string) (claims, signingKey, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.verified[tok]
	if !ok {
		return claims{}, signingKey{}, false
	}
	k, ok := v.keys[t.kid]
	return t.claims, k, ok
}

// remember keeps tok as verified, until it expires.
func (v *Validator) remember(tok string, t verifiedToken) {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verified == nil {
		v.verified = map[string]verifiedToken{}
	}
	if len(v.verified) >= maxVerified {
		for k, old := range v.verified {
			if now.After(old.claims.ExpiresAt.Add(MaxClockSkew)) {
				delete(v.verified, k)
			}
		}
		if len(v.verified) >= maxVerified {
			clear(v.verified)
		}
	}
	v.verified[tok] = t
}

// check checks the claims of a token signed with key, for an activity
// from channelID whose serviceUrl is serviceURL.
func (v *Validator) check(c claims, key signingKey, channelID, serviceURL string) error {
	issuers := v.Issuers
	if len(issuers) == 0 {
		issuers = []string{DefaultIssuer}
	}
	now := v.now()
	switch {
	case !slices.Contains(issuers, c.Issuer):
		return fmt.Errorf("%w: issuer %q", ErrBadToken, c.Issuer)
	case len(c.Audience) != 1 || c.Audience[0] != v.AppID:
		return fmt.Errorf("%w: audience %q is not this bot", ErrBadToken, []string(c.Audience))
	case c.ExpiresAt == nil:
		return fmt.Errorf("%w: no expiry", ErrBadToken)
	case now.After(c.ExpiresAt.Add(MaxClockSkew)):
		return fmt.Errorf("%w: expired at %s", ErrBadToken, c.ExpiresAt.UTC().Format(time.RFC3339))
	case c.NotBefore != nil && now.Before(c.NotBefore.Add(-MaxClockSkew)):
		return fmt.Errorf("%w: not valid before %s", ErrBadToken, c.NotBefore.UTC().Format(time.RFC3339))
	case c.ServiceURL == "" || c.ServiceURL != serviceURL:
		return fmt.Errorf("%w: token for serviceUrl %q, activity's is %q", ErrNotAllowed, c.ServiceURL, serviceURL)
	case channelID == "" || !slices.Contains(key.endorsements, channelID):
		return fmt.Errorf("%w: key not endorsed for channel %q", ErrNotAllowed, channelID)
	}
	return nil
}

// key returns the signing key kid, fetching the keys when they are old or
// kid is unknown.
func (v *Validator) key(ctx context.Context, kid string) (signingKey, error) {
	k, ok, fetch := v.cached(kid)
	if ok && !fetch {
		return k, nil
	}
	// Unknown, or due a refresh: behind any fetch under way, which may
	// bring it.
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	// Another request may have fetched while this one waited.
	if k, ok, fetch = v.cached(kid); !fetch {
		if ok {
			return k, nil
		}
		return signingKey{}, fmt.Errorf("unknown key %q", kid)
	}
	v.mu.Lock()
	v.tried = v.now()
	v.mu.Unlock()
	keys, err := v.fetch(ctx)
	v.mu.Lock()
	if err == nil {
		v.keys, v.fetched = keys, v.now()
	}
	k, ok = v.keys[kid]
	v.mu.Unlock()
	switch {
	case ok:
		if err != nil {
			v.log().Warn("teams: could not refresh the signing keys; using the cached ones", "err", err)
		}
		return k, nil
	case err != nil:
		v.log().Error("teams: could not fetch the signing keys", "err", err)
		return signingKey{}, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	return signingKey{}, fmt.Errorf("unknown key %q", kid)
}

// cached returns key kid from the cache and whether the keys should be
// fetched first.
func (v *Validator) cached(kid string) (k signingKey, ok, fetch bool) {
	refresh, minRefetch := v.Refresh, v.MinRefetch
	if refresh <= 0 {
		refresh = 24 * time.Hour
	}
	if minRefetch <= 0 {
		minRefetch = 5 * time.Minute
	}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	k, ok = v.keys[kid]
	mayFetch := v.tried.IsZero() || now.Sub(v.tried) >= minRefetch || now.Before(v.tried)
	if ok {
		return k, true, now.Sub(v.fetched) > refresh && mayFetch
	}
	return k, false, mayFetch
}

// fetch reads the OpenID metadata and the keys it points to.
func (v *Validator) fetch(ctx context.Context) (map[string]signingKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := v.MetadataURL
	if url == "" {
		url = DefaultOpenIDMetadataURL
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, url, &meta); err != nil {
		return nil, fmt.Errorf("openid metadata: %w", err)
	}
	if meta.JWKSURI == "" {
		return nil, fmt.Errorf("openid metadata %s: no jwks_uri", url)
	}
	var set struct {
		Keys []struct {
			Kty          string   `json:"kty"`
			Kid          string   `json:"kid"`
			N            string   `json:"n"`
			E            string   `json:"e"`
			Endorsements []string `json:"endorsements"`
		} `json:"keys"`
	}
	if err := v.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	keys := map[string]signingKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			v.log().Warn("teams: skipped a signing key", "kid", k.Kid, "err", err)
			continue
		}
		keys[k.Kid] = signingKey{pub: pub, endorsements: k.Endorsements}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("signing keys at %s: no RSA key", meta.JWKSURI)
	}
	return keys, nil
}

func (v *Validator) getJSON(ctx context.Context, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := v.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// rsaKey builds a public key from a JWK's base64url modulus and exponent.
func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n64, "="))
	if err != nil || len(nb) < 256 {
		return nil, errors.New("bad modulus")
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e64, "="))
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad exponent")
	}
	e := 0
	for _, b := range eb {
		e = e<<8 | int(b)
	}
	if e < 3 {
		return nil, errors.New("bad exponent")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: e}, nil
}
