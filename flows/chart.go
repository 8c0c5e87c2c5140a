package flows

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"

	"github.com/mamori-oss/mamori"
)

// The summary's chart: horizontal bars drawn with the standard library
// and a small built-in pixel font, so rendering needs no font file and
// no dependency. The font is ASCII only; Japanese names go in the
// message's fields and the image's alternative text.

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

// bars turns counts into bars, coloured by id when colours has one.
func bars(cs []Count, colours map[string]color.RGBA) []bar {
	out := make([]bar, len(cs))
	for i, c := range cs {
		col, ok := colours[c.ID]
		if !ok {
			col = chartBar
		}
		out[i] = bar{Label: c.ID, N: c.N, Colour: col}
	}
	return out
}

// Chart geometry, in pixels. The font is drawn at twice its size so it
// reads on a phone.
const (
	chartWidth  = 640
	chartMargin = 16
	chartScale  = 2
	chartAdv    = (glyphW + 1) * chartScale // one character's advance
	chartRow    = 12 * chartScale           // one bar's row
	chartLabel  = 20                        // longest label, in characters
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
			labelW = max(labelW, min(len(b.Label), chartLabel))
		}
	}
	x0 := chartMargin + labelW*chartAdv + chartAdv // where bars start
	xMax := chartWidth - chartMargin - 5*chartAdv  // room for the count

	y := chartMargin
	drawText(img, chartMargin, y, title, chartInk)
	y += chartRow
	for _, p := range panels {
		y += chartMargin
		drawText(img, chartMargin, y, p.Title, chartInk)
		y += chartRow
		top := 1
		for _, b := range p.Bars {
			top = max(top, b.N)
		}
		fill(img, image.Rect(x0-1, y-2, x0, y+chartRow*max(1, len(p.Bars))), chartRule)
		for _, b := range p.Bars {
			label := b.Label
			if len(label) > chartLabel {
				label = label[:chartLabel-1] + "."
			}
			drawText(img, x0-chartAdv-len(label)*chartAdv, y+2, label, chartInk)
			w := max(2, (xMax-x0)*b.N/top)
			fill(img, image.Rect(x0, y+1, x0+w, y+chartRow-3), b.Colour)
			drawText(img, x0+w+chartAdv/2, y+2, fmt.Sprint(b.N), chartInk)
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

// drawText draws s with its top left corner at (x, y). Capitals are drawn as
// small letters and anything the font lacks as "?".
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range strings.ToLower(s) {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for row, bits := range g {
			for col := range glyphW {
				if bits&(1<<(glyphW-1-col)) != 0 {
					fill(img, image.Rect(x+col*chartScale, y+row*chartScale, x+(col+1)*chartScale, y+(row+1)*chartScale), c)
				}
			}
		}
		x += chartAdv
	}
}

const glyphW = 5

// glyphs is a 5×7 pixel font, one row a number, the leftmost pixel the
// highest bit: what ids, counts and dates need.
var glyphs = map[rune][7]uint8{
	' ': {},
	'0': {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110},
	'1': {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110},
	'2': {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111},
	'3': {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110},
	'4': {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010},
	'5': {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110},
	'6': {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110},
	'7': {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000},
	'8': {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110},
	'9': {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100},
	'a': {0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111},
	'b': {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110},
	'c': {0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110},
	'd': {0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111},
	'e': {0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110},
	'f': {0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000},
	'g': {0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110},
	'h': {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001},
	'i': {0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110},
	'j': {0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b10010, 0b01100},
	'k': {0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010},
	'l': {0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110},
	'm': {0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001},
	'n': {0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001},
	'o': {0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110},
	'p': {0b00000, 0b00000, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000},
	'q': {0b00000, 0b00000, 0b01101, 0b10011, 0b01111, 0b00001, 0b00001},
	'r': {0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000},
	's': {0b00000, 0b00000, 0b01110, 0b10000, 0b01110, 0b00001, 0b11110},
	't': {0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110},
	'u': {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101},
	'v': {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100},
	'w': {0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010},
	'x': {0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001},
	'y': {0b00000, 0b00000, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110},
	'z': {0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111},
	'_': {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111},
	'-': {0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000},
	'.': {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100},
	':': {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000},
	'/': {0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000},
	'%': {0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011},
	'(': {0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010},
	')': {0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000},
	'?': {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100},
}
