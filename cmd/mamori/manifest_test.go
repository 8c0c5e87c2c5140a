package main

import (
	"archive/zip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// mustFail runs a command that must fail and returns its error's text.
func mustFail(t *testing.T, e testEnv, args ...string) string {
	t.Helper()
	stdout, _, err := runErr(e, args...)
	if err == nil {
		t.Fatalf("mamori %s: no error; printed:\n%s", strings.Join(args, " "), stdout)
	}
	if stdout != "" {
		t.Errorf("mamori %s failed but printed:\n%s", strings.Join(args, " "), stdout)
	}
	return err.Error()
}

// TestManifestSlackNeedsURL: HTTP mode without -url (or with a URL Slack
// cannot send to) is refused with an error that says what to give,
// rather than a manifest with a placeholder; Socket Mode needs none.
func TestManifestSlackNeedsURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, args := range [][]string{
		{"manifest", "slack"},
		{"manifest", "slack", "-url", ""},
		{"manifest", "slack", "-url", "http://mamori.example.co.jp"},
		{"manifest", "slack", "-url", "mamori.example.co.jp"},
	} {
		msg := mustFail(t, e, args...)
		for _, w := range []string{"-url", "https", "-socket"} {
			if !strings.Contains(msg, w) && !(w == "-socket" && len(args) > 2 && args[3] != "") {
				t.Errorf("mamori %s: %q does not mention %s", strings.Join(args, " "), msg, w)
			}
		}
	}
	out := MustRun(t, e, "", "manifest", "slack", "-url", "https://mamori.example.co.jp")
	var m struct {
		OAuthConfig struct {
			Scopes struct{ Bot []string }
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(m.OAuthConfig.Scopes.Bot, " "), "files:write") || strings.Contains(out, "example.com") {
		t.Errorf("the manifest:\n%s", out)
	}
	if out := MustRun(t, e, "", "manifest", "slack", "-socket"); !strings.Contains(out, "socket_mode_enabled: true") || strings.Contains(out, "/slack/") {
		t.Errorf("socket mode:\n%s", out)
	}
	for _, args := range [][]string{{"manifest"}, {"manifest", "discord"}, {"manifest", "slack", "-socket", "extra"}} {
		if msg := mustFail(t, e, args...); !strings.Contains(msg, "usage") {
			t.Errorf("mamori %s: %q", strings.Join(args, " "), msg)
		}
	}
}

// TestManifestTeamsRefuses: the package needs -url and an app id that is
// a GUID; a refusal leaves no file behind.
func TestManifestTeamsRefuses(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "mamori-teams.zip")
	for _, tc := range []struct {
		name, appID string
		args        []string
		says        []string
	}{
		{"no url", teamsAppID, nil, []string{"-url", "/privacy"}},
		{"http url", teamsAppID, []string{"-url", "http://mamori.example.co.jp"}, []string{"https"}},
		{"app id not a GUID", "mamori-bot", []string{"-url", "https://mamori.example.co.jp"}, []string{"MICROSOFT_APP_ID", "GUID", "mamori-bot"}},
		{"app id cut", teamsAppID[:35], []string{"-url", "https://mamori.example.co.jp"}, []string{"GUID"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e["MICROSOFT_APP_ID"] = tc.appID
			msg := mustFail(t, e, append([]string{"manifest", "teams", "-o", out}, tc.args...)...)
			for _, w := range tc.says {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not mention %s", msg, w)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused package was written to %s", out)
			}
		})
	}
}

// TestManifestTeamsDeveloper: with MAMORI_CONFIG the package names the
// organisation as its developer, and the pages below -url.
func TestManifestTeamsDeveloper(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e["MICROSOFT_APP_ID"] = teamsAppID
	path := filepath.Join(t.TempDir(), "mamori.yaml")
	if err := os.WriteFile(path, exampleConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	e["MAMORI_CONFIG"] = path
	out := MustRun(t, e, "", "manifest", "teams", "-o", "-", "-url", "https://mamori.example.co.jp/")
	z, err := zip.NewReader(strings.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := z.Open("manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var m struct {
		Developer map[string]string `json:"developer"`
	}
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "サンプル株式会社", "privacyUrl": "https://mamori.example.co.jp/privacy",
		"termsOfUseUrl": "https://mamori.example.co.jp/terms", "websiteUrl": "https://mamori.example.co.jp/terms"}
	for k, v := range want {
		if m.Developer[k] != v {
			t.Errorf("developer.%s = %q, want %q", k, m.Developer[k], v)
		}
	}
}
