package teams_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mamori-oss/mamori/bot/teams"
)

// unzip returns the files of an app package by name.
func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range z.File {
		if strings.Contains(f.Name, "/") {
			t.Errorf("%s is in a folder: Teams reads the package's files at its root", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// teamsManifest is manifest.json as schema v1.17 has it, the fields
// Mamori writes; unknown fields are refused when it is read.
type teamsManifest struct {
	Schema          string `json:"$schema"`
	ManifestVersion string `json:"manifestVersion"`
	Version         string `json:"version"`
	ID              string `json:"id"`
	Developer       struct {
		Name          string `json:"name"`
		WebsiteURL    string `json:"websiteUrl"`
		PrivacyURL    string `json:"privacyUrl"`
		TermsOfUseURL string `json:"termsOfUseUrl"`
	} `json:"developer"`
	Name        struct{ Short, Full string } `json:"name"`
	Description struct{ Short, Full string } `json:"description"`
	Icons       struct{ Color, Outline string }
	AccentColor string `json:"accentColor"`
	Bots        []struct {
		BotID              string   `json:"botId"`
		Scopes             []string `json:"scopes"`
		SupportsFiles      bool     `json:"supportsFiles"`
		IsNotificationOnly bool     `json:"isNotificationOnly"`
		CommandLists       []struct {
			Scopes   []string `json:"scopes"`
			Commands []struct {
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"commands"`
		} `json:"commandLists"`
	} `json:"bots"`
	Permissions      []string `json:"permissions"`
	LocalizationInfo struct {
		DefaultLanguageTag  string `json:"defaultLanguageTag"`
		AdditionalLanguages []struct {
			LanguageTag string `json:"languageTag"`
			File        string `json:"file"`
		} `json:"additionalLanguages"`
	} `json:"localizationInfo"`
	ValidDomains []string `json:"validDomains"`
}

var (
	guidRE        = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	semverRE      = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	languageTagRE = regexp.MustCompile(`^[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8}){0,2}$`)
	hexColorRE    = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	// The keys a v1.17 localization file may have (its schema's
	// properties and patternProperties that Mamori's manifest uses).
	locKeyRE = regexp.MustCompile(`^(\$schema|name\.short|name\.full|description\.short|description\.full|bots\[0\]\.commandLists\[[0-2]\]\.commands\[[0-9]\]\.(title|description))$`)
)

// TestPackage unzips the app package and checks it as Teams' upload
// does: manifest.json's required fields and limits (schema v1.17), the
// privacy and terms pages below the URL, its host as the valid domain,
// Japanese as the default language with every language file named in
// localizationInfo in the package, valid JSON with only the keys the
// localization schema allows, every text translated, English alone in
// the English one.
func TestPackage(t *testing.T) {
	opts := teams.ManifestOptions{AppID: appID, URL: "https://mamori.example.co.jp/kasuhara/", Developer: "サンプル株式会社", Version: "1.2.3"}
	var buf bytes.Buffer
	if err := teams.Package(&buf, opts); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())

	var m teamsManifest
	dec := json.NewDecoder(bytes.NewReader(files["manifest.json"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("manifest.json: %v\n%s", err, files["manifest.json"])
	}
	runes := utf8.RuneCountInString
	checks := []struct {
		what string
		ok   bool
	}{
		{"$schema is v1.17's", m.Schema == "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"},
		{"manifestVersion 1.17", m.ManifestVersion == "1.17"},
		{"version is semver", semverRE.MatchString(m.Version) && m.Version == "1.2.3"},
		{"id is the app id, a GUID", m.ID == appID && guidRE.MatchString(m.ID)},
		{"developer.name 1–32", runes(m.Developer.Name) > 0 && runes(m.Developer.Name) <= 32 && m.Developer.Name == "サンプル株式会社"},
		{"privacyUrl is URL/privacy", m.Developer.PrivacyURL == "https://mamori.example.co.jp/kasuhara/privacy"},
		{"termsOfUseUrl is URL/terms", m.Developer.TermsOfUseURL == "https://mamori.example.co.jp/kasuhara/terms"},
		{"websiteUrl is a page mamori serve has", m.Developer.WebsiteURL == m.Developer.TermsOfUseURL || m.Developer.WebsiteURL == m.Developer.PrivacyURL},
		{"name.short 1–30", runes(m.Name.Short) > 0 && runes(m.Name.Short) <= 30},
		{"name.full 1–100, not name.short", runes(m.Name.Full) > 0 && runes(m.Name.Full) <= 100 && m.Name.Full != m.Name.Short},
		{"description.short 1–80", runes(m.Description.Short) > 0 && runes(m.Description.Short) <= 80},
		{"description.full 1–4000, not repeating the short one", runes(m.Description.Full) > 0 && runes(m.Description.Full) <= 4000 &&
			!strings.Contains(m.Description.Full, m.Description.Short)},
		{"icons in the package", len(files[m.Icons.Color]) > 0 && len(files[m.Icons.Outline]) > 0},
		{"accentColor", hexColorRE.MatchString(m.AccentColor)},
		{"one bot, the app id", len(m.Bots) == 1 && m.Bots[0].BotID == appID && !m.Bots[0].IsNotificationOnly},
		{"bot in personal chats and teams", len(m.Bots) == 1 && slices.Equal(m.Bots[0].Scopes, []string{"personal", "team"})},
		{"one personal command list of at most 10", len(m.Bots) == 1 && len(m.Bots[0].CommandLists) == 1 &&
			slices.Equal(m.Bots[0].CommandLists[0].Scopes, []string{"personal"}) && len(m.Bots[0].CommandLists[0].Commands) <= 10},
		{"validDomains is the URL's host", slices.Equal(m.ValidDomains, []string{"mamori.example.co.jp"})},
		{"default language ja-jp", m.LocalizationInfo.DefaultLanguageTag == "ja-jp" && teams.DefaultLanguage == "ja-jp"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("manifest.json: want %s", c.what)
		}
	}
	if t.Failed() {
		t.Logf("manifest.json:\n%s", files["manifest.json"])
	}

	// The manifest's own texts are the default language's: Japanese,
	// not two languages glued with " / ".
	manifestTexts := map[string]string{"name.full": m.Name.Full, "description.short": m.Description.Short, "description.full": m.Description.Full}
	commands := m.Bots[0].CommandLists[0].Commands
	for i, c := range commands {
		if runes(c.Title) == 0 || runes(c.Title) > 32 || runes(c.Description) == 0 || runes(c.Description) > 128 {
			t.Errorf("command %d: %+v (title 1–32, description 1–128)", i, c)
		}
		manifestTexts[fmt.Sprintf("bots[0].commandLists[0].commands[%d].description", i)] = c.Description
	}
	for key, s := range manifestTexts {
		if strings.Contains(s, " / ") || !hasJapanese(s) {
			t.Errorf("manifest.json %s is not Japanese alone: %q", key, s)
		}
	}

	// Every language file named is in the package and is a localization
	// file: valid JSON, only the schema's keys, every required one, and
	// a translation of every text of the manifest.
	var tags []string
	for _, l := range m.LocalizationInfo.AdditionalLanguages {
		tags = append(tags, l.LanguageTag)
		if !languageTagRE.MatchString(l.LanguageTag) || l.LanguageTag == m.LocalizationInfo.DefaultLanguageTag {
			t.Errorf("language tag %q", l.LanguageTag)
		}
		b, ok := files[l.File]
		if !ok {
			t.Errorf("%s's file %s is not in the package", l.LanguageTag, l.File)
			continue
		}
		var loc map[string]string
		if err := json.Unmarshal(b, &loc); err != nil {
			t.Errorf("%s is not a JSON object of strings: %v", l.File, err)
			continue
		}
		for key, v := range loc {
			if !locKeyRE.MatchString(key) {
				t.Errorf("%s: key %q is not in the localization schema", l.File, key)
			}
			if key != "$schema" && strings.HasPrefix(l.LanguageTag, "en") && hasJapanese(v) {
				t.Errorf("%s: %s shows Japanese to an English reader: %q", l.File, key, v)
			}
		}
		for _, key := range []string{"name.short", "name.full", "description.short", "description.full"} {
			if loc[key] == "" {
				t.Errorf("%s lacks %s (required)", l.File, key)
			}
		}
		for key := range manifestTexts {
			if loc[key] == "" {
				t.Errorf("%s does not translate %s", l.File, key)
			}
		}
		for i := range commands {
			if title := loc[fmt.Sprintf("bots[0].commandLists[0].commands[%d].title", i)]; title == "" || runes(title) > 32 {
				t.Errorf("%s: command %d's title %q", l.File, i, title)
			}
		}
		if loc["name.full"] == loc["name.short"] || strings.Contains(loc["description.full"], loc["description.short"]) ||
			runes(loc["description.short"]) > 80 || runes(loc["name.full"]) > 100 {
			t.Errorf("%s: names and descriptions break Teams' rules: %v", l.File, loc)
		}
	}
	if !slices.Contains(tags, "en-us") {
		t.Errorf("no English file: localizationInfo %+v", m.LocalizationInfo)
	}
	// Nothing else than the manifest, its icons and its language files.
	for name := range files {
		named := name == "manifest.json" || name == m.Icons.Color || name == m.Icons.Outline
		for _, l := range m.LocalizationInfo.AdditionalLanguages {
			named = named || name == l.File
		}
		if !named {
			t.Errorf("%s is in the package but nothing names it", name)
		}
	}
}

func hasJapanese(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
			return true
		}
	}
	return false
}

// TestManifestRefuses: an app id that is not a GUID, and a URL that is
// missing or not https, stop the package with an error that says what
// to give.
func TestManifestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    teams.ManifestOptions
		says string
	}{
		{"no app id", teams.ManifestOptions{URL: "https://mamori.example.co.jp"}, "app id"},
		{"app id not a GUID", teams.ManifestOptions{AppID: "mamori-bot", URL: "https://mamori.example.co.jp"}, "GUID"},
		{"app id with braces", teams.ManifestOptions{AppID: "{" + appID + "}", URL: "https://mamori.example.co.jp"}, "GUID"},
		{"app id cut short", teams.ManifestOptions{AppID: appID[:30], URL: "https://mamori.example.co.jp"}, "GUID"},
		{"no URL", teams.ManifestOptions{AppID: appID}, "-url"},
		{"http", teams.ManifestOptions{AppID: appID, URL: "http://mamori.example.co.jp"}, "https"},
		{"no host", teams.ManifestOptions{AppID: appID, URL: "https:///mamori"}, "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for what, f := range map[string]func(teams.ManifestOptions) error{
				"Manifest":     func(o teams.ManifestOptions) error { _, err := teams.Manifest(o); return err },
				"Localization": func(o teams.ManifestOptions) error { _, err := teams.Localization(o); return err },
				"Package":      func(o teams.ManifestOptions) error { return teams.Package(io.Discard, o) },
			} {
				err := f(tc.o)
				if err == nil {
					t.Errorf("%s: no error", what)
				} else if !strings.Contains(err.Error(), tc.says) {
					t.Errorf("%s: %v does not say %q", what, err, tc.says)
				}
			}
		})
	}
}
