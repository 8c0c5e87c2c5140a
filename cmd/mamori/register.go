package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// registerSection is the configuration of the refusal-of-service
// register (issue 16).
type registerSection struct {
	// By is who records customers: "hr" (the default), or "department":
	// the supervisors of a report's department too, for their own
	// department.
	By     string `yaml:"by"`
	Term   string `yaml:"term"`   // how long an entry runs, default 1 year
	Review string `yaml:"review"` // when it is reviewed, default 6 months
	Notice string `yaml:"notice"` // HR hears before it ends, default 14 days
}

// registerConfig checks the register section.
func registerConfig(c registerSection) (flows.Register, error) {
	var r flows.Register
	switch c.By {
	case "", "hr":
	case "department":
		r.ByDepartment = true
	default:
		return r, fmt.Errorf("register.by must be hr or department, not %q", c.By)
	}
	for _, p := range []struct {
		name, s string
		to      *flows.Period
	}{{"term", c.Term, &r.Term}, {"review", c.Review, &r.Review}} {
		if p.s == "" {
			continue
		}
		v, err := flows.ParsePeriod(p.s)
		if err != nil || v.Never {
			return r, fmt.Errorf("register.%s: an entry runs for a limited time (the customer's data is kept no longer than needed): %q", p.name, p.s)
		}
		*p.to = v
	}
	if c.Notice != "" {
		v, err := flows.ParsePeriod(c.Notice)
		if err != nil || v.Never || v.Years > 0 || v.Months > 0 {
			return r, fmt.Errorf("register.notice: a number of days, such as \"14 days\": %q", c.Notice)
		}
		r.Notice = time.Duration(v.Days) * 24 * time.Hour
	}
	days := func(p flows.Period) int { return p.Years*365 + p.Months*30 + p.Days }
	if !r.Review.IsZero() && !r.Term.IsZero() && days(r.Review) > days(r.Term) {
		return r, fmt.Errorf("register.review (%s) comes after the end of an entry (term %s)", r.Review, r.Term)
	}
	return r, nil
}

// register runs `mamori register list|export`: the refusal-of-service
// register for HR, and for the company's customer systems.
func register(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "export") {
		return errors.New("register: want `mamori register list` or `mamori register export -by NAME [-all] [-o FILE]`")
	}
	fs := flag.NewFlagSet("register "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	by := fs.String("by", "", "who is exporting, for the audit trail (required for export)")
	all := fs.Bool("all", false, "every entry, also lifted and ended ones (which keep no identifier)")
	out := fs.String("o", "", "output file, created readable only by you (default: standard output)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	export := args[0] == "export"
	if export && strings.TrimSpace(*by) == "" {
		return errors.New("register export: -by is required: the audit trail records who exported the register")
	}
	cfg, err := loadConfig(getenv("MAMORI_CONFIG"))
	if err != nil {
		return err
	}
	db, err := openStore(ctx, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	var entries []mamori.RegisterEntry
	if err := db.View(ctx, func(tx mamori.Tx) error {
		var err error
		entries, err = tx.Entries(!*all)
		return err
	}); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	day := func(t time.Time) string { return t.In(cfg.loc).Format("2006-01-02") }
	last := func(t time.Time) string { return t.In(cfg.loc).AddDate(0, 0, -1).Format("2006-01-02") }
	if !export {
		// The list holds no identifier: it may be shown on a screen.
		for _, e := range entries {
			scope := strings.Join(e.Departments, ",")
			if scope == "" {
				scope = "*"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s..%s\treview %s\t%s\n", e.Number, e.Status, scope, day(e.From), last(e.Until), day(e.Review),
				strings.Join(e.Cases, ","))
		}
		if len(entries) == 0 {
			fmt.Fprintln(stdout, "the register is empty")
		}
		return nil
	}
	w := stdout
	if *out != "" {
		file, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("register export: %w", err)
		}
		defer file.Close()
		w = file
	}
	if err := writeRegisterCSV(w, entries, day, last); err != nil {
		return fmt.Errorf("register export: %w", err)
	}
	// Who exported it, after it was written.
	var numbers []string
	for _, e := range entries {
		numbers = append(numbers, e.Number)
	}
	err = db.Update(ctx, func(tx mamori.Tx) error {
		return tx.Audit(mamori.AuditEntry{At: time.Now(), Actor: "cli:" + *by, Action: "register.exported", Subject: "register",
			Detail: fmt.Sprintf("entries=%d all=%t numbers=%s", len(entries), *all, strings.Join(numbers, ","))})
	})
	if err != nil {
		return fmt.Errorf("register export: recording it in the audit trail: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(stderr, "%d register entries written to %s; it holds customers' personal data: keep it safe, and delete it once imported\n", len(entries), *out)
	}
	return nil
}

// writeRegisterCSV writes one row an entry: its number, status, scope,
// period and review, the identifiers as entered and their normalised
// keys (one per line, for matching in another system: "t:" a phone, "n:"
// a number, "p:" a name), the reports and who decided.
func writeRegisterCSV(w io.Writer, entries []mamori.RegisterEntry, day, last func(time.Time) string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"number", "status", "departments", "from", "until", "review", "identifiers", "keys", "cases", "decided_by"}); err != nil {
		return err
	}
	for _, e := range entries {
		row := []string{e.Number, e.Status, strings.Join(e.Departments, " "), day(e.From), last(e.Until), day(e.Review),
			e.Identifiers, strings.Join(flows.CustomerKeys(e.Identifiers), "\n"), strings.Join(e.Cases, " "), e.DecidedBy}
		for i, v := range row {
			row[i] = csvSafe(v)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a cell from being read as a formula by a spreadsheet
// (=, +, -, @ first): what HR typed is data, never a command.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
