package mamori_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// On-site steps are read on a phone by someone in distress: a handful of
// steps, each a glance long.
const (
	maxOnsiteSteps = 6
	maxOnsiteTitle = 15 // characters, in Japanese
	maxOnsiteText  = 60
	maxOnsiteEN    = 120 // an English text, which runs longer
)

// TestPresetsOnsite checks that every preset says what to do on the spot,
// in both languages, with a step about calling the police.
func TestPresetsOnsite(t *testing.T) {
	for _, name := range mamori.Presets() {
		t.Run(name, func(t *testing.T) {
			p, err := mamori.Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Onsite) == 0 || len(p.Onsite) > maxOnsiteSteps {
				t.Fatalf("%d on-site steps, want 1 to %d", len(p.Onsite), maxOnsiteSteps)
			}
			police := 0
			for _, st := range p.Onsite {
				for what, x := range map[string]mamori.Text{"title": st.Title, "text": st.Text} {
					if strings.TrimSpace(x.JA) == "" || strings.TrimSpace(x.EN) == "" {
						t.Errorf("step %s: %s %+v needs ja and en", st.ID, what, x)
					}
				}
				if n := utf8.RuneCountInString(st.Title.JA); n > maxOnsiteTitle {
					t.Errorf("step %s: title %q is %d characters, want at most %d", st.ID, st.Title.JA, n, maxOnsiteTitle)
				}
				if n := utf8.RuneCountInString(st.Text.JA); n > maxOnsiteText {
					t.Errorf("step %s: text %q is %d characters, want at most %d", st.ID, st.Text.JA, n, maxOnsiteText)
				}
				if n := len(st.Text.EN); n > maxOnsiteEN {
					t.Errorf("step %s: text %q is %d characters, want at most %d", st.ID, st.Text.EN, n, maxOnsiteEN)
				}
				if st.Police {
					police++
					if !strings.Contains(st.Text.JA, "110") || !strings.Contains(st.Text.EN, "110") {
						t.Errorf("police step %s does not give the number 110: %+v", st.ID, st.Text)
					}
				}
			}
			if police != 1 {
				t.Errorf("%d police steps, want 1", police)
			}
		})
	}
}

// TestOnsiteDefaults checks the built-in steps shown for a policy without
// its own: every text is there in both languages.
func TestOnsiteDefaults(t *testing.T) {
	p, err := mamori.ParsePolicy([]byte("id: test\nbehaviours:\n  - {id: violence, group: regardless, label: {ja: 暴力, en: Violence}}\n"))
	if err != nil {
		t.Fatalf("a policy without on-site steps: %v", err)
	}
	if len(p.Onsite) != 0 {
		t.Errorf("on-site steps appeared from nowhere: %+v", p.Onsite)
	}
	for _, key := range []string{"onsite.header", "onsite.intro", "onsite.note", "onsite.menu"} {
		if p.T(mamori.JA, key) == key || p.T(mamori.EN, key) == key {
			t.Errorf("text %s is missing", key)
		}
	}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		if !strings.Contains(p.T(l, "onsite.note"), "110") || !strings.Contains(p.T(l, "onsite.note"), "119") {
			t.Errorf("onsite.note in %s lacks 110 or 119: %q", l, p.T(l, "onsite.note"))
		}
	}
}

func TestParsePolicyRejectsOnsite(t *testing.T) {
	const good = `id: test
behaviours:
  - {id: violence, group: regardless, label: {ja: 暴力, en: Violence}}
onsite:
  - id: safety
    title: {ja: 安全を第一に, en: Safety first}
    text: {ja: その場を離れます。, en: Leave.}
`
	if _, err := mamori.ParsePolicy([]byte(good)); err != nil {
		t.Fatalf("the valid base policy: %v", err)
	}
	for name, extra := range map[string]string{
		"no id":        "  - {title: {ja: 通報, en: Police}, text: {ja: 110番。, en: Call 110.}}\n",
		"duplicate id": "  - {id: safety, title: {ja: 通報, en: Police}, text: {ja: 110番。, en: Call 110.}}\n",
		"no en title":  "  - {id: police, title: {ja: 通報}, text: {ja: 110番。, en: Call 110.}}\n",
		"no en text":   "  - {id: police, title: {ja: 通報, en: Police}, text: {ja: 110番。}}\n",
		"no text":      "  - {id: police, title: {ja: 通報, en: Police}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mamori.ParsePolicy([]byte(good + extra))
			if !errors.Is(err, mamori.ErrInvalid) {
				t.Errorf("ParsePolicy = %v, want ErrInvalid", err)
			}
		})
	}
}
