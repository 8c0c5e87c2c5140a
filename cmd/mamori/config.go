package main

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Tokyo on machines without zoneinfo

	"github.com/goccy/go-yaml"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

//go:embed mamori.example.yaml
var exampleConfig []byte

// config is the YAML configuration file.
type config struct {
	Organisation string        `yaml:"organisation"`
	Language     string        `yaml:"language"`
	Timezone     string        `yaml:"timezone"`
	Policy       string        `yaml:"policy"`
	SlashCommand string        `yaml:"slash_command"`
	RemindAfter  time.Duration `yaml:"remind_after"`
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
	} `yaml:"care"`
	HR struct {
		Channel string   `yaml:"channel"`
		Members []string `yaml:"members"`
	} `yaml:"hr"`
	Departments []struct {
		ID                string      `yaml:"id"`
		Name              mamori.Text `yaml:"name"`
		SupervisorChannel string      `yaml:"supervisor_channel"`
		Supervisors       []string    `yaml:"supervisors"`
		Members           []string    `yaml:"members"`
	} `yaml:"departments"`
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
	path      string // "" for the embedded example
	embedded  bool
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
	if err := yaml.UnmarshalWithOptions(b, &c, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("MAMORI_CONFIG %s: %s", orExample(path), yaml.FormatError(err, false, true))
	}
	where := "MAMORI_CONFIG " + orExample(path)
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
	l.care = flows.Care{Offsets: c.Care.Checkins, StartHour: wh.Start, EndHour: wh.End}
	for name, d := range map[string]time.Duration{"take": c.Deadlines.Take, "judge": c.Deadlines.Judge,
		"urgent_take": c.Deadlines.UrgentTake, "urgent_judge": c.Deadlines.UrgentJudge, "remind_after": c.RemindAfter} {
		if d < 0 {
			return nil, fmt.Errorf("MAMORI_CONFIG %s: %s must not be negative", orExample(path), name)
		}
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
	switch c.Language {
	case "", "ja":
	case "en":
		org.Lang = mamori.EN
	default:
		return nil, fmt.Errorf("%s: language must be ja or en, not %q", where, c.Language)
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
		org.Departments = append(org.Departments, mamori.Department{ID: d.ID, Name: d.Name,
			SupervisorChannel: d.SupervisorChannel, Supervisors: d.Supervisors, Members: d.Members})
	}
	l.org = org
	name := c.Policy
	if name == "" {
		name = "mhlw-2022"
	}
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.ContainsRune(name, os.PathSeparator) {
		pb, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: policy: %w", where, err)
		}
		if l.policy, err = mamori.ParsePolicy(pb); err != nil {
			return nil, fmt.Errorf("%s: policy %s: %w", where, name, err)
		}
	} else if l.policy, err = mamori.Preset(name); err != nil {
		if errors.Is(err, mamori.ErrNotFound) {
			return nil, fmt.Errorf("%s: policy %q is neither a preset (%s) nor a .yaml file", where, name, strings.Join(mamori.Presets(), ", "))
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return l, nil
}

func orExample(path string) string {
	if path == "" {
		return "(built-in example)"
	}
	return path
}
