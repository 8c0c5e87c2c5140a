//go:build ignore

// Chartfont_gen writes chartfont.hex.gz, the chart's bitmap font: the
// glyphs of GNU Unifont (Japanese variant, unifont_jp.hex; SIL OFL 1.1 or
// GPLv2+ with the font embedding exception) for ASCII, Latin-1, general
// punctuation, half-width kana and every character of JIS X 0208 — what
// Japanese and English labels are written with. On Debian:
//
//	apt-get download unifont && dpkg-deb -x unifont_*.deb /tmp/unifont
//	go run chartfont_gen.go -hex /tmp/unifont/usr/share/unifont/unifont_jp.hex
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"log"
	"os"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/japanese"
)

func main() {
	hex := flag.String("hex", "/usr/share/unifont/unifont_jp.hex", "the Unifont .hex file")
	out := flag.String("o", "chartfont.hex.gz", "the file to write")
	flag.Parse()

	want := map[rune]bool{}
	add := func(from, to rune) {
		for r := from; r <= to; r++ {
			want[r] = true
		}
	}
	add(0x20, 0x7e)     // ASCII
	add(0xa0, 0xff)     // Latin-1
	add(0x2010, 0x206f) // general punctuation: – — ‘ ’ “ ” … ‰
	add(0x2190, 0x2193) // arrows
	add(0xff61, 0xff9f) // half-width kana
	// JIS X 0208, through its EUC-JP encoding: rows 0xa1–0xf4.
	dec := japanese.EUCJP.NewDecoder()
	for hi := 0xa1; hi <= 0xfe; hi++ {
		for lo := 0xa1; lo <= 0xfe; lo++ {
			s, err := dec.Bytes([]byte{byte(hi), byte(lo)})
			if err != nil {
				continue
			}
			for _, r := range string(s) {
				if r != '\uFFFD' {
					want[r] = true
				}
			}
		}
	}

	in, err := os.Open(*hex)
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	z, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	w := bufio.NewWriter(z)
	w.WriteString("# GNU Unifont (unifont_jp.hex), a subset: see chartfont_gen.go. SIL OFL 1.1 or GPLv2+ with the font embedding exception.\n")
	n := 0
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		code, _, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		r, err := strconv.ParseUint(code, 16, 32)
		if err != nil || !want[rune(r)] {
			continue
		}
		w.WriteString(sc.Text() + "\n")
		n++
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := z.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d glyphs", n)
}
