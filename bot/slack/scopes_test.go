package slack_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/goccy/go-yaml"

	"github.com/mamori-oss/mamori/bot/slack"
)

// clientMethods maps each slack-go *Client method the package may call
// to the Web API methods it calls (UploadFileContext is Slack's
// three-step upload: files.getUploadURLExternal, the bytes to the URL it
// gives, files.completeUploadExternal).
var clientMethods = map[string][]string{
	"PostMessageContext":         {"chat.postMessage"},
	"UpdateMessageContext":       {"chat.update"},
	"PostEphemeralContext":       {"chat.postEphemeral"},
	"OpenViewContext":            {"views.open"},
	"PublishViewContext":         {"views.publish"},
	"GetUserInfoContext":         {"users.info"},
	"GetUserByEmailContext":      {"users.lookupByEmail"},
	"UploadFileContext":          {"files.getUploadURLExternal", "files.completeUploadExternal"},
	"AuthTestContext":            {"auth.test"},
	"StartSocketModeContext":     {"apps.connections.open"},
	"GetUserGroupsContext":       {"usergroups.list"},
	"GetUserGroupMembersContext": {"usergroups.users.list"},
}

// methodScopes are the bot token scopes each Web API method needs, as
// Slack's reference gives them (https://docs.slack.dev/reference/methods/
// and …/reference/scopes/). Methods that need none are listed with none,
// so that a new method must be looked up before it is added here.
var methodScopes = map[string][]string{
	"chat.postMessage":   {"chat:write"}, // a user's id as channel posts in the app's DM: no conversations.open, no im:write
	"chat.update":        {"chat:write"},
	"chat.postEphemeral": {"chat:write"},
	"views.open":         nil, // no scopes required
	"views.publish":      nil, // no scopes required (App Home)
	// users.info: the email field needs users:read.email besides
	// users:read (Slack changelog 2017-04, "narrowing email access"), and
	// the adapter reads it to match the directory.
	"users.info":                   {"users:read", "users:read.email"},
	"users.lookupByEmail":          {"users:read.email"},
	"files.getUploadURLExternal":   {"files:write"},
	"files.completeUploadExternal": {"files:write"},
	"auth.test":                    nil,
	"usergroups.list":              {"usergroups:read"},
	"usergroups.users.list":        {"usergroups:read"},
	// Socket Mode's apps.connections.open takes the app-level token
	// (connections:write), not a bot scope: the README says to make it.
	"apps.connections.open": nil,
}

// featureScopes are the scopes what the manifest declares needs, beside
// the methods: its events, its slash command and shortcuts, and the file
// objects of the DM's messages.
var featureScopes = map[string][]string{
	"event message.im":      {"im:history"},
	"event app_home_opened": nil, // no scopes required
	"slash command":         {"commands"},
	"shortcuts":             {"commands"}, // global and message shortcuts need commands
	// Evidence: files sent in the DM arrive as file objects in the
	// message.im event (subtype file_share); their permalinks are kept
	// with the case. Reading files shared with the app is files:read.
	"files in DM messages": {"files:read"},
}

// TestScopesFromMethods reads the package's source, finds every method
// called on a *slack.Client (slack-go) held in a struct field, maps each
// to its Web API methods and those to their scopes, and checks the
// manifest asks for exactly those scopes and the features' ones: no
// method fails in a real workspace for a missing scope, and the app asks
// for nothing it does not use.
func TestScopesFromMethods(t *testing.T) {
	calls := clientCalls(t)
	if len(calls) == 0 {
		t.Fatal("found no call on a *slack.Client: is the parser looking in the right place?")
	}
	want := map[string]string{} // scope → why
	for _, call := range calls {
		apiMethods, ok := clientMethods[call.method]
		if !ok {
			t.Errorf("%s calls (*slack.Client).%s: add it to clientMethods with the Web API methods it calls, and those to methodScopes", call.pos, call.method)
			continue
		}
		for _, m := range apiMethods {
			scopes, ok := methodScopes[m]
			if !ok {
				t.Errorf("%s calls %s (through %s): add its scopes, from Slack's reference, to methodScopes", call.pos, m, call.method)
			}
			for _, s := range scopes {
				want[s] = m
			}
		}
	}
	manifest, err := slack.AppManifest(slack.ManifestOptions{URL: "https://mamori.example.co.jp"})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []any `yaml:"slash_commands"`
			Shortcuts     []any `yaml:"shortcuts"`
		}
		OAuthConfig struct {
			Scopes struct{ Bot []string }
		} `yaml:"oauth_config"`
		Settings struct {
			EventSubscriptions struct {
				BotEvents []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
		}
	}
	if err := yaml.Unmarshal([]byte(manifest), &m); err != nil {
		t.Fatal(err)
	}
	features := []string{"files in DM messages"}
	for _, e := range m.Settings.EventSubscriptions.BotEvents {
		features = append(features, "event "+e)
	}
	if len(m.Features.SlashCommands) > 0 {
		features = append(features, "slash command")
	}
	if len(m.Features.Shortcuts) > 0 {
		features = append(features, "shortcuts")
	}
	for _, f := range features {
		scopes, ok := featureScopes[f]
		if !ok {
			t.Errorf("the manifest declares %s: add its scopes, from Slack's reference, to featureScopes", f)
		}
		for _, s := range scopes {
			want[s] = f
		}
	}

	got := m.OAuthConfig.Scopes.Bot
	for s, why := range want {
		if !slices.Contains(got, s) {
			t.Errorf("the manifest lacks %s, needed for %s", s, why)
		}
	}
	for _, s := range got {
		if _, ok := want[s]; !ok {
			t.Errorf("the manifest asks for %s, which no method or feature of the code needs", s)
		}
	}
	if !slices.Equal(got, slack.Scopes) {
		t.Errorf("the manifest's scopes %v are not slack.Scopes %v", got, slack.Scopes)
	}
}

type clientCall struct {
	method string
	pos    token.Position
}

// clientCalls returns the calls of methods on the package's
// *slack.Client fields (x.api.PostMessageContext(…)). A field of that
// type used otherwise (passed along, copied to a variable) would hide its
// calls from this test, so it fails then, as it does for a *slack.Client
// anywhere but in a struct field or a function's result.
func clientCalls(t *testing.T) []clientCall {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}

	// The fields whose type is *slack.Client, by the name each file
	// imports github.com/slack-go/slack as.
	fields := map[string]bool{}
	for _, f := range files {
		pkg := importName(f, "github.com/slack-go/slack")
		if pkg == "" {
			continue
		}
		isClient := func(e ast.Expr) bool {
			star, ok := e.(*ast.StarExpr)
			if !ok {
				return false
			}
			sel, ok := star.X.(*ast.SelectorExpr)
			if !ok {
				return false
			}
			id, ok := sel.X.(*ast.Ident)
			return ok && id.Name == pkg && sel.Sel.Name == "Client"
		}
		// Where a *slack.Client may appear: a struct field, a result.
		allowed := map[ast.Expr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.StructType:
				for _, fd := range n.Fields.List {
					if isClient(fd.Type) {
						allowed[fd.Type] = true
						for _, id := range fd.Names {
							fields[id.Name] = true
						}
					}
				}
			case *ast.FuncType:
				if n.Results != nil {
					for _, r := range n.Results.List {
						allowed[r.Type] = true
					}
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			if e, ok := n.(ast.Expr); ok && isClient(e) && !allowed[e] {
				t.Errorf("%s: a *%s.Client outside a struct field: its calls would escape TestScopesFromMethods", fset.Position(e.Pos()), pkg)
			}
			return true
		})
	}

	var calls []clientCall
	for _, f := range files {
		// Every use of a client field must be the receiver of a call.
		used := map[*ast.SelectorExpr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			method, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			field, ok := method.X.(*ast.SelectorExpr)
			if !ok || !fields[field.Sel.Name] {
				return true
			}
			used[field] = true
			calls = append(calls, clientCall{method: method.Sel.Name, pos: fset.Position(call.Pos())})
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && fields[sel.Sel.Name] && !used[sel] && !isAssignedClient(f, sel) {
				t.Errorf("%s: the client field %s is used other than to call a method: its calls would escape TestScopesFromMethods", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	return calls
}

// isAssignedClient reports whether sel is a client field being set in a
// composite literal's key (api: newClient(cfg)) — not a use.
func isAssignedClient(f *ast.File, sel *ast.SelectorExpr) bool {
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok {
			return !found
		}
		for _, l := range as.Lhs {
			if l == sel {
				found = true
			}
		}
		return !found
	})
	return found
}

// importName returns the name f uses for the package at path, or "".
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil || p != path {
			continue
		}
		if im.Name != nil {
			return im.Name.Name
		}
		return filepath.Base(p)
	}
	return ""
}

// TestAppManifestURL: HTTP mode needs an https URL and puts every
// request URL below it; Socket Mode needs none and has none.
func TestAppManifestURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    slack.ManifestOptions
		ok   bool
	}{
		{"https", slack.ManifestOptions{URL: "https://mamori.example.co.jp/"}, true},
		{"https with a path", slack.ManifestOptions{URL: "https://example.co.jp/mamori"}, true},
		{"socket", slack.ManifestOptions{Socket: true}, true},
		{"no url", slack.ManifestOptions{}, false},
		{"blank url", slack.ManifestOptions{URL: "  "}, false},
		{"http", slack.ManifestOptions{URL: "http://mamori.example.co.jp"}, false},
		{"no scheme", slack.ManifestOptions{URL: "mamori.example.co.jp"}, false},
		{"query", slack.ManifestOptions{URL: "https://mamori.example.co.jp/?x=1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := slack.AppManifest(tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok = %v", err, tc.ok)
			}
			if !tc.ok {
				if !strings.Contains(err.Error(), "https") || !strings.Contains(err.Error(), "-url") {
					t.Errorf("the error does not say what to give: %v", err)
				}
				return
			}
			if strings.Contains(out, "example.com") {
				t.Errorf("a placeholder URL:\n%s", out)
			}
			n := strings.Count(out, "/slack/")
			switch {
			case tc.o.Socket && n != 0:
				t.Errorf("socket mode with request URLs:\n%s", out)
			case !tc.o.Socket && n != 3:
				t.Errorf("%d request URLs, want 3:\n%s", n, out)
			case !tc.o.Socket && strings.Count(out, strings.TrimRight(tc.o.URL, "/")+"/slack/") != 3:
				t.Errorf("request URLs not below %s:\n%s", tc.o.URL, out)
			}
		})
	}
}

// TestManifestLimits checks the manifest against the limits Slack's app
// manifest reference gives, which Slack enforces on "Create app".
func TestManifestLimits(t *testing.T) {
	out, err := slack.AppManifest(slack.ManifestOptions{Command: "/kasuhara", URL: "https://mamori.example.co.jp"})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		DisplayInformation struct {
			Name            string `yaml:"name"`
			Description     string `yaml:"description"`
			LongDescription string `yaml:"long_description"`
			BackgroundColor string `yaml:"background_color"`
		} `yaml:"display_information"`
		Features struct {
			BotUser struct {
				DisplayName string `yaml:"display_name"`
			} `yaml:"bot_user"`
			SlashCommands []struct {
				Command     string `yaml:"command"`
				URL         string `yaml:"url"`
				Description string `yaml:"description"`
				UsageHint   string `yaml:"usage_hint"`
			} `yaml:"slash_commands"`
			Shortcuts []struct {
				Name        string `yaml:"name"`
				Type        string `yaml:"type"`
				CallbackID  string `yaml:"callback_id"`
				Description string `yaml:"description"`
			} `yaml:"shortcuts"`
		}
	}
	if err := yaml.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	runes := utf8.RuneCountInString
	d := m.DisplayInformation
	if n := runes(d.Name); n == 0 || n > 35 {
		t.Errorf("display_information.name has %d characters (1–35)", n)
	}
	if n := runes(d.Description); n == 0 || n > 140 {
		t.Errorf("display_information.description has %d characters (1–140)", n)
	}
	if n := runes(d.LongDescription); n < 175 || n > 4000 {
		t.Errorf("display_information.long_description has %d characters (175–4000)", n)
	}
	if len(d.BackgroundColor) != 7 || d.BackgroundColor[0] != '#' {
		t.Errorf("background_color %q", d.BackgroundColor)
	}
	if n := runes(m.Features.BotUser.DisplayName); n == 0 || n > 80 {
		t.Errorf("bot_user.display_name has %d characters (1–80)", n)
	}
	if len(m.Features.SlashCommands) != 1 {
		t.Fatalf("slash commands: %+v", m.Features.SlashCommands)
	}
	sc := m.Features.SlashCommands[0]
	if n := runes(sc.Command); !strings.HasPrefix(sc.Command, "/") || n > 32 || sc.URL == "" || sc.Description == "" {
		t.Errorf("slash command %+v", sc)
	}
	types := map[string]bool{}
	for _, s := range m.Features.Shortcuts {
		types[s.Type] = true
		if runes(s.Name) == 0 || runes(s.Name) > 24 || s.Description == "" || s.CallbackID == "" ||
			(s.Type != "global" && s.Type != "message") {
			t.Errorf("shortcut %+v", s)
		}
	}
	if !types["global"] || !types["message"] {
		t.Errorf("shortcuts %+v: want a global one and a message one", m.Features.Shortcuts)
	}
}
