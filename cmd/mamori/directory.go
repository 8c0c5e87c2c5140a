package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/flows"
)

// People and departments from the directory (issue 17): the sources of
// the groups the configuration names, serve's part (sources, the kept
// rosters taken in again from the database every so often), and
// `mamori directory sync|check`.

const directoryUsage = "usage: mamori directory sync | mamori directory check [-lang ja|en]"

// directorySources returns the readers of the groups cfg names, from the
// environment: Slack's bot token for user groups, the Teams bot's app
// registration for Entra groups (through Microsoft Graph). Its errors
// name the setting that is missing. The user groups' handles are kept
// for a while by clock.
func directorySources(cfg *loaded, getenv func(string) string, log *slog.Logger, clock mamori.Clock) (map[string]mamori.Directory, error) {
	need := map[string]bool{}
	for _, g := range cfg.org.Groups() {
		need[g.Source] = true
	}
	out := map[string]mamori.Directory{}
	if need[mamori.SourceSlack] {
		bot := getenv("SLACK_BOT_TOKEN")
		if bot == "" {
			return nil, errors.New("SLACK_BOT_TOKEN is not set: the configuration names Slack user groups (members_group, supervisors_group, hr.group), read with the bot's token")
		}
		out[mamori.SourceSlack] = slack.NewUserGroups(slack.Config{BotToken: bot, APIURL: getenv("SLACK_API_URL"), Clock: clock, Log: log})
	}
	if need[mamori.SourceEntra] {
		id, pw, tenant := getenv("MICROSOFT_APP_ID"), getenv("MICROSOFT_APP_PASSWORD"), getenv("MICROSOFT_APP_TENANT_ID")
		if id == "" || pw == "" || tenant == "" {
			return nil, errors.New("MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID are needed: the configuration names Microsoft Entra groups (…_entra_group), read through Microsoft Graph with the Teams bot's app registration")
		}
		graphURL := getenv("MAMORI_GRAPH_URL")
		if graphURL != "" {
			if u, err := url.Parse(graphURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, fmt.Errorf("MAMORI_GRAPH_URL must be an https URL, not %q", graphURL)
			}
		}
		g, err := teams.NewGroups(teams.GraphConfig{AppID: id, Password: pw, TenantID: tenant,
			TokenURL: getenv("MAMORI_TEAMS_TOKEN_URL"), URL: graphURL, Log: log})
		if err != nil {
			return nil, err
		}
		out[mamori.SourceEntra] = g
	}
	return out, nil
}

// startDirectory gives serve's service the sources of the configuration's
// groups (the first sync is the directory.sync job a.schedule adds, due
// at once) and, in the background until ctx ends, takes in again what
// another replica or `mamori directory sync` kept in the database, every
// refresh period (at most a minute apart).
// The web sandbox reads no groups: its workspace is made up.
func (a *app) startDirectory(ctx context.Context, getenv func(string) string, wg *sync.WaitGroup, sandbox bool) error {
	if len(a.cfg.org.Groups()) == 0 {
		return nil
	}
	if sandbox {
		a.log.Info("directory: the web sandbox reads no directory groups; their members as last read by mamori serve or mamori directory sync still count")
		return nil
	}
	sources, err := directorySources(a.cfg, getenv, a.log, a.clock)
	if err != nil {
		return err
	}
	a.service.Directory.Sources = sources
	every := min(a.cfg.refresh, time.Minute)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := a.service.LoadDirectory(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("directory: could not take in the kept membership; the previous one still routes", "err", err)
			}
		}
	}()
	return nil
}

// writeDirectoryMetrics writes, for /metrics, when each directory group
// was last read and whether its last read failed: an outage shows there
// as well as in the log.
func writeDirectoryMetrics(w io.Writer, s *flows.Service) {
	rs := s.Directory.Rosters()
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(w, "# HELP mamori_directory_synced_timestamp_seconds When each directory group's members were last read (0: never).")
	fmt.Fprintln(w, "# TYPE mamori_directory_synced_timestamp_seconds gauge")
	for _, r := range rs {
		var at int64
		if !r.Synced.IsZero() {
			at = r.Synced.Unix()
		}
		fmt.Fprintf(w, "mamori_directory_synced_timestamp_seconds{group=%q} %d\n", r.Group.String(), at)
	}
	fmt.Fprintln(w, "# HELP mamori_directory_read_failing 1 when the last read of a directory group failed: its members as last read still route.")
	fmt.Fprintln(w, "# TYPE mamori_directory_read_failing gauge")
	for _, r := range rs {
		failing := 0
		if r.Error != "" {
			failing = 1
		}
		fmt.Fprintf(w, "mamori_directory_read_failing{group=%q} %d\n", r.Group.String(), failing)
	}
	fmt.Fprintln(w, "# HELP mamori_directory_members People each directory group gives, as last read.")
	fmt.Fprintln(w, "# TYPE mamori_directory_members gauge")
	for _, r := range rs {
		fmt.Fprintf(w, "mamori_directory_members{group=%q} %d\n", r.Group.String(), len(r.Members))
	}
}

func directory(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "sync" && args[0] != "check") {
		return errors.New(directoryUsage)
	}
	fs := flag.NewFlagSet("directory "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lang := fs.String("lang", getenv("MAMORI_LANG"), "language: ja or en (default MAMORI_LANG, else the organisation's)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		return errors.New(directoryUsage)
	}
	cfg, err := loadConfig(getenv("MAMORI_CONFIG"))
	if err != nil {
		return err
	}
	l := cfg.org.Lang
	switch *lang {
	case "":
	case "ja", "en":
		l = mamori.Lang(*lang)
	default:
		return fmt.Errorf("-lang (or MAMORI_LANG) must be ja or en, not %q", *lang)
	}
	if l != mamori.EN {
		l = mamori.JA
	}
	p := dirPrinter{w: stdout, l: l, loc: cfg.loc}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if args[0] == "sync" {
		log = slog.New(slog.DiscardHandler) // what failed is printed below
	}
	a, err := newApp(ctx, cfg, getenv, log, time.Now)
	if err != nil {
		return err
	}
	defer a.db.Close()
	if len(cfg.org.Groups()) == 0 && args[0] == "sync" {
		p.line("no_groups")
		return nil
	}
	if args[0] == "sync" {
		sources, err := directorySources(cfg, getenv, log, a.clock)
		if err != nil {
			return err
		}
		a.service.Directory.Sources = sources
		rs, err := a.service.SyncDirectory(ctx)
		if err != nil && !errors.Is(err, flows.ErrUnread) {
			return err
		}
		p.rosters(rs, time.Now())
		if err != nil {
			return errors.New(p.t("sync_failed"))
		}
		return nil
	}
	rs, err := a.service.LoadDirectory(ctx)
	if err != nil {
		return err
	}
	var cases []mamori.Case
	if err := a.db.View(ctx, func(tx mamori.Tx) (err error) {
		cases, err = tx.Cases(mamori.CaseFilter{})
		return err
	}); err != nil {
		return err
	}
	slackOn := getenv("SLACK_BOT_TOKEN") != "" || getenv("SLACK_APP_TOKEN") != "" || getenv("SLACK_SIGNING_SECRET") != ""
	platform := configPlatform(slackOn, getenv("MICROSOFT_APP_ID") != "")
	if problems := idProblems(cfg, platform); len(problems) > 0 {
		fmt.Fprintln(p.w, p.t("bad_ids"))
		for _, s := range problems {
			fmt.Fprintln(p.w, "  "+s.say(platform, l))
		}
		fmt.Fprintln(p.w)
	}
	return p.check(cfg.org, rs, cases, time.Now())
}

// dirTexts are what `mamori directory` prints, by language.
var dirTexts = map[mamori.Lang]map[string]string{
	mamori.JA: {
		"no_groups":      "設定にディレクトリのグループ（members_group、supervisors_group、hr.group、…_entra_group）がありません。部署の人は設定の一覧だけから決まります。",
		"groups":         "グループ",
		"members":        "%d 人",
		"member":         "1 人",
		"synced":         "最終取得 %s",
		"never":          "まだ取得できていません（このグループの人はまだ Mamori にいません）",
		"failed":         "⚠ %s から取得できていません: %s（前回取得した %d 人のまま振り分けています）",
		"failed_never":   "⚠ %s から取得できていません: %s",
		"last_try":       "（最後に試したのは %s）",
		"sync_failed":    "取得できなかったグループがあります。前回取得したメンバーのまま振り分けを続けます（上をご覧ください）",
		"department":     "%s（%s）— 上長チャンネル %s",
		"supervisors":    "上長",
		"dept_members":   "メンバー",
		"none":           "（なし）",
		"hr":             "人事・相談窓口 — チャンネル %s",
		"hr_members":     "担当",
		"no_department":  "部署のない人",
		"no_department0": "部署のない人: いません",
		"seen_cases":     "ケースを報告（%s）",
		"in_group":       "グループ %s",
		"hr_desk":        "人事",
		"nobody":         "だれも担当していない上長",
		"nobody0":        "だれも担当していない上長: いません",
		"no_members":     "%s の上長ですが、%s にはメンバーがいません",
		"no_supervisor":  "上長のいない部署（ケースは人事に届きます）: %s",
		"config":         "設定",
		"hint":           "グループは `mamori directory sync` で今すぐ取得できます。",
		"bad_ids":        "⚠ 設定に、プラットフォームの ID でないチャンネル・人があります（このままではカードが届かず、その人は操作できません）:",
	},
	mamori.EN: {
		"no_groups":      "The configuration names no directory group (members_group, supervisors_group, hr.group, …_entra_group): departments come from its lists alone.",
		"groups":         "Groups",
		"members":        "%d members",
		"member":         "1 member",
		"synced":         "last read %s",
		"never":          "never read yet (its people are not in Mamori yet)",
		"failed":         "⚠ could not be read since %s: %s (routing keeps the %d members read before)",
		"failed_never":   "⚠ could not be read since %s: %s",
		"last_try":       "(last tried %s)",
		"sync_failed":    "some groups could not be read; routing keeps the members read before (see above)",
		"department":     "%s (%s) — supervisor channel %s",
		"supervisors":    "supervisors",
		"dept_members":   "members",
		"none":           "(none)",
		"hr":             "HR / consultation desk — channel %s",
		"hr_members":     "desk",
		"no_department":  "In no department",
		"no_department0": "In no department: nobody",
		"seen_cases":     "reported %s",
		"in_group":       "in group %s",
		"hr_desk":        "HR",
		"nobody":         "Supervising nobody",
		"nobody0":        "Supervising nobody: nobody",
		"no_members":     "supervisor of %s, but %s has no members",
		"no_supervisor":  "Departments with no supervisor (their cases go to HR): %s",
		"config":         "configuration",
		"hint":           "`mamori directory sync` reads the groups now.",
		"bad_ids":        "⚠ Channels or people in the configuration that are not the platform's ids (no card reaches them; such people cannot act):",
	},
}

type dirPrinter struct {
	w   io.Writer
	l   mamori.Lang
	loc *time.Location
}

func (p dirPrinter) t(key string) string { return dirTexts[p.l][key] }

func (p dirPrinter) line(key string, args ...any) {
	fmt.Fprintf(p.w, p.t(key)+"\n", args...)
}

func (p dirPrinter) when(t time.Time) string { return t.In(p.loc).Format("2006-01-02 15:04 MST") }

// rosters prints each group: how many members, when last read, and a
// failure since.
func (p dirPrinter) rosters(rs []mamori.Roster, now time.Time) {
	fmt.Fprintln(p.w, p.t("groups"))
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	for _, r := range rs {
		state := fmt.Sprintf(p.t("synced"), p.when(r.Synced))
		if r.Synced.IsZero() {
			state = p.t("never")
		}
		n := fmt.Sprintf(p.t("members"), len(r.Members))
		if len(r.Members) == 1 {
			n = p.t("member")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Group, n, state)
		switch {
		case r.Error != "" && r.Synced.IsZero():
			fmt.Fprintf(tw, "  \t"+p.t("failed_never")+"\n", p.when(r.Failing), r.Error)
		case r.Error != "":
			fmt.Fprintf(tw, "  \t"+p.t("failed")+"\n", p.when(r.Failing), r.Error, len(r.Members))
		}
		if r.Error != "" && r.Failed.After(r.Failing) {
			fmt.Fprintf(tw, "  \t"+p.t("last_try")+"\n", p.when(r.Failed))
		}
	}
	tw.Flush()
}

// check prints who is where: each department's supervisors and members,
// HR, the people in no department (seen in cases, or in a group that is
// no department's), the supervisors who supervise nobody, and the
// departments with no supervisor, with each group's state first.
func (p dirPrinter) check(o *mamori.Org, rs []mamori.Roster, cases []mamori.Case, now time.Time) error {
	cur := o.Current()
	if len(rs) > 0 {
		p.rosters(rs, now)
		fmt.Fprintln(p.w)
	}
	// Where each person on a list comes from: the configuration, or a group.
	names := map[string]string{} // list entry → a name a group gave
	inGroups := map[string][]string{}
	for _, r := range rs {
		for _, m := range r.Members {
			entry := m.ID
			if r.Group.Source == mamori.SourceEntra && m.Email != "" {
				entry = strings.ToLower(m.Email)
			}
			if m.Name != "" {
				names[entry] = m.Name
			}
			inGroups[entry] = append(inGroups[entry], r.Group.String())
		}
	}
	person := func(entry string, configured []string, groups []mamori.Group) string {
		var from []string
		if mamori.Listed(configured, mamori.User{ID: entry, Email: entry}) {
			from = append(from, p.t("config"))
		}
		for _, g := range groups {
			if slices.Contains(inGroups[entry], g.String()) {
				from = append(from, g.ID)
			}
		}
		s := entry
		if n := names[entry]; n != "" {
			s = n + " <" + entry + ">"
		}
		if len(from) > 0 {
			s += " [" + strings.Join(from, ", ") + "]"
		}
		return s
	}
	list := func(entries, configured []string, groups []mamori.Group) string {
		if len(entries) == 0 {
			return p.t("none")
		}
		var out []string
		for _, e := range entries {
			out = append(out, person(e, configured, groups))
		}
		return strings.Join(out, ", ")
	}
	var unsupervised []string
	for i, d := range cur.Departments {
		conf := o.Departments[i]
		p.line("department", d.Name.In(p.l), d.ID, cmp.Or(d.SupervisorChannel, p.t("none")))
		fmt.Fprintf(p.w, "  %s: %s\n", p.t("supervisors"), list(d.Supervisors, conf.Supervisors, conf.SupervisorGroups))
		fmt.Fprintf(p.w, "  %s: %s\n", p.t("dept_members"), list(d.Members, conf.Members, conf.MemberGroups))
		if len(d.Supervisors) == 0 {
			unsupervised = append(unsupervised, d.ID)
		}
	}
	p.line("hr", cmp.Or(cur.HRChannel, p.t("none")))
	fmt.Fprintf(p.w, "  %s: %s\n\n", p.t("hr_members"), list(cur.HR, o.HR, o.HRGroups))

	// In no department: people seen in cases, and group members (HR's).
	type stray struct{ who, why string }
	var strays []stray
	seen := map[string]bool{}
	for _, k := range cases {
		u := k.Reporter
		if u.ID == "" || k.Purged() || seen[u.Key()] {
			continue
		}
		seen[u.Key()] = true
		if _, ok := cur.DepartmentOf(u); ok {
			continue
		}
		who := u.Key()
		if u.Name != "" {
			who = u.Name + " <" + who + ">"
		}
		why := fmt.Sprintf(p.t("seen_cases"), k.Number)
		if cur.IsHR(u) {
			why += ", " + p.t("hr_desk")
		}
		strays = append(strays, stray{who, why})
	}
	var entries []string
	for e := range inGroups {
		entries = append(entries, e)
	}
	slices.Sort(entries)
	for _, e := range entries {
		u := mamori.User{ID: e}
		if strings.Contains(e, "@") {
			u.Email = e
		}
		if _, ok := cur.DepartmentOf(u); ok {
			continue
		}
		why := fmt.Sprintf(p.t("in_group"), strings.Join(inGroups[e], ", "))
		if cur.IsHR(u) {
			why += ", " + p.t("hr_desk")
		}
		strays = append(strays, stray{person(e, nil, nil), why})
	}
	if len(strays) == 0 {
		p.line("no_department0")
	} else {
		fmt.Fprintln(p.w, p.t("no_department"))
		for _, s := range strays {
			fmt.Fprintf(p.w, "  %s — %s\n", s.who, s.why)
		}
	}

	// Supervisors of departments without members supervise nobody.
	var idle []string
	for _, d := range cur.Departments {
		if len(d.Members) > 0 {
			continue
		}
		for _, s := range d.Supervisors {
			idle = append(idle, person(s, nil, nil)+" — "+fmt.Sprintf(p.t("no_members"), d.ID, d.ID))
		}
	}
	if len(idle) == 0 {
		p.line("nobody0")
	} else {
		fmt.Fprintln(p.w, p.t("nobody"))
		for _, s := range idle {
			fmt.Fprintln(p.w, "  "+s)
		}
	}
	if len(unsupervised) > 0 {
		p.line("no_supervisor", strings.Join(unsupervised, ", "))
	}
	if len(rs) > 0 {
		fmt.Fprintln(p.w)
		p.line("hint")
	}
	return nil
}
