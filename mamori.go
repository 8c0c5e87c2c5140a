// Package mamori holds Mamori's domain: the policy, conversations, cases,
// platform-neutral messages, and the storage interfaces the flows need.
// It does no I/O; platforms live in bot/, storage in store/, wiring in cmd/.
package mamori

import (
	"errors"
	"time"
)

// Lang is a user-facing language. Japanese is the default.
type Lang string

// The languages every text exists in.
const (
	JA Lang = "ja"
	EN Lang = "en"
)

// LangFromLocale maps a platform locale ("en-US", "ja-JP", "") to a Lang:
// English for any English locale, Japanese otherwise.
func LangFromLocale(locale string) Lang {
	if len(locale) >= 2 && (locale[:2] == "en" || locale[:2] == "EN") {
		return EN
	}
	return JA
}

// Platforms a user or channel can live on.
const (
	PlatformSlack = "slack"
	PlatformTeams = "teams"
	PlatformLocal = "local"
)

// User is a person talking to Mamori on one platform.
type User struct {
	Platform string `json:"platform"`
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Lang     Lang   `json:"lang,omitempty"`
}

// Key identifies the user across the store: platform and platform id.
func (u User) Key() string { return u.Platform + ":" + u.ID }

// Error kinds. Edges turn these into words a person reads; details are logged.
var (
	ErrNotFound  = errors.New("not found")
	ErrForbidden = errors.New("forbidden")
	ErrInvalid   = errors.New("invalid input")
	ErrConflict  = errors.New("conflict")
	// ErrStale says an input was a click on an earlier message: it was
	// answered (the current question again) but changed nothing.
	ErrStale = errors.New("stale input")
)

// Clock returns the current time; injected so schedules are testable.
type Clock func() time.Time
