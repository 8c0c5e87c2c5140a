package flows

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
)

// Every label a chart can show — each preset's behaviours, the decisions
// and the summary's own words, in both languages — is drawn with glyphs
// of the built-in font, none as "?".
func TestChartFontCoversLabels(t *testing.T) {
	var labels []string
	for _, name := range mamori.Presets() {
		p, err := mamori.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
			for _, b := range p.Behaviours {
				labels = append(labels, b.Label.In(l))
			}
			for _, k := range []string{"stats.chart.title", "stats.by_behaviour", "stats.by_outcome", "stats.undecided",
				"stats.no_behaviour", "stats.month", "decision." + mamori.OutcomeKasuhara, "decision." + mamori.OutcomeLegitimate,
				"decision." + mamori.OutcomeMoreInfo, "decision." + mamori.OutcomeMedical} {
				labels = append(labels, p.T(l, k))
			}
		}
	}
	f := chartFont()
	for _, s := range labels {
		for _, r := range s {
			if _, ok := f[r]; !ok {
				t.Errorf("%q: no glyph for %q", s, r)
			}
		}
	}
}

func TestFitText(t *testing.T) {
	if w := textWidth("暴言 ok"); w != 16*2+8*3 {
		t.Errorf("textWidth = %d, want 56", w)
	}
	long := strings.Repeat("長", 30)
	got := fitText(long, chartLabel)
	if textWidth(got) > chartLabel || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "長長長") {
		t.Errorf("fitText = %q (%d px)", got, textWidth(got))
	}
	if got := fitText("short", chartLabel); got != "short" {
		t.Errorf("fitText(short) = %q", got)
	}
}

// A Japanese label is drawn, not a row of question marks: the two charts
// differ only where their labels do.
func TestChartDrawsJapanese(t *testing.T) {
	draw := func(label string) *image.RGBA {
		b, err := chart("タイトル", panel{Title: "行為別", Bars: []bar{{Label: label, N: 3, Colour: chartBar}}})
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return img.(*image.RGBA)
	}
	a, b := draw("暴言"), draw("脅迫")
	if bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("two Japanese labels drew the same pixels")
	}
	q := draw("??")
	if bytes.Equal(a.Pix, q.Pix) {
		t.Fatal("a Japanese label drew as question marks")
	}
}
