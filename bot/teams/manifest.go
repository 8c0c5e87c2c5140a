package teams

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// ManifestOptions are what the Teams app package names.
type ManifestOptions struct {
	AppID string // the bot's Microsoft App ID (a GUID); also the Teams app's id
	Name  string // short name, default "Mamori"
	// URL is the public https base URL of `mamori serve` (e.g.
	// "https://mamori.example.co.jp"): the privacy notice and the terms
	// of use are at URL/privacy and URL/terms, and its host is the
	// package's valid domain.
	URL       string
	Developer string // who publishes the app: the organisation; default Name
	Version   string // the package's version, default "1.0.0"
}

// Commands are the personal chat's command list: each title is also a
// word the adapter understands typed (startWords, homeWords). The
// manifest has the Japanese ones, the default language; Teams clients in
// English read the English ones from the package's localization file.
// SOS comes first: it is for someone in danger now, who should not have
// to look for it (typed, "SOS" works as well, as do 助けて and たすけて).
var Commands = []struct{ Title, Description, EnglishTitle, English string }{
	{"SOS", "いま危険なとき、上長と人事にすぐ知らせる",
		"SOS", "Get help now: alert your supervisors and HR at once"},
	{"メニュー", "メニューを開く", "menu", "Open the menu"},
	{"報告", "カスハラを報告する", "report", "Report an incident"},
	{"相談", "カスハラか迷うときに相談する", "consult", "Ask for advice, if you are unsure"},
	{"方針", "会社の方針を見る", "policy", "Read the company policy"},
	{"ホーム", "自分の案件と状況・担当の案件を見る", "home", "Your cases, their status, and the cases you handle"},
	{"確認", "お客様がお断りの対象か確かめる", "check", "Check whether a customer is refused service"},
}

// DefaultLanguage is the language of manifest.json's own texts.
const DefaultLanguage = "ja-jp"

// englishTags are the client languages given the English localization
// file; any other language reads the manifest's own, Japanese, texts.
var englishTags = []string{"en-us", "en-gb"}

const (
	manifestVersion    = "1.17"
	manifestSchema     = "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"
	localizationSchema = "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.Localization.schema.json"
	// EnglishFile is the package's English localization file.
	EnglishFile = "en.json"
)

// texts are the package's texts in one language: the keys are the
// localization file's (name.short, bots[0]…).
type texts struct {
	nameFull, descShort, descFull string
	title, desc                   func(i int) string
}

var japanese = texts{
	nameFull:  "%s（守り）カスハラの報告・相談・ケア",
	descShort: "カスハラの報告・相談・ケアを、いつものチャットで",
	descFull: "Mamori（守り）は、会社のカスタマーハラスメント（カスハラ）対策の方針を Teams で運用します。" +
		"従業員は個人チャットで出来事を報告でき、カスハラか迷うときは相談できます。いま危険なときは SOS で上長と人事にすぐ知らせます。" +
		"上長はチャネルで方針の二つの基準に沿って判断し、人事（相談窓口）がケア・研修・記録で支えます。" +
		"報告や相談をしたことを理由に不利益な扱いを受けることはありません。",
	title: func(i int) string { return Commands[i].Title },
	desc:  func(i int) string { return Commands[i].Description },
}

var english = texts{
	nameFull:  "%s — customer-harassment reports and care",
	descShort: "Report customer harassment, ask for advice, get care: in your chat",
	descFull: "Mamori runs the company's customer-harassment (kasuhara) policy in Teams: " +
		"employees report an incident or ask for advice confidentially in a personal chat, and raise an SOS to alert " +
		"their supervisors and HR at once when in danger. Supervisors judge cases on the policy's two criteria in their channel, " +
		"and HR (the consultation desk) follows up with care, training and records. " +
		"Nobody is treated unfairly for reporting or asking.",
	title: func(i int) string { return Commands[i].EnglishTitle },
	desc:  func(i int) string { return Commands[i].English },
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// check validates o and fills in its defaults; base is o.URL, parsed.
func (o *ManifestOptions) check() (base *url.URL, err error) {
	switch {
	case o.AppID == "":
		return nil, fmt.Errorf("teams manifest: no app id (MICROSOFT_APP_ID, the Azure Bot's Microsoft App ID)")
	case !guid.MatchString(o.AppID):
		return nil, fmt.Errorf("teams manifest: the app id %q is not a GUID such as 00000000-0000-0000-0000-000000000000: copy the Microsoft App ID from the Azure Bot's Configuration page", o.AppID)
	}
	if strings.TrimSpace(o.URL) == "" {
		return nil, fmt.Errorf("teams manifest: no URL: give the public https URL of mamori serve (-url https://mamori.example.co.jp); the privacy notice and the terms of use are below it")
	}
	base, err = url.Parse(strings.TrimRight(strings.TrimSpace(o.URL), "/"))
	if err != nil || base.Scheme != "https" || base.Hostname() == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("teams manifest: the URL must be the https URL of mamori serve, such as https://mamori.example.co.jp, not %q", o.URL)
	}
	if o.Name == "" {
		o.Name = "Mamori"
	}
	if o.Developer == "" {
		o.Developer = o.Name
	}
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	return base, nil
}

// Localization returns the English localization file of the package:
// the app's name, descriptions and command list in English alone.
func Localization(o ManifestOptions) ([]byte, error) {
	if _, err := o.check(); err != nil {
		return nil, err
	}
	m := map[string]any{
		"$schema":           localizationSchema,
		"name.short":        truncate(o.Name, 30),
		"name.full":         truncate(fmt.Sprintf(english.nameFull, o.Name), 100),
		"description.short": truncate(english.descShort, 80),
		"description.full":  truncate(english.descFull, 4000),
	}
	for i := range Commands {
		m[fmt.Sprintf("bots[0].commandLists[0].commands[%d].title", i)] = truncate(english.title(i), 32)
		m[fmt.Sprintf("bots[0].commandLists[0].commands[%d].description", i)] = truncate(english.desc(i), 128)
	}
	return json.MarshalIndent(m, "", "  ")
}

// Manifest returns manifest.json of the Teams app: the bot, in personal
// chats and teams, with its command list, in Japanese (DefaultLanguage);
// the English localization file is named for English clients. The
// privacy notice and the terms of use are the pages `mamori serve` has
// below o.URL, whose host is the valid domain.
func Manifest(o ManifestOptions) ([]byte, error) {
	base, err := o.check()
	if err != nil {
		return nil, err
	}
	var additional []any
	for _, tag := range englishTags {
		additional = append(additional, map[string]string{"languageTag": tag, "file": EnglishFile})
	}
	var commands []map[string]string
	for i := range Commands {
		commands = append(commands, map[string]string{"title": truncate(japanese.title(i), 32), "description": truncate(japanese.desc(i), 128)})
	}
	m := map[string]any{
		"$schema":         manifestSchema,
		"manifestVersion": manifestVersion,
		"version":         o.Version,
		"id":              o.AppID,
		"developer": map[string]string{
			"name": truncate(o.Developer, 32),
			// The terms say what Mamori is and whom to ask: the page
			// about the app that `mamori serve` has.
			"websiteUrl":    base.JoinPath("terms").String(),
			"privacyUrl":    base.JoinPath("privacy").String(),
			"termsOfUseUrl": base.JoinPath("terms").String(),
		},
		"name":        map[string]string{"short": truncate(o.Name, 30), "full": truncate(fmt.Sprintf(japanese.nameFull, o.Name), 100)},
		"description": map[string]string{"short": truncate(japanese.descShort, 80), "full": truncate(japanese.descFull, 4000)},
		"icons":       map[string]string{"color": "color.png", "outline": "outline.png"},
		"accentColor": "#2C4A6E",
		"bots": []any{map[string]any{
			"botId": o.AppID, "scopes": []string{"personal", "team"}, "supportsFiles": true, "isNotificationOnly": false,
			"commandLists": []any{map[string]any{"scopes": []string{"personal"}, "commands": commands}},
		}},
		"permissions":      []string{"identity", "messageTeamMembers"},
		"localizationInfo": map[string]any{"defaultLanguageTag": DefaultLanguage, "additionalLanguages": additional},
		"validDomains":     []string{base.Hostname()},
	}
	return json.MarshalIndent(m, "", "  ")
}

// Package writes the app package — manifest.json, the English
// localization file and both icons — as the zip Teams uploads.
func Package(w io.Writer, o ManifestOptions) error {
	manifest, err := Manifest(o)
	if err != nil {
		return err
	}
	english, err := Localization(o)
	if err != nil {
		return err
	}
	z := zip.NewWriter(w)
	// A fixed time: the same options give the same bytes.
	at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []struct {
		name string
		data func() ([]byte, error)
	}{
		{"manifest.json", func() ([]byte, error) { return manifest, nil }},
		{EnglishFile, func() ([]byte, error) { return english, nil }},
		{"color.png", func() ([]byte, error) { return icon(192, false) }},
		{"outline.png", func() ([]byte, error) { return icon(32, true) }},
	} {
		b, err := f.data()
		if err != nil {
			return err
		}
		fw, err := z.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: at})
		if err != nil {
			return err
		}
		if _, err := fw.Write(b); err != nil {
			return err
		}
	}
	return z.Close()
}

// icon draws Mamori's shield: white on the accent colour (192×192), or
// white on transparent (the 32×32 outline Teams asks for).
func icon(size int, outline bool) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	accent := color.NRGBA{0x2c, 0x4a, 0x6e, 0xff}
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	for y := range size {
		for x := range size {
			// Centred coordinates in [-1, 1].
			fx := (float64(x)+0.5)/float64(size)*2 - 1
			fy := (float64(y)+0.5)/float64(size)*2 - 1
			in := shield(fx, fy, 0.62)
			edge := in && !shield(fx, fy, 0.62-4.0/float64(size))
			switch {
			case outline && edge:
				img.SetNRGBA(x, y, white)
			case outline:
			case in && !edge && shield(fx, fy, 0.40) && !shield(fx, fy, 0.40-6.0/float64(size)):
				img.SetNRGBA(x, y, accent)
			case in:
				img.SetNRGBA(x, y, white)
			default:
				img.SetNRGBA(x, y, accent)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// shield reports whether (x, y) is inside a shield of half-width w: flat
// top, straight sides, a curved point at the bottom.
func shield(x, y, w float64) bool {
	top, mid, bottom := -w*1.1, 0.0, w*1.35
	switch {
	case y < top || y > bottom:
		return false
	case y <= mid:
		return math.Abs(x) <= w
	}
	t := (y - mid) / (bottom - mid)
	return math.Abs(x) <= w*math.Sqrt(1-t*t)
}
