package flows

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strconv"
	"strings"
	"sync"

	"github.com/mamori-oss/mamori"
)

// The summary's chart: horizontal bars drawn with the standard library
// and a bitmap font built in (chartfont.hex.gz: GNU Unifont's Japanese
// glyphs, 8 or 16 pixels wide and 16 high, for ASCII, Latin-1 and all of
// JIS X 0208), so the labels are the policy's own words in the reader's
// language, and rendering needs no font file and no dependency.

// panel is one bar chart with a title.
type panel struct {
	Title string
	Bars  []bar
}

type bar struct {
	Label  string
	N      int
	Colour color.RGBA
}

var (
	chartInk   = color.RGBA{0x33, 0x33, 0x33, 0xff}
	chartPaper = color.RGBA{0xff, 0xff, 0xff, 0xff}
	chartRule  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	chartBar   = color.RGBA{0x3b, 0x82, 0xc4, 0xff}
	// chartOther colours a kind a colour table does not name (an
	// outcome added later), unlike any it does.
	chartOther = color.RGBA{0x2a, 0x9d, 0x8f, 0xff}
)

// outcomeColours tell the decisions apart; undecided is grey, so what is
// still waiting stands out by its absence of colour.
var outcomeColours = map[string]color.RGBA{
	mamori.OutcomeKasuhara:   {0xd9, 0x53, 0x4f, 0xff},
	mamori.OutcomeLegitimate: {0x3b, 0x82, 0xc4, 0xff},
	mamori.OutcomeMoreInfo:   {0xe8, 0xa3, 0x3d, 0xff},
	mamori.OutcomeMedical:    {0x8e, 0x6c, 0xbf, 0xff},
	statsUndecided:           {0x99, 0x99, 0x99, 0xff},
}

// bars turns counts into bars labelled with name(id), coloured by id when
// colours has one.
func bars(cs []Count, name func(string) string, colours map[string]color.RGBA) []bar {
	out := make([]bar, len(cs))
	for i, c := range cs {
		col, ok := colours[c.ID]
		switch {
		case !ok && colours != nil:
			col = chartOther
		case !ok:
			col = chartBar
		}
		out[i] = bar{Label: name(c.ID), N: c.N, Colour: col}
	}
	return out
}

// Chart geometry, in pixels.
const (
	chartWidth  = 800
	chartMargin = 16
	chartRow    = 24  // one bar's row; a glyph is 16 high
	chartLabel  = 320 // the widest label (20 full-width characters)
	chartHalf   = 8   // a half-width glyph's advance
)

// chart draws the panels under a title and encodes them as a PNG.
func chart(title string, panels ...panel) ([]byte, error) {
	h := chartMargin + chartRow
	for _, p := range panels {
		h += chartMargin + chartRow*(1+max(1, len(p.Bars)))
	}
	h += chartMargin
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(chartPaper), image.Point{}, draw.Src)

	labelW := 0
	for _, p := range panels {
		for _, b := range p.Bars {
			labelW = max(labelW, textWidth(fitText(b.Label, chartLabel)))
		}
	}
	x0 := chartMargin + labelW + chartHalf         // where bars start
	xMax := chartWidth - chartMargin - 6*chartHalf // room for the count

	y := chartMargin
	drawText(img, chartMargin, y, fitText(title, chartWidth-2*chartMargin), chartInk)
	y += chartRow
	for _, p := range panels {
		y += chartMargin
		drawText(img, chartMargin, y, fitText(p.Title, chartWidth-2*chartMargin), chartInk)
		y += chartRow
		top := 1
		for _, b := range p.Bars {
			top = max(top, b.N)
		}
		fill(img, image.Rect(x0-1, y-2, x0, y+chartRow*max(1, len(p.Bars))), chartRule)
		for _, b := range p.Bars {
			label := fitText(b.Label, chartLabel)
			drawText(img, x0-chartHalf-textWidth(label), y+3, label, chartInk)
			w := max(2, (xMax-x0)*b.N/top)
			fill(img, image.Rect(x0, y+2, x0+w, y+chartRow-2), b.Colour)
			drawText(img, x0+w+chartHalf/2, y+3, fmt.Sprint(b.N), chartInk)
			y += chartRow
		}
		if len(p.Bars) == 0 {
			y += chartRow
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

//go:embed chartfont.hex.gz
var chartFontData []byte

// chartFont is the font, read on first use: rune → its rows, one byte a
// row for a half-width glyph (16 bytes), two for a full-width one (32).
var chartFont = sync.OnceValue(func() map[rune][]byte {
	z, err := gzip.NewReader(bytes.NewReader(chartFontData))
	if err != nil {
		panic("chart font: " + err.Error()) // embedded: cannot happen
	}
	font := make(map[rune][]byte, 8000)
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		code, bits, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.HasPrefix(code, "#") {
			continue
		}
		r, err1 := strconv.ParseUint(code, 16, 32)
		b, err2 := hex.DecodeString(bits)
		if err1 != nil || err2 != nil || (len(b) != 16 && len(b) != 32) {
			continue
		}
		font[rune(r)] = b
	}
	return font
})

// glyph returns r's rows and width; what the font lacks is a "?".
func glyph(r rune) ([]byte, int) {
	f := chartFont()
	g, ok := f[r]
	if !ok {
		g = f['?']
	}
	return g, len(g) / 2
}

// textWidth is how wide s is drawn, in pixels.
func textWidth(s string) int {
	w := 0
	for _, r := range s {
		_, gw := glyph(r)
		w += gw
	}
	return w
}

// fitText returns s, or as much of it as fits in width with "…" after.
func fitText(s string, width int) string {
	if textWidth(s) <= width {
		return s
	}
	ell := textWidth("…")
	w := 0
	for i, r := range s {
		_, gw := glyph(r)
		if w+gw+ell > width {
			return s[:i] + "…"
		}
		w += gw
	}
	return s
}

// drawText draws s with its top left corner at (x, y).
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range s {
		g, w := glyph(r)
		bytesPerRow := w / 8
		for row := range 16 {
			for col := range w {
				if g[row*bytesPerRow+col/8]&(0x80>>(col%8)) != 0 {
					img.SetRGBA(x+col, y+row, c)
				}
			}
		}
		x += w
	}
}
