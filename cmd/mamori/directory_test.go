package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
)

// The people of the departments come from Slack user groups and an
// Entra group (issue 17), through loopback fakes of Slack's Web API and
// Microsoft Graph.

const (
	supportGroup = "6f1c2a9e-0b3d-4c5e-8f7a-1b2c3d4e5f60" // the Entra group of the support desk
	hrGroup      = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
)

const directoryConfig = `organisation: テスト株式会社
language: ja
policy: mhlw-2022
hr:
  channel: C0HR
  members: [U0HR]
  entra_group: ` + hrGroup + `
departments:
  - id: store
    name: {ja: 店舗運営部, en: Store operations}
    supervisor_channel: C0STORE
    supervisors: [U0SATO]
    members_group: "@store-staff"
    supervisors_group: "@store-leads"
  - id: support
    name: {ja: カスタマーサポート部, en: Customer support}
    supervisor_channel: C0SUPPORT
    members_entra_group: ` + supportGroup + `
  - id: logistics
    name: {ja: 物流部, en: Logistics}
    supervisor_channel: C0LOGI
    supervisors: [U0KIMURA]
`

// runDirectory runs `mamori directory args…` and returns what it printed
// and its error.
func runDirectory(t *testing.T, e testEnv, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"directory"}, args...), strings.NewReader(""), &stdout, &stderr, e.get)
	return stdout.String() + stderr.String(), err
}

// TestDirectoryCommands: `mamori directory sync` reads Slack user groups
// and Entra groups (three pages of members, a throttled one waited out),
// `mamori directory check` shows who is where, in ja and in en; a member
// removed is gone after the next sync; while Slack and Graph are down,
// sync fails but keeps the membership, and check says since when.
func TestDirectoryCommands(t *testing.T) {
	t.Parallel()
	api := slacktest.New(t, testBotToken)
	api.SetUserGroup(slacktest.UserGroup{ID: "S0STAFF", Handle: "store-staff", Users: []string{"U0TANAKA", "U0KOBAYASHI"}})
	api.SetUserGroup(slacktest.UserGroup{ID: "S0LEADS", Handle: "store-leads", Users: []string{"U0ITO"}})
	graph := teamstest.NewGraph(t, teamstest.Options{AppID: teamsAppID, Password: "graph-secret"})
	graph.SetPageSize(2)
	var support []teamstest.GraphMember
	for i := range 5 {
		support = append(support, teamstest.GraphMember{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			DisplayName: fmt.Sprintf("サポート%d", i), Mail: fmt.Sprintf("support%d@example.co.jp", i)})
	}
	graph.SetGroup(supportGroup, support...)
	graph.SetGroup(hrGroup, teamstest.GraphMember{ID: "00000000-0000-4000-8000-0000000000f1", DisplayName: "加藤 人事", Mail: "kato@example.co.jp"})
	// A Retry-After of 0: the wait it asks for is bot/teams' test's
	// (TestGraphGroups); here, that the sync waits it out and goes on.
	graph.Throttle(0, 1)

	e := newEnv(t)
	e["MAMORI_CONFIG"] = filepath.Join(t.TempDir(), "mamori.yaml")
	if err := os.WriteFile(e["MAMORI_CONFIG"], []byte(directoryConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e["SLACK_BOT_TOKEN"], e["SLACK_API_URL"] = testBotToken, api.URL
	e["MICROSOFT_APP_ID"], e["MICROSOFT_APP_PASSWORD"], e["MICROSOFT_APP_TENANT_ID"] = teamsAppID, "graph-secret", teamstest.Tenant
	e["MAMORI_TEAMS_TOKEN_URL"], e["MAMORI_GRAPH_URL"] = graph.TokenURL, graph.URL

	// Before any sync: the groups were never read.
	out := MustRun(t, e, "", "directory", "check")
	if !strings.Contains(out, "まだ取得できていません") || !strings.Contains(out, "`mamori directory sync`") {
		t.Errorf("check before a sync:\n%s", out)
	}

	out = MustRun(t, e, "", "directory", "sync")
	for _, want := range []string{"slack:@store-staff", "2 人", "entra:" + supportGroup, "5 人", "最終取得"} {
		if !strings.Contains(out, want) {
			t.Errorf("sync printed no %q:\n%s", want, out)
		}
	}
	reqs := graph.Requests()
	pages := 0
	for _, r := range reqs {
		if r.Group == supportGroup && r.Status == 200 {
			pages++
		}
	}
	if pages != 3 || reqs[0].Status != 429 {
		t.Errorf("Graph requests %+v: want a 429 waited out, then the support group's 5 members in 3 pages", reqs)
	}

	check := MustRun(t, e, "", "directory", "check")
	for _, want := range []string{
		"店舗運営部（store）", "U0SATO [設定]", "U0ITO [@store-leads]", "U0TANAKA [@store-staff]",
		"サポート0 <support0@example.co.jp> [" + supportGroup + "]",
		"加藤 人事 <kato@example.co.jp> [" + hrGroup + "]",
		"部署のない人", "kato@example.co.jp", "人事",
		"だれも担当していない上長", "U0KIMURA", "上長のいない部署（ケースは人事に届きます）: support",
	} {
		if !strings.Contains(check, want) {
			t.Errorf("check printed no %q:\n%s", want, check)
		}
	}
	e["MAMORI_LANG"] = "en"
	en := MustRun(t, e, "", "directory", "check")
	for _, want := range []string{"Store operations (store)", "In no department", "Supervising nobody", "U0KIMURA — supervisor of logistics, but logistics has no members", "last read"} {
		if !strings.Contains(en, want) {
			t.Errorf("check in English printed no %q:\n%s", want, en)
		}
	}
	delete(e, "MAMORI_LANG")

	// One leaves the store's group: gone after the next sync.
	api.SetUserGroup(slacktest.UserGroup{ID: "S0STAFF", Handle: "store-staff", Users: []string{"U0KOBAYASHI"}})
	MustRun(t, e, "", "directory", "sync")
	if check := MustRun(t, e, "", "directory", "check"); strings.Contains(check, "U0TANAKA") {
		t.Errorf("U0TANAKA left the group but check still lists him:\n%s", check)
	}
	trail := MustRun(t, e, "", "audit", "show", "slack:@store-staff")
	if !strings.Contains(trail, "directory.changed") || !strings.Contains(trail, "removed=U0TANAKA") {
		t.Errorf("audit trail of the group:\n%s", trail)
	}

	// Slack answers 500 and Graph cannot be reached.
	api.ServerError("usergroups.users.list", 100)
	graph.SetDown(true)
	out, err := runDirectory(t, e, "sync")
	if err == nil || !strings.Contains(err.Error(), "取得できなかったグループがあります") {
		t.Errorf("sync during an outage: %v\n%s", err, out)
	}
	if !strings.Contains(out, "から取得できていません") || !strings.Contains(out, "500") {
		t.Errorf("sync during an outage printed:\n%s", out)
	}
	check = MustRun(t, e, "", "directory", "check")
	for _, want := range []string{"から取得できていません", "前回取得した 1 人のまま振り分けています", "前回取得した 5 人のまま", "U0KOBAYASHI [@store-staff]", "サポート4"} {
		if !strings.Contains(check, want) {
			t.Errorf("check during the outage printed no %q:\n%s", want, check)
		}
	}
}

// TestServeDirectory: `mamori serve` reads the user groups at start and
// every directory.refresh. A report from a member of the support desk's
// user group goes to that desk's channel without asking the department.
// While Slack's usergroups.users.list answers 500, the membership read
// before still routes (his next report does not ask his department), and
// the log says so; `mamori directory check` says when the groups were
// last read. Once Slack answers again and he has left the group, the
// next report asks his department.
func TestServeDirectory(t *testing.T) {
	t.Parallel()
	config := strings.Replace(slackConfig, `    supervisors: [U0SUZUKI]
    members: [U0YAMADA]`, `    supervisors: [U0SUZUKI]
    members_group: "@support-staff"
    supervisors_group: "@support-leads"`, 1)
	config = strings.Replace(config, "    members: [U0TANAKA]\n", "    members: [U0NAKAMURA]\n", 1)
	config += "directory:\n  refresh: 1s\n"
	r := startServeWith(t, config)
	r.api.SetUserGroup(slacktest.UserGroup{ID: "S0SUPPORT", Handle: "support-staff", Users: []string{reporter, outsider}})
	r.api.SetUserGroup(slacktest.UserGroup{ID: "S0SUPLEAD", Handle: "support-leads", Users: []string{"U0SUZUKI", "U0ITO"}})
	r.syncUntil("the group read", func(rec map[string]any) bool {
		return rec["msg"] == "directory: group read" && rec["group"] == "slack:@support-staff" && rec["members"] == 2.0
	})

	number, steps := r.fileReport(mamori.RouteDepartment)
	if slices.Contains(steps, "department") {
		t.Errorf("a member of the support desk's group was asked the department: %v", steps)
	}
	r.waitPost("C0SUPPORT", 0, "the card of "+number, func(p posted) bool { return strings.Contains(p.text, number) })

	// The directory is down: the membership read before still routes.
	r.api.ServerError("usergroups.users.list", 1000)
	r.syncUntil("the outage", func(rec map[string]any) bool {
		return rec["level"] == "ERROR" && strings.Contains(fmt.Sprint(rec["msg"]), "keeps its last good membership") &&
			rec["group"] == "slack:@support-staff" && rec["members_kept"] == 2.0
	})
	if step := r.stepAfterForWhom(); step != "when" {
		t.Errorf("during the outage the reporter was asked %q after for whom, not when it happened: his department is no longer known", step)
	}
	if code, body := r.get("/metrics"); code != 200 || !strings.Contains(body, `mamori_directory_read_failing{group="slack:@support-staff"} 1`) ||
		!strings.Contains(body, `mamori_directory_members{group="slack:@support-staff"} 2`) {
		t.Errorf("/metrics during the outage: %d\n%s", code, body)
	}
	check := MustRun(t, r.env, "", "directory", "check")
	for _, want := range []string{"slack:@support-staff", "最終取得", "から取得できていません", "前回取得した 2 人のまま振り分けています", "U0TANAKA [@support-staff]"} {
		if !strings.Contains(check, want) {
			t.Errorf("directory check during the outage printed no %q:\n%s", want, check)
		}
	}

	// Slack is back, and he has left the group: his department is asked.
	r.api.SetUserGroup(slacktest.UserGroup{ID: "S0SUPPORT", Handle: "support-staff", Users: []string{outsider}})
	r.api.Recover("usergroups.users.list")
	r.syncUntil("the removal", func(rec map[string]any) bool {
		return rec["msg"] == "directory: group read" && rec["group"] == "slack:@support-staff" && rec["members"] == 1.0
	})
	if step := r.stepAfterForWhom(); step != "department" {
		t.Errorf("after leaving the group the reporter was asked %q after for whom, not the department", step)
	}
}

// stepAfterForWhom starts a report as the reporter and returns the step
// asked after "for whom": "department" when Mamori does not know his.
// The report is then cancelled.
func (r *slackRig) stepAfterForWhom() string {
	r.t.Helper()
	r.command(reporter, "")
	for range 10 {
		p, i := r.waitPost("D"+reporter, r.seen, "a question", func(p posted) bool { return p.blocks.askedStep() != "" })
		r.seen = i + 1
		switch step := p.blocks.askedStep(); step {
		case "menu":
			r.click(p.blocks, mamori.StartReport)
		case "safety":
			r.click(p.blocks, "safe")
		case "for_whom":
			r.click(p.blocks, "self")
		default:
			r.click(p.blocks, "nav:cancel")
			confirm, i := r.waitPost("D"+reporter, r.seen, "the cancel question", func(p posted) bool { return p.blocks.askedStep() == "cancel" })
			r.click(confirm.blocks, "yes")
			_, i = r.waitPost("D"+reporter, i+1, "the menu after cancelling", func(p posted) bool { return p.blocks.askedStep() == "menu" })
			r.seen = i + 1
			return step
		}
	}
	r.t.Fatal("no question after for whom")
	return ""
}

// syncUntil moves serve's clock on a directory.refresh (1 s) at a time,
// each move a sync of the groups, until serve logged a record that match
// accepts.
func (r *slackRig) syncUntil(what string, match func(map[string]any) bool) {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, line := range strings.Split(r.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && match(rec) {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("serve logged no %s after 15 s:\n%s", what, r.logs.String())
		}
		r.advance(time.Second)
		time.Sleep(20 * time.Millisecond)
	}
}
