package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
)

// The example's care contacts are per language; one given as a plain
// string (an older configuration) reads the same in both; languages
// name the people who read the other language.
func TestConfigContactsAndLanguages(t *testing.T) {
	t.Parallel()
	l, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	c := l.policy.Care
	if len(c) != 4 || c[0].Contact.In(mamori.EN) != "ext. 1234 / soudan@example.co.jp" || c[0].Contact.In(mamori.JA) != "内線 1234 / soudan@example.co.jp" {
		t.Fatalf("care resources: %+v", c)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := `contact: {ja: "健康管理室 内線 5678", en: "Health office, ext. 5678"}`
	if !strings.Contains(string(exampleConfig), old) {
		t.Fatalf("the example configuration has no %s", old)
	}
	plain, err := loadConfig(write("plain.yaml", strings.Replace(string(exampleConfig), old, `contact: "健康管理室 内線 5678"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c := plain.policy.Care[1].Contact; c.EN != "健康管理室 内線 5678" || c.JA != "健康管理室 内線 5678" {
		t.Errorf("a contact as a plain string: %+v", c)
	}
	good := string(exampleConfig) + "\nlanguages:\n  en: [U0ALEX, alex@example.co.jp]\n"
	l, err = loadConfig(write("langs.yaml", good))
	if err != nil {
		t.Fatal(err)
	}
	if lang, ok := l.org.LangOf(mamori.User{ID: "U9", Email: "Alex@example.co.jp"}); !ok || lang != mamori.EN {
		t.Errorf("LangOf by email = %q, %v", lang, ok)
	}
	if lang, ok := l.org.LangOf(mamori.User{ID: "U0ALEX"}); !ok || lang != mamori.EN {
		t.Errorf("LangOf by id = %q, %v", lang, ok)
	}
	if _, ok := l.org.LangOf(mamori.User{ID: "me"}); ok {
		t.Error("someone not listed has a directory language")
	}
	bad := string(exampleConfig) + "\nlanguages:\n  fr: [U0ALEX]\n"
	if _, err := loadConfig(write("fr.yaml", bad)); err == nil || !strings.Contains(err.Error(), "languages") {
		t.Errorf("languages: fr: err = %v", err)
	}
}
