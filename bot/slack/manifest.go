package slack

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/goccy/go-yaml"
)

// Scopes are the bot token scopes Mamori needs, each for what the code
// does with it (scopes_test.go derives them from the Web API methods the
// adapter and the sender call, after Slack's scope reference, and fails
// when this list holds one more or one less).
var Scopes = []string{
	"chat:write",       // chat.postMessage, chat.update, chat.postEphemeral
	"commands",         // the slash command and the SOS shortcuts
	"files:read",       // the files people send in the DM, linked to a case as evidence
	"files:write",      // files.getUploadURLExternal, files.completeUploadExternal: the monthly chart
	"im:history",       // the message.im event: what people write in the DM
	"users:read",       // users.info: name and locale
	"users:read.email", // users.lookupByEmail, and the email users.info gives, to match the directory
	"usergroups:read",  // usergroups.list, usergroups.users.list: departments from Slack user groups
}

// BotEvents are the events Mamori subscribes to.
var BotEvents = []string{"message.im", "app_home_opened"}

// ErrNoURL is AppManifest's error for HTTP mode without a URL: Slack
// would have nowhere to send commands, clicks and events.
var ErrNoURL = errors.New("slack manifest: HTTP mode needs the public https URL of mamori serve (-url https://mamori.example.co.jp), or Socket Mode (-socket) when Mamori has no public URL")

type manifest struct {
	DisplayInformation struct {
		Name            string `yaml:"name"`
		Description     string `yaml:"description"`
		LongDescription string `yaml:"long_description"`
		BackgroundColor string `yaml:"background_color"`
	} `yaml:"display_information"`
	Features struct {
		AppHome struct {
			HomeTabEnabled             bool `yaml:"home_tab_enabled"`
			MessagesTabEnabled         bool `yaml:"messages_tab_enabled"`
			MessagesTabReadOnlyEnabled bool `yaml:"messages_tab_read_only_enabled"`
		} `yaml:"app_home"`
		BotUser struct {
			DisplayName  string `yaml:"display_name"`
			AlwaysOnline bool   `yaml:"always_online"`
		} `yaml:"bot_user"`
		SlashCommands []slashCommandManifest `yaml:"slash_commands"`
		Shortcuts     []shortcutManifest     `yaml:"shortcuts"`
	} `yaml:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot []string `yaml:"bot"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		EventSubscriptions struct {
			RequestURL string   `yaml:"request_url,omitempty"`
			BotEvents  []string `yaml:"bot_events"`
		} `yaml:"event_subscriptions"`
		Interactivity struct {
			IsEnabled  bool   `yaml:"is_enabled"`
			RequestURL string `yaml:"request_url,omitempty"`
		} `yaml:"interactivity"`
		OrgDeployEnabled     bool `yaml:"org_deploy_enabled"`
		SocketModeEnabled    bool `yaml:"socket_mode_enabled"`
		TokenRotationEnabled bool `yaml:"token_rotation_enabled"`
	} `yaml:"settings"`
}

type slashCommandManifest struct {
	Command      string `yaml:"command"`
	URL          string `yaml:"url,omitempty"`
	Description  string `yaml:"description"`
	UsageHint    string `yaml:"usage_hint"`
	ShouldEscape bool   `yaml:"should_escape"`
}

type shortcutManifest struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type"` // global or message
	CallbackID  string `yaml:"callback_id"`
	Description string `yaml:"description"`
}

// Shortcuts are the app's shortcuts: the SOS from anywhere in Slack (the
// composer's shortcuts menu, search) and from any message's menu. A
// manifest has one language, so each text has both, as the rest of it
// does; they are kept short, as Slack shows them in narrow menus.
var Shortcuts = []struct{ Name, Type, CallbackID, Description string }{
	{"SOS（助けを呼ぶ / Get help）", "global", ShortcutSOS, "いま危険なとき、上長と人事にすぐ知らせる / Alert supervisors and HR now"},
	{"SOS（助けを呼ぶ / Get help）", "message", ShortcutSOSMessage, "いま危険なとき、上長と人事にすぐ知らせる / Alert supervisors and HR now"},
}

// ManifestOptions are what the Slack app manifest names.
type ManifestOptions struct {
	Command string // the slash command, default "/kasuhara"
	BotName string // the bot's display name, default "Mamori"
	// URL is the public https base URL of `mamori serve` (e.g.
	// "https://mamori.example.co.jp"): the request URLs are below it.
	// HTTP mode needs it; Socket Mode has none.
	URL    string
	Socket bool // Socket Mode: Slack is reached over a WebSocket Mamori opens
}

// AppManifest returns the Slack app manifest (YAML) to create the app
// with: the bot user, App Home, the slash command, the SOS shortcuts,
// scopes, events and interactivity (which also carries the shortcuts).
// In HTTP mode every request URL is below o.URL, which must be an https
// URL (ErrNoURL when there is none); Socket Mode has no request URLs.
func AppManifest(o ManifestOptions) (string, error) {
	base := strings.TrimRight(strings.TrimSpace(o.URL), "/")
	switch {
	case o.Socket:
		base = ""
	case base == "":
		return "", ErrNoURL
	default:
		u, err := url.Parse(base)
		if err == nil && u.Scheme == "https" && u.Host != "" && (u.RawQuery != "" || u.Fragment != "") {
			return "", fmt.Errorf("slack manifest: -url %q: give the base URL alone, without ? or #: the request paths (/slack/…) are added to it", o.URL)
		}
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("slack manifest: -url %q: Slack sends its requests to an https URL only, such as https://mamori.example.co.jp", o.URL)
		}
	}
	return build(o.Command, o.BotName, base, o.Socket), nil
}

func build(command, botName, base string, socketMode bool) string {
	if command == "" {
		command = "/kasuhara"
	}
	if !strings.HasPrefix(command, "/") {
		command = "/" + command
	}
	if botName == "" {
		botName = "Mamori"
	}
	at := func(path string) string {
		if socketMode || base == "" {
			return ""
		}
		return base + path
	}
	var m manifest
	m.DisplayInformation.Name = botName
	m.DisplayInformation.Description = "カスタマーハラスメントの報告・相談・ケア / Customer-harassment reports, consultation and care"
	m.DisplayInformation.LongDescription = "Mamori (守り) runs the company's customer-harassment (カスハラ) policy in Slack: " +
		"employees report an incident or consult confidentially in a guided conversation, supervisors judge cases " +
		"on the policy's two criteria in their channel, and HR follows up with care, training and records."
	m.DisplayInformation.BackgroundColor = "#2c4a6e"
	m.Features.AppHome.HomeTabEnabled = true
	m.Features.AppHome.MessagesTabEnabled = true
	m.Features.BotUser.DisplayName = botName
	m.Features.BotUser.AlwaysOnline = true
	m.Features.SlashCommands = []slashCommandManifest{{
		Command:     command,
		URL:         at(PathCommands),
		Description: "カスハラの報告・相談 / Report or consult on customer harassment",
		UsageHint:   "[報告|相談|方針|SOS / report|consult|policy|sos]",
	}}
	for _, sc := range Shortcuts {
		m.Features.Shortcuts = append(m.Features.Shortcuts, shortcutManifest(sc))
	}
	m.OAuthConfig.Scopes.Bot = Scopes
	m.Settings.EventSubscriptions.RequestURL = at(PathEvents)
	m.Settings.EventSubscriptions.BotEvents = BotEvents
	m.Settings.Interactivity.IsEnabled = true
	m.Settings.Interactivity.RequestURL = at(PathInteractivity)
	m.Settings.SocketModeEnabled = socketMode

	b, err := yaml.MarshalWithOptions(m, yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		// The manifest is built from fixed types; this cannot fail.
		panic("slack: manifest: " + err.Error())
	}
	return "# Slack app manifest for Mamori: https://api.slack.com/apps → Create New App → From a manifest\n" + string(b)
}
