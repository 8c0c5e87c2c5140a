package main

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Tokyo on machines without zoneinfo

	"github.com/goccy/go-yaml"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/teams"
	"github.com/mamori-oss/mamori/flows"
)

//go:embed mamori.example.yaml
var exampleConfig []byte

// config is the YAML configuration file.
type config struct {
	Organisation string `yaml:"organisation"`
	Language     string `yaml:"language"`
	// Languages lists, by language, the people who read another language
	// than Language (Slack user ids or emails).
	Languages    map[string][]string `yaml:"languages"`
	Timezone     string              `yaml:"timezone"`
	Policy       string              `yaml:"policy"`
	SlashCommand string              `yaml:"slash_command"`
	RemindAfter  time.Duration       `yaml:"remind_after"`
	Deadlines    struct {
		Take        time.Duration `yaml:"take"`
		Judge       time.Duration `yaml:"judge"`
		UrgentTake  time.Duration `yaml:"urgent_take"`
		UrgentJudge time.Duration `yaml:"urgent_judge"`
	} `yaml:"deadlines"`
	Care struct {
		Checkins     []time.Duration `yaml:"checkins"`
		WorkingHours struct {
			Start int `yaml:"start"`
			End   int `yaml:"end"`
		} `yaml:"working_hours"`
		Holidays    string        `yaml:"holidays"`
		ClosedDays  []string      `yaml:"closed_days"`
		TaskDue     time.Duration `yaml:"task_due"`
		RemindEvery time.Duration `yaml:"remind_every"`
		Resources   []mamori.Care `yaml:"resources"`
	} `yaml:"care"`
	Training []struct {
		ID          string      `yaml:"id"`
		Name        mamori.Text `yaml:"name"`
		Link        string      `yaml:"link"`
		Audience    any         `yaml:"audience"`
		EveryMonths int         `yaml:"every_months"`
		Start       string      `yaml:"start"`
		DueDays     int         `yaml:"due_days"`
		NudgeDays   int         `yaml:"nudge_days"`
		Response    bool        `yaml:"response"`
	} `yaml:"training"`
	HR struct {
		Channel string   `yaml:"channel"`
		Members []string `yaml:"members"`
		// Group and EntraGroup are directory groups whose members are on
		// the desk too (directory.go).
		Group      string `yaml:"group"`
		EntraGroup string `yaml:"entra_group"`
	} `yaml:"hr"`
	// SOS says who answers an employee's SOS besides the department's
	// supervisors and HR, and how fast it escalates. Pointers tell a
	// setting left out (the default) from one set to zero (refused).
	SOS struct {
		OnCall     []string       `yaml:"on_call"`
		AckWithin  *time.Duration `yaml:"ack_within"`
		Escalation [][]string     `yaml:"escalation"`
		MaxRounds  *int           `yaml:"max_rounds"`
	} `yaml:"sos"`
	// Retention says how long closed cases are kept (retention.go).
	Retention retentionSection `yaml:"retention"`
	// Register is the refusal-of-service register (register.go).
	Register    registerSection `yaml:"register"`
	Departments []struct {
		ID                string      `yaml:"id"`
		Name              mamori.Text `yaml:"name"`
		SupervisorChannel string      `yaml:"supervisor_channel"`
		Supervisors       []string    `yaml:"supervisors"`
		Members           []string    `yaml:"members"`
		// A Slack user group (@handle or S… id) and an Entra group (object
		// id) for the members and for the supervisors (directory.go).
		MembersGroup          string `yaml:"members_group"`
		SupervisorsGroup      string `yaml:"supervisors_group"`
		MembersEntraGroup     string `yaml:"members_entra_group"`
		SupervisorsEntraGroup string `yaml:"supervisors_entra_group"`
	} `yaml:"departments"`
	// Directory says how often the groups are read again.
	Directory struct {
		Refresh time.Duration `yaml:"refresh"`
	} `yaml:"directory"`
}

// loaded is the configuration turned into what the packages take.
type loaded struct {
	org       *mamori.Org
	policy    *mamori.Policy
	loc       *time.Location
	command   string
	remind    time.Duration
	deadlines flows.Deadlines
	care      flows.Care
	training  []flows.Programme
	sos       flows.SOS
	retention flows.Retention
	register  flows.Register
	// refresh is how often the directory groups are read again.
	refresh  time.Duration
	path     string // "" for the embedded example
	embedded bool
}

// loadConfig reads the file at path, or the embedded example when path is
// empty. Errors name the setting that is wrong.
func loadConfig(path string) (*loaded, error) {
	b := exampleConfig
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("MAMORI_CONFIG: %w", err)
		}
	}
	var c config
	if err := mamori.DecodeYAML(b, &c); err != nil {
		msg := yaml.FormatError(err, false, true)
		if strings.Contains(msg, "of type time.Duration") {
			msg = "a length of time needs its unit, such as 24h, 90m or 3m (h hours, m minutes, s seconds)\n" + msg
		}
		return nil, fmt.Errorf("MAMORI_CONFIG %s: %s", orExample(path), msg)
	}
	where := "MAMORI_CONFIG " + orExample(path)
	var err error
	l := &loaded{path: path, embedded: path == "", command: c.SlashCommand, remind: c.RemindAfter,
		deadlines: flows.Deadlines{Take: c.Deadlines.Take, Judge: c.Deadlines.Judge,
			UrgentTake: c.Deadlines.UrgentTake, UrgentJudge: c.Deadlines.UrgentJudge}}
	wh := c.Care.WorkingHours
	if wh.Start < 0 || wh.End > 24 || ((wh.Start != 0 || wh.End != 0) && wh.Start >= wh.End) {
		return nil, fmt.Errorf("MAMORI_CONFIG %s: care.working_hours: start must be before end, within 0–24", orExample(path))
	}
	for _, d := range c.Care.Checkins {
		if d <= 0 {
			return nil, fmt.Errorf("MAMORI_CONFIG %s: care.checkins must be positive durations like 24h", orExample(path))
		}
	}
	closed, err := flows.ParseClosedDays(c.Care.ClosedDays)
	if err != nil {
		return nil, fmt.Errorf("%s: care.closed_days: %w", where, err)
	}
	if h := c.Care.Holidays; h != "" && h != "japan" && h != "none" {
		return nil, fmt.Errorf("%s: care.holidays is %q: write japan (the national holidays are days off) or none", where, h)
	}
	l.care = flows.Care{Offsets: c.Care.Checkins, StartHour: wh.Start, EndHour: wh.End,
		TaskDue: c.Care.TaskDue, RemindEvery: c.Care.RemindEvery, NoHolidays: c.Care.Holidays == "none", Closed: closed}
	for name, d := range map[string]time.Duration{"take": c.Deadlines.Take, "judge": c.Deadlines.Judge,
		"urgent_take": c.Deadlines.UrgentTake, "urgent_judge": c.Deadlines.UrgentJudge, "remind_after": c.RemindAfter,
		"care.task_due": c.Care.TaskDue, "care.remind_every": c.Care.RemindEvery} {
		if d < 0 {
			return nil, fmt.Errorf("MAMORI_CONFIG %s: %s must not be negative", orExample(path), name)
		}
	}
	if l.sos, err = sosConfig(c); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if l.retention, err = retentionConfig(c.Retention); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if l.register, err = registerConfig(c.Register); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if l.command == "" {
		l.command = "/kasuhara"
	}
	if !strings.HasPrefix(l.command, "/") {
		return nil, fmt.Errorf("%s: slash_command must start with /", where)
	}
	tz := c.Timezone
	if tz == "" {
		tz = "Asia/Tokyo"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%s: timezone %q: %w", where, tz, err)
	}
	l.loc = loc
	org := &mamori.Org{Name: c.Organisation, HRChannel: c.HR.Channel, HR: c.HR.Members, Lang: mamori.JA}
	if org.HRGroups, err = groups("hr.group", c.HR.Group, "hr.entra_group", c.HR.EntraGroup); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	switch c.Language {
	case "", "ja":
	case "en":
		org.Lang = mamori.EN
	default:
		return nil, fmt.Errorf("%s: language must be ja or en, not %q", where, c.Language)
	}
	for lang, people := range c.Languages {
		if lang != string(mamori.JA) && lang != string(mamori.EN) {
			return nil, fmt.Errorf("%s: languages: %q is not ja or en", where, lang)
		}
		for _, id := range people {
			if org.Langs == nil {
				org.Langs = map[string]mamori.Lang{}
			}
			org.Langs[id] = mamori.Lang(lang)
		}
	}
	if org.HRChannel == "" {
		return nil, fmt.Errorf("%s: hr.channel is missing: consultations, alerts and escalations go there", where)
	}
	ids := map[string]bool{}
	for i, d := range c.Departments {
		switch {
		case d.ID == "":
			return nil, fmt.Errorf("%s: departments[%d].id is missing", where, i)
		case ids[d.ID]:
			return nil, fmt.Errorf("%s: departments[%d].id %q is used twice", where, i, d.ID)
		case d.Name.JA == "":
			return nil, fmt.Errorf("%s: departments[%d] (%s): name.ja is missing", where, i, d.ID)
		}
		ids[d.ID] = true
		if d.Name.EN == "" {
			d.Name.EN = d.Name.JA
		}
		dep := mamori.Department{ID: d.ID, Name: d.Name,
			SupervisorChannel: d.SupervisorChannel, Supervisors: d.Supervisors, Members: d.Members}
		at := fmt.Sprintf("departments[%d] (%s).", i, d.ID)
		if dep.MemberGroups, err = groups(at+"members_group", d.MembersGroup, at+"members_entra_group", d.MembersEntraGroup); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if dep.SupervisorGroups, err = groups(at+"supervisors_group", d.SupervisorsGroup, at+"supervisors_entra_group", d.SupervisorsEntraGroup); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		org.Departments = append(org.Departments, dep)
	}
	switch r := c.Directory.Refresh; {
	case r == 0:
		l.refresh = time.Hour
	case r < time.Second:
		return nil, fmt.Errorf("%s: directory.refresh must be a duration of at least 1s, such as 1h (the default), not %s", where, r)
	default:
		l.refresh = r
	}
	l.org = org
	responses := 0
	for i, p := range c.Training {
		at := fmt.Sprintf("%s: training[%d]", where, i)
		if p.ID == "" || strings.Contains(p.ID, ":") {
			return nil, fmt.Errorf("%s: id is missing (letters, digits, - and _)", at)
		}
		if p.Name.JA == "" {
			return nil, fmt.Errorf("%s (%s): name.ja is missing", at, p.ID)
		}
		if p.Name.EN == "" {
			p.Name.EN = p.Name.JA
		}
		prog := flows.Programme{ID: p.ID, Name: p.Name, Link: p.Link, Response: p.Response,
			Every: time.Duration(p.EveryMonths) * 730 * time.Hour, // a month is 730 hours on average
			Due:   time.Duration(p.DueDays) * 24 * time.Hour, NudgeEvery: time.Duration(p.NudgeDays) * 24 * time.Hour}
		if p.EveryMonths < 0 || p.DueDays < 0 || p.NudgeDays < 0 {
			return nil, fmt.Errorf("%s (%s): every_months, due_days and nudge_days must not be negative", at, p.ID)
		}
		if p.EveryMonths > 120 || p.DueDays > 3660 || p.NudgeDays > 3660 {
			return nil, fmt.Errorf("%s (%s): every_months may be at most 120 (ten years), due_days and nudge_days at most 3660", at, p.ID)
		}
		if p.Response {
			responses++
		}
		switch a := p.Audience.(type) {
		case nil:
			if !p.Response {
				return nil, fmt.Errorf("%s (%s): audience is missing: everyone, supervisors, or a list of department ids", at, p.ID)
			}
		case string:
			switch a {
			case "everyone":
				prog.Everyone = true
			case "supervisors":
				prog.Supervisors = true
			default:
				return nil, fmt.Errorf("%s (%s): audience must be everyone, supervisors, or a list of department ids, not %q", at, p.ID, a)
			}
		case []any:
			for _, d := range a {
				id, _ := d.(string)
				if id == "supervisors" {
					prog.Supervisors = true
					continue
				}
				if _, ok := org.Department(id); !ok {
					return nil, fmt.Errorf("%s (%s): audience: no department %q", at, p.ID, id)
				}
				prog.Departments = append(prog.Departments, id)
			}
		default:
			return nil, fmt.Errorf("%s (%s): audience must be everyone, supervisors, or a list of department ids", at, p.ID)
		}
		if p.Audience == nil {
			prog.Start = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) // only by recommendation
		} else if p.Start == "" {
			prog.Start = time.Date(2000, 1, 1, 0, 0, 0, 0, loc)
		} else if prog.Start, err = time.ParseInLocation("2006-01-02", p.Start, loc); err != nil {
			return nil, fmt.Errorf("%s (%s): start must be a date like 2026-10-01", at, p.ID)
		}
		l.training = append(l.training, prog)
	}
	if responses > 1 {
		return nil, fmt.Errorf("%s: only one training programme may have response: true", where)
	}
	name := c.Policy
	if name == "" {
		name = "mhlw-2022"
	}
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.ContainsRune(name, os.PathSeparator) {
		pb, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: policy: %w", where, err)
		}
		// ParsePolicy's errors say "policy" (and its id) already: the
		// file is what it cannot know.
		if l.policy, err = mamori.ParsePolicy(pb); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, name, err)
		}
	} else if l.policy, err = mamori.Preset(name); err != nil {
		if errors.Is(err, mamori.ErrNotFound) {
			return nil, fmt.Errorf("%s: policy %q is neither a preset (%s) nor a .yaml file", where, name, strings.Join(mamori.Presets(), ", "))
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	// The organisation's own care resources replace the policy's.
	for i, r := range c.Care.Resources {
		if r.Name.JA == "" || r.Contact.JA == "" {
			return nil, fmt.Errorf("%s: care.resources[%d]: name.ja and contact (or contact.ja) are needed", where, i)
		}
		if r.Name.EN == "" {
			c.Care.Resources[i].Name.EN = r.Name.JA
		}
		if r.Detail.EN == "" {
			c.Care.Resources[i].Detail.EN = r.Detail.JA
		}
		// A contact given once (a phone number) reads the same in English.
		if r.Contact.EN == "" {
			c.Care.Resources[i].Contact.EN = r.Contact.JA
		}
	}
	if len(c.Care.Resources) > 0 {
		l.policy.Care = c.Care.Resources
	}
	return l, nil
}

// The bounds of sos.ack_within: an alert must be readable before it
// escalates, and an SOS is a matter of minutes, not hours.
const (
	minAckWithin = 10 * time.Second
	maxAckWithin = time.Hour
)

// sosConfig checks the sos section and turns it into flows.SOS; what is
// left out takes the defaults (3 minutes; 10 rounds; the department's
// supervisors, then HR).
func sosConfig(c config) (flows.SOS, error) {
	cs := c.SOS
	out := flows.SOS{AckWithin: 3 * time.Minute, MaxRounds: 10}
	if d := cs.AckWithin; d != nil {
		switch {
		case *d <= 0:
			return flows.SOS{}, fmt.Errorf("sos.ack_within must be a positive duration such as 3m, not %s", *d)
		case *d < minAckWithin:
			return flows.SOS{}, fmt.Errorf("sos.ack_within %s is too short to read an alert: use at least %s (3m is the default)", *d, minAckWithin)
		case *d > maxAckWithin:
			return flows.SOS{}, fmt.Errorf("sos.ack_within %s is too long for someone in danger: use at most %s (3m is the default)", *d, maxAckWithin)
		}
		out.AckWithin = *d
	}
	if n := cs.MaxRounds; n != nil {
		if *n < 1 {
			return flows.SOS{}, fmt.Errorf("sos.max_rounds must be at least 1, not %d (10 is the default)", *n)
		}
		out.MaxRounds = *n
	}
	for i, who := range cs.OnCall {
		if strings.TrimSpace(who) == "" {
			return flows.SOS{}, fmt.Errorf("sos.on_call[%d] is empty: give a user id or an email", i)
		}
		out.OnCall = append(out.OnCall, strings.TrimSpace(who))
	}
	for i, level := range cs.Escalation {
		if len(level) == 0 {
			return flows.SOS{}, fmt.Errorf("sos.escalation[%d] is an empty level: list who is alerted in that round, or remove it", i)
		}
		var people []string
		for j, who := range level {
			if strings.TrimSpace(who) == "" {
				return flows.SOS{}, fmt.Errorf("sos.escalation[%d][%d] is empty: give a user id or an email", i, j)
			}
			people = append(people, strings.TrimSpace(who))
		}
		out.Escalation = append(out.Escalation, people)
	}
	return out, nil
}

// groups reads a pair of group settings: a Slack user group by @handle
// or id (S…), and a Microsoft Entra group by object id. Either may be
// empty.
func groups(slackKey, slackGroup, entraKey, entraGroup string) ([]mamori.Group, error) {
	var out []mamori.Group
	if g := strings.TrimSpace(slackGroup); g != "" {
		handle, isHandle := strings.CutPrefix(g, "@")
		if !slack.IsGroupID(g) && (!isHandle || !slackHandle.MatchString(handle)) {
			return nil, fmt.Errorf("%s %q: give the Slack user group's handle with its @ (\"@store-staff\") or its id (S0614TZR7)", slackKey, g)
		}
		out = append(out, mamori.Group{Source: mamori.SourceSlack, ID: g})
	}
	if g := strings.TrimSpace(entraGroup); g != "" {
		if !teams.IsObjectID(g) {
			return nil, fmt.Errorf("%s %q: give the Microsoft Entra group's object id, a GUID such as 6f1c2a9e-0b3d-4c5e-8f7a-1b2c3d4e5f60 (Entra admin center → Groups → the group → Object ID)", entraKey, g)
		}
		out = append(out, mamori.Group{Source: mamori.SourceEntra, ID: strings.ToLower(g)})
	}
	return out, nil
}

// slackHandle is what Slack allows in a user group's handle: lower-case
// letters, digits, hyphens, periods and underscores.
var slackHandle = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,79}$`)

func orExample(path string) string {
	if path == "" {
		return "(built-in example)"
	}
	return path
}

// The shapes of the ids a platform gives, for idProblems.
var (
	slackChannelID = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	slackUserID    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	emailish       = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// idProblem is a channel or person of the configuration that its
// platform could never match.
type idProblem struct {
	where, value string
	channel      bool // a channel; else a person
}

// idWants says, by platform and language, what a channel and a person
// must be.
var idWants = map[string]map[mamori.Lang][2]string{
	mamori.PlatformSlack: {
		mamori.EN: {"a Slack channel id such as C0123ABCD (channel details → About)", "a Slack user id (U0123ABCD) or an email"},
		mamori.JA: {"Slack のチャンネル ID（C0123ABCD など。チャンネル詳細 →「チャンネル情報」の下）", "Slack のユーザー ID（U0123ABCD）かメールアドレス"},
	},
	mamori.PlatformTeams: {
		mamori.EN: {"a Teams channel id such as 19:…@thread.tacv2 (from the channel's link)", "an Entra object id or an email"},
		mamori.JA: {"Teams のチャンネル ID（19:…@thread.tacv2 など。チャンネルのリンクにあります）", "Entra のオブジェクト ID かメールアドレス"},
	},
}

// say tells p in l, for platform.
func (p idProblem) say(platform string, l mamori.Lang) string {
	want := idWants[platform][l][1]
	if p.channel {
		want = idWants[platform][l][0]
	}
	if l == mamori.JA {
		return fmt.Sprintf("%s の %q: %sを書いてください", p.where, p.value, want)
	}
	return fmt.Sprintf("%s %q is not %s", p.where, p.value, want)
}

// idProblems lists the channels and people of the configuration that
// platform (mamori.PlatformSlack or PlatformTeams) could never match: a
// channel name where its id is needed ("#hr-desk"), a person by name
// ("sato") instead of a user id or an email. The example
// configuration's entries are such names: they work in the sandbox and
// `mamori chat` only.
func idProblems(cfg *loaded, platform string) []idProblem {
	var channel, person func(string) bool
	switch platform {
	case mamori.PlatformSlack:
		channel = slackChannelID.MatchString
		person = func(s string) bool { return slackUserID.MatchString(s) || emailish.MatchString(s) }
	case mamori.PlatformTeams:
		channel = func(s string) bool { return strings.HasPrefix(s, "19:") && strings.Contains(s, "@thread") }
		person = func(s string) bool {
			return teams.IsObjectID(s) || strings.HasPrefix(s, "29:") || emailish.MatchString(s)
		}
	default:
		return nil
	}
	var out []idProblem
	checkChannel := func(where, v string) {
		if v != "" && !channel(v) {
			out = append(out, idProblem{where, v, true})
		}
	}
	checkPeople := func(where string, list []string) {
		for _, v := range list {
			if !person(v) {
				out = append(out, idProblem{where, v, false})
			}
		}
	}
	o := cfg.org
	checkChannel("hr.channel", o.HRChannel)
	checkPeople("hr.members", o.HR)
	for i, d := range o.Departments {
		checkChannel(fmt.Sprintf("departments[%d].supervisor_channel", i), d.SupervisorChannel)
		checkPeople(fmt.Sprintf("departments[%d].supervisors", i), d.Supervisors)
		checkPeople(fmt.Sprintf("departments[%d].members", i), d.Members)
	}
	checkPeople("sos.on_call", cfg.sos.OnCall)
	for i, level := range cfg.sos.Escalation {
		checkPeople(fmt.Sprintf("sos.escalation[%d]", i), level)
	}
	var langs []string
	for who := range o.Langs {
		langs = append(langs, who)
	}
	slices.Sort(langs)
	checkPeople("languages", langs)
	return out
}

// configPlatform is the platform whose ids the configuration holds: the
// one configured, or "" with none or both (ids are then not checked).
func configPlatform(slackOn, teamsOn bool) string {
	switch {
	case slackOn && !teamsOn:
		return mamori.PlatformSlack
	case teamsOn && !slackOn:
		return mamori.PlatformTeams
	}
	return ""
}
