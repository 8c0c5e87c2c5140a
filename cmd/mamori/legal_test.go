package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori/flows"
)

// legalServer serves legalPages for the built-in example configuration
// with the retention periods given, on a loopback test server.
func legalServer(t *testing.T, report, consultation flows.Period) *httptest.Server {
	t.Helper()
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.retention.Report, cfg.retention.Consultation = report, consultation
	mux := http.NewServeMux()
	legalPages(mux, cfg)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path with the Accept-Language given and returns the
// response and its body.
func get(t *testing.T, srv *httptest.Server, path, acceptLanguage string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// pageText is what a person reads on the page: the body without tags.
func pageText(html string) string {
	if i := strings.Index(html, "<body>"); i >= 0 {
		html = html[i:]
	}
	return tagRE.ReplaceAllString(html, " ")
}

// TestLegalPages: /privacy and /terms answer in Japanese by default and
// for a Japanese browser, in English for ?lang=en or a browser preferring
// English; each names the organisation, has every section (no text key
// left unresolved), links to the other page and the other language; the
// privacy notice gives the configured retention periods.
func TestLegalPages(t *testing.T) {
	srv := legalServer(t, flows.Period{Years: 3}, flows.Period{Months: 18})
	for _, tc := range []struct {
		path, acceptLanguage, lang string
		want                       []string
	}{
		{"/privacy", "", "ja", []string{"個人情報の取扱い", "サンプル株式会社", "保存する期間", "報告：3年", "相談：18か月", "暗号化", "不利益な取扱い", `href="terms?lang=ja"`, `href="?lang=en"`}},
		{"/privacy", "ja-JP,ja;q=0.9,en;q=0.8", "ja", []string{"個人情報の取扱い", "見られる人"}},
		{"/privacy", "fr-FR,fr;q=0.9", "ja", []string{"個人情報の取扱い"}},
		{"/privacy?lang=en", "ja", "en", []string{"privacy notice", "サンプル株式会社", "How long it is kept", "reports 3 years", "consultations 18 months", "encrypted", `href="terms?lang=en"`, `href="?lang=ja"`}},
		{"/privacy", "en-US,en;q=0.9,ja;q=0.5", "en", []string{"privacy notice", "Who can see it"}},
		{"/privacy", "fr, ja;q=0.4, en;q=0.7", "en", []string{"privacy notice"}},
		{"/terms", "", "ja", []string{"利用規約", "サンプル株式会社", "110", "119", "不利益な取扱いの禁止", `href="privacy?lang=ja"`}},
		{"/terms?lang=en", "", "en", []string{"terms of use", "110 (police)", "No unfavourable treatment", `href="privacy?lang=en"`}},
		{"/terms?lang=ja", "en-US", "ja", []string{"利用規約"}},
	} {
		t.Run(tc.path+" "+tc.acceptLanguage, func(t *testing.T) {
			res, body := get(t, srv, tc.path, tc.acceptLanguage)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cl := res.Header.Get("Content-Language"); cl != tc.lang {
				t.Errorf("Content-Language %q, want %s", cl, tc.lang)
			}
			if !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") || res.Header.Get("Vary") != "Accept-Language" {
				t.Errorf("headers %v", res.Header)
			}
			if !strings.HasPrefix(body, "<!doctype html>") || !strings.Contains(body, `<html lang="`+tc.lang+`">`) || !strings.HasSuffix(body, "</html>\n") {
				t.Errorf("not a whole HTML page in %s:\n%s", tc.lang, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q:\n%s", w, body)
				}
			}
			text := pageText(body)
			if strings.Contains(text, "legal.") || strings.Contains(text, "%!") || strings.Contains(text, "%s") {
				t.Errorf("a text key or placeholder shows:\n%s", text)
			}
			page := strings.TrimPrefix(strings.SplitN(tc.path, "?", 2)[0], "/")
			if n := strings.Count(body, "<h2>"); n != len(legalSections[page]) {
				t.Errorf("%d sections, want %d", n, len(legalSections[page]))
			}
			if tc.lang == "en" {
				// Japanese only where it belongs: the organisation's
				// name, the product's, the link to the Japanese page.
				rest := text
				for _, ok := range []string{"サンプル株式会社", "Mamori（守り）", "日本語"} {
					rest = strings.ReplaceAll(rest, ok, "")
				}
				if r, found := hasJapanese(rest); found {
					t.Errorf("the English page shows Japanese (%q):\n%s", r, text)
				}
			}
			if strings.Contains(body, "<script") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				t.Errorf("the page loads or links something from elsewhere:\n%s", body)
			}
		})
	}
}

// TestLegalPagesDefaults: a configuration without retention periods
// says the default (5 years); only GET (and HEAD) are answered; other
// paths are not these pages'.
func TestLegalPagesDefaults(t *testing.T) {
	srv := legalServer(t, flows.Period{}, flows.Period{Never: true})
	_, body := get(t, srv, "/privacy", "")
	if !strings.Contains(body, "報告：5年") || !strings.Contains(body, "相談：無期限") {
		t.Errorf("the default and never periods:\n%s", body)
	}
	_, body = get(t, srv, "/privacy?lang=en", "")
	if !strings.Contains(body, "reports 5 years, consultations indefinitely") {
		t.Errorf("the default and never periods in English:\n%s", body)
	}
	res, err := srv.Client().Post(srv.URL+"/privacy", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /privacy: %d", res.StatusCode)
	}
	res, err = srv.Client().Head(srv.URL + "/terms")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("HEAD /terms: %d", res.StatusCode)
	}
	if res, _ := get(t, srv, "/privacy/more", ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("/privacy/more: %d", res.StatusCode)
	}
}

// TestLegalPagesOverride: an organisation's policy file may replace the
// texts of the pages, as any other text.
func TestLegalPagesOverride(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	txt := cfg.policy.Texts["legal.privacy.contact.text"]
	txt.JA, txt.EN = "個人情報相談室（内線 1234）へ。", "Ask the privacy office (extension 1234)."
	cfg.policy.Texts["legal.privacy.contact.text"] = txt
	cfg.org.Name = ""
	mux := http.NewServeMux()
	legalPages(mux, cfg)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, body := get(t, srv, "/privacy", "")
	if !strings.Contains(body, "内線 1234") || !strings.Contains(body, "会社（以下「会社」）") {
		t.Errorf("the overridden text and the organisation without a name:\n%s", body)
	}
	_, body = get(t, srv, "/privacy?lang=en", "")
	if !strings.Contains(body, "extension 1234") || !strings.Contains(body, "the company (&#34;the company&#34;)") {
		t.Errorf("in English:\n%s", body)
	}
}
