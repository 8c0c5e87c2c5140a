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
	"time"
)

// ManifestOptions are what the Teams app package names.
type ManifestOptions struct {
	AppID   string // the bot's Microsoft App ID; also the Teams app's id
	Name    string // short name, default "Mamori"
	Website string // the organisation's page about Mamori (https)
	Version string // the package's version, default "1.0.0"
}

// Commands are the personal chat's command list: each is also typed.
// The manifest's descriptions are in both languages; Teams clients in
// English read English's alone (the package's localization files).
// SOS comes first: it is for someone in danger now, who should not have
// to look for it (typed, "SOS" works as well, as do 助けて and たすけて).
var Commands = []struct{ Title, Description, English string }{
	{"SOS", "いま危険なとき、上長と人事にすぐ知らせる / Get help now: alert your supervisors and HR",
		"Get help now: alert your supervisors and HR at once"},
	{"menu", "メニューを開く / Open the menu", "Open the menu"},
	{"report", "カスハラを報告する / Report an incident", "Report an incident"},
	{"consult", "カスハラか迷うときに相談する / Consult, if you are unsure", "Ask for advice, if you are unsure"},
	{"policy", "会社の方針を見る / Read the company policy", "Read the company policy"},
	{"home", "自分の案件と状況・担当の案件を見る / Your cases, their status, and the cases you handle",
		"Your cases, their status, and the cases you handle"},
}

// englishTags are the client languages given the English localization
// file; any other language reads the manifest's own texts, which have
// both languages.
var englishTags = []string{"en-us", "en-gb"}

const (
	manifestSchema     = "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"
	localizationSchema = "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.Localization.schema.json"
	englishFile        = "en.json"
	shortDescription   = "Customer-harassment reports and care"
	fullDescription    = "Mamori runs the company's customer-harassment " +
		"(kasuhara) policy in Teams: employees report or consult confidentially in a personal chat, supervisors judge cases " +
		"on the policy's two criteria in their channel, and HR follows up with care, training and records."
)

// Localization returns the English localization file of the package:
// the app's name, descriptions and command list in English alone.
func Localization(o ManifestOptions) ([]byte, error) {
	if o.Name == "" {
		o.Name = "Mamori"
	}
	m := map[string]any{
		"$schema":           localizationSchema,
		"name.short":        truncate(o.Name, 30),
		"name.full":         truncate(o.Name+" — customer-harassment care", 100),
		"description.short": shortDescription,
		"description.full":  fullDescription,
	}
	for i, c := range Commands {
		m[fmt.Sprintf("bots[0].commandLists[0].commands[%d].title", i)] = c.Title
		m[fmt.Sprintf("bots[0].commandLists[0].commands[%d].description", i)] = c.English
	}
	return json.MarshalIndent(m, "", "  ")
}

// Manifest returns manifest.json of the Teams app: the bot, in personal
// chats and teams, with its command list.
func Manifest(o ManifestOptions) ([]byte, error) {
	if o.AppID == "" {
		return nil, fmt.Errorf("teams manifest: no app id")
	}
	if o.Name == "" {
		o.Name = "Mamori"
	}
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	site, err := url.Parse(o.Website)
	if err != nil || site.Scheme != "https" || site.Host == "" {
		return nil, fmt.Errorf("teams manifest: the website must be an https URL, not %q", o.Website)
	}
	var additional []any
	for _, tag := range englishTags {
		additional = append(additional, map[string]string{"languageTag": tag, "file": englishFile})
	}
	var commands []map[string]string
	for _, c := range Commands {
		commands = append(commands, map[string]string{"title": c.Title, "description": c.Description})
	}
	m := map[string]any{
		"$schema":         manifestSchema,
		"manifestVersion": "1.17",
		"version":         o.Version,
		"id":              o.AppID,
		"developer": map[string]string{"name": o.Name, "websiteUrl": site.String(),
			"privacyUrl": site.JoinPath("privacy").String(), "termsOfUseUrl": site.JoinPath("terms").String()},
		"name": map[string]string{"short": truncate(o.Name, 30), "full": truncate(o.Name+"（守り）カスハラ対策 / customer-harassment care", 100)},
		"description": map[string]string{
			"short": "カスハラの報告・相談・ケア / " + shortDescription,
			"full": "Mamori（守り）は会社のカスタマーハラスメント対策方針をTeamsで運用します。従業員は個人チャットで報告・相談し、" +
				"上長はチャネルで二つの基準に沿って判断し、人事がケアと研修で支えます。 / " + fullDescription,
		},
		"icons":       map[string]string{"color": "color.png", "outline": "outline.png"},
		"accentColor": "#2C4A6E",
		"bots": []any{map[string]any{
			"botId": o.AppID, "scopes": []string{"personal", "team"}, "supportsFiles": true, "isNotificationOnly": false,
			"commandLists": []any{map[string]any{"scopes": []string{"personal"}, "commands": commands}},
		}},
		"permissions":      []string{"identity", "messageTeamMembers"},
		"localizationInfo": map[string]any{"defaultLanguageTag": "ja-jp", "additionalLanguages": additional},
		"validDomains":     []string{site.Hostname()},
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
		{englishFile, func() ([]byte, error) { return english, nil }},
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
