package main

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// The sections of each page, in order: each has the texts
// legal.<page>.<section>.heading and .text (presets/texts-legal.yaml,
// which an organisation's policy file may replace).
var legalSections = map[string][]string{
	"privacy": {"data", "purpose", "access", "security", "retention", "rights", "contact"},
	"terms":   {"about", "emergency", "use", "no_reprisal", "privacy", "changes", "contact"},
}

// legalPages serves the privacy notice at /privacy and the terms of use
// at /terms: the pages the Teams app package names (and Slack's App
// Directory asks for), from the policy's texts and the configuration
// (the organisation's name, the retention periods). Japanese, or English
// for ?lang=en or a browser that prefers English. Plain HTML, no script,
// nothing fetched from elsewhere.
func legalPages(mux *http.ServeMux, cfg *loaded) {
	for page := range legalSections {
		mux.HandleFunc("GET /"+page, func(w http.ResponseWriter, r *http.Request) {
			l := pageLang(r)
			var b bytes.Buffer
			if err := legalTemplate.Execute(&b, legalPage(cfg, page, l)); err != nil {
				// The template and its data are ours: this cannot fail.
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Language", string(l))
			h.Set("Vary", "Accept-Language")
			h.Set("Cache-Control", "public, max-age=300")
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors *")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			w.Write(b.Bytes())
		})
	}
}

// pageLang is the page's language: ?lang=ja|en, else the first of ja
// and en the browser's Accept-Language prefers, else Japanese.
func pageLang(r *http.Request) mamori.Lang {
	switch r.URL.Query().Get("lang") {
	case "en":
		return mamori.EN
	case "ja":
		return mamori.JA
	}
	type pref struct {
		lang mamori.Lang
		q    float64
		i    int
	}
	var prefs []pref
	for i, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if q > 0 && (base == "ja" || base == "en") {
			prefs = append(prefs, pref{mamori.Lang(base), q, i})
		}
	}
	sort.SliceStable(prefs, func(a, b int) bool { return prefs[a].q > prefs[b].q })
	if len(prefs) > 0 {
		return prefs[0].lang
	}
	return mamori.JA
}

type legalData struct {
	Lang, Title, Intro string
	Sections           []legalSection
	Other              legalLink // the same page in the other language
	Links              []legalLink
}

type legalSection struct {
	ID, Heading string
	Paragraphs  []string
}

type legalLink struct{ Href, Text string }

func legalPage(cfg *loaded, page string, l mamori.Lang) legalData {
	t := func(key string) string { return cfg.policy.T(l, key) }
	org := ""
	if cfg.org != nil {
		org = cfg.org.Name
	}
	if org == "" {
		org = t("legal.company")
	}
	d := legalData{Lang: string(l), Title: t("legal." + page + ".title"), Intro: fmt.Sprintf(t("legal."+page+".intro"), org)}
	for _, s := range legalSections[page] {
		text := t("legal." + page + "." + s + ".text")
		if page == "privacy" && s == "retention" {
			text = fmt.Sprintf(text, sayPeriod(cfg.policy, cfg.retention.Report, l), sayPeriod(cfg.policy, cfg.retention.Consultation, l))
		}
		sec := legalSection{ID: s, Heading: t("legal." + page + "." + s + ".heading")}
		for _, p := range strings.Split(text, "\n") {
			if p = strings.TrimSpace(p); p != "" {
				sec.Paragraphs = append(sec.Paragraphs, p)
			}
		}
		d.Sections = append(d.Sections, sec)
	}
	other := mamori.EN
	if l == mamori.EN {
		other = mamori.JA
	}
	d.Other = legalLink{Href: "?lang=" + string(other), Text: t("legal.other_language")}
	for _, p := range []string{"privacy", "terms"} {
		if p != page {
			d.Links = append(d.Links, legalLink{Href: p + "?lang=" + string(l), Text: t("legal." + p + ".title")})
		}
	}
	return d
}

// sayPeriod says how long something is kept, in l: p, or the default
// (flows.DefaultKeep) when the configuration leaves it out.
func sayPeriod(p *mamori.Policy, period flows.Period, l mamori.Lang) string {
	if period.IsZero() {
		period = flows.DefaultKeep
	}
	if period.Never {
		return p.T(l, "retention.period.never")
	}
	var parts []string
	for _, u := range []struct {
		n   int
		key string
	}{{period.Years, "years"}, {period.Months, "months"}, {period.Days, "days"}} {
		if u.n > 0 {
			parts = append(parts, fmt.Sprintf(p.T(l, "retention.period."+u.key), u.n))
		}
	}
	sep := " "
	if l == mamori.JA {
		sep = ""
	}
	return strings.Join(parts, sep)
}

var legalTemplate = template.Must(template.New("legal").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Hiragino Sans", "Yu Gothic UI", "Noto Sans JP", sans-serif; line-height: 1.7; color: #1d2733; background: #fff; margin: 0; }
header { background: #2c4a6e; color: #fff; padding: 1rem 1.5rem; }
header a { color: #fff; }
main { max-width: 44rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 1.5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.75rem 0 0.5rem; border-bottom: 1px solid #d5dde6; padding-bottom: 0.25rem; }
nav { display: flex; gap: 1.5rem; justify-content: space-between; }
footer { max-width: 44rem; margin: 0 auto; padding: 0 1.5rem 2rem; color: #5b6775; font-size: 0.9rem; }
</style>
</head>
<body>
<header><nav><span>Mamori（守り）</span><a href="{{.Other.Href}}" hreflang="{{if eq .Lang "ja"}}en{{else}}ja{{end}}">{{.Other.Text}}</a></nav></header>
<main>
<h1>{{.Title}}</h1>
<p>{{.Intro}}</p>
{{range .Sections}}<section id="{{.ID}}">
<h2>{{.Heading}}</h2>
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}</section>
{{end}}</main>
<footer>{{range .Links}}<a href="{{.Href}}">{{.Text}}</a>{{end}}</footer>
</body>
</html>
`))
