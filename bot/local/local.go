// Package local runs Mamori's flows in a terminal: the employee's direct
// messages and what the shared channels would receive, with no platform
// and no credentials. It is how a new user first sees the product.
package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mamori-oss/mamori"
)

// Flows is what the terminal needs from the flows.
type Flows interface {
	Handle(ctx context.Context, in mamori.Input) error
	CaseDetails(ctx context.Context, viewer mamori.User, number string) (mamori.Message, error)
	// Open answers a supervisor's or HR's button: a form to fill in, or
	// the one-click action done; Submit acts on a filled-in form.
	Open(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error)
	Submit(ctx context.Context, actor mamori.User, a mamori.Action, v mamori.Values) (mamori.Message, error)
}

// Terminal is a chat in a terminal. It is also the outbox Sender for the
// "local" platform: messages to the current user print as the bot's DM,
// messages to channels print in a frame.
type Terminal struct {
	In    io.Reader
	Out   io.Writer
	Flows Flows
	User  mamori.User
	// Drain, when set, delivers the outbox after each input, so replies
	// print before the next prompt.
	Drain func(ctx context.Context)
	// Policy gives the terminal's own few texts.
	Policy *mamori.Policy
	// Skip, when set, moves the demo clock forward (/skip 25h), so
	// reminders and check-ins due later can be seen now.
	Skip func(d time.Duration) time.Time
	// ImageDir, when set, is where images sent with messages (charts)
	// are written, so they can be opened.
	ImageDir string

	mu      sync.Mutex
	seq     int
	actions []action // what the numbers of the last message mean
	multi   *multi
	// others keeps the buttons of the last message to each other person,
	// so that after /as they can click them.
	others map[string]buttons
	// form is the form being filled in, a field at a time.
	form *filling
}

// filling is a form being filled in at the terminal: field i is asked.
type filling struct {
	form   mamori.Form
	i      int
	values mamori.Values
	again  bool // field i was refused: submit once it is answered
}

type buttons struct {
	actions []action
	multi   *multi
	form    *filling // the form they were filling in, kept while another acts
}

type action struct {
	step, value string
}

type multi struct {
	step   string
	values []string
}

// Send prints one outbox item.
func (t *Terminal) Send(_ context.Context, it mamori.OutboxItem, prev *mamori.Posted) (mamori.Posted, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	p := mamori.Posted{Channel: it.Target.ID, TS: strconv.Itoa(t.seq)}
	if prev != nil {
		p = *prev
	}
	m := it.Message
	if it.Target.Kind == mamori.TargetChannel {
		title := "#" + strings.TrimPrefix(it.Target.ID, "#")
		if it.Target.Thread != "" {
			title += " › " + t.Policy.T(t.User.Lang, "local.thread") + " " + strings.TrimPrefix(it.Target.Thread, "card:")
		}
		if prev != nil {
			title += " (" + t.Policy.T(t.User.Lang, "local.updated") + ")"
		}
		fmt.Fprintf(t.Out, "\n┌── %s %s\n", title, strings.Repeat("─", max(0, 50-len(title))))
		t.print("│ ", m, false)
		fmt.Fprintf(t.Out, "└%s\n", strings.Repeat("─", 56))
		return p, nil
	}
	if it.Target.ID != t.User.ID {
		fmt.Fprintf(t.Out, "\n✉ → @%s\n", it.Target.ID)
		mine := buttons{t.actions, t.multi, nil}
		t.actions, t.multi = nil, nil
		t.print("  ", m, true)
		if t.actions != nil || t.multi != nil {
			if t.others == nil {
				t.others = map[string]buttons{}
			}
			t.others[it.Target.ID] = buttons{t.actions, t.multi, t.others[it.Target.ID].form}
		}
		t.actions, t.multi = mine.actions, mine.multi
		return p, nil
	}
	fmt.Fprintln(t.Out)
	t.print("", m, true)
	return p, nil
}

var (
	mention = regexp.MustCompile(`<@([^>]+)>`)
	bold    = regexp.MustCompile(`\*([^*\n]+)\*`)
)

// print writes m with prefix on every line; with numbered, its buttons get
// numbers the next input can use.
func (t *Terminal) print(prefix string, m mamori.Message, numbered bool) {
	w := func(format string, a ...any) {
		for _, line := range strings.Split(fmt.Sprintf(format, a...), "\n") {
			line = bold.ReplaceAllString(mention.ReplaceAllString(line, "@$1"), "$1")
			fmt.Fprintln(t.Out, prefix+line)
		}
	}
	if m.Header != "" {
		if m.Urgent {
			w("🚨 【%s】", m.Header)
		} else {
			w("【%s】", m.Header)
		}
	}
	if m.Text != "" {
		w("%s", m.Text)
	}
	for _, f := range m.Fields {
		if strings.Contains(f.Value, "\n") {
			w("・%s:\n    %s", f.Label, strings.ReplaceAll(f.Value, "\n", "\n    "))
		} else {
			w("・%s: %s", f.Label, f.Value)
		}
	}
	if numbered && (len(m.Choices) > 0 || m.Multi != nil || len(m.Controls) > 0) {
		t.actions = nil
		t.multi = nil
	}
	n := 0
	if m.Multi != nil {
		mu := &multi{step: m.Step}
		for _, o := range m.Multi.Options {
			n++
			mark := "☐"
			for _, s := range m.Multi.Selected {
				if s == o.Value {
					mark = "☑"
				}
			}
			w("  %s %2d. %s", mark, n, o.Label)
			mu.values = append(mu.values, o.Value)
		}
		if numbered {
			t.multi = mu
		}
	}
	var buttons []string
	add := func(cs []mamori.Choice) {
		for _, c := range cs {
			// A card's buttons are commands, also on a card in a DM (an
			// SOS alert to someone on call): whoever answers it acts.
			if !numbered || m.Step == mamori.StepCard {
				if m.Step == mamori.StepCard {
					if action, number, ok := strings.Cut(c.Value, ":"); ok {
						buttons = append(buttons, "["+c.Label+": /"+action+" "+number+"]")
						continue
					}
				}
				buttons = append(buttons, "["+c.Label+"]")
				continue
			}
			n++
			t.actions = append(t.actions, action{step: m.Step, value: c.Value})
			buttons = append(buttons, fmt.Sprintf("[%d] %s", n, c.Label))
		}
	}
	add(m.Choices)
	if len(buttons) > 0 {
		w("  %s", strings.Join(buttons, "  "))
		buttons = nil
	}
	add(m.Controls)
	if len(buttons) > 0 {
		w("  %s", strings.Join(buttons, "  "))
	}
	if m.Multi != nil && numbered {
		// No boxes to tick here: their numbers are sent ("press Done" in
		// the question is about Slack's and Teams' button).
		w("  ✎ %s", t.Policy.T(t.User.Lang, "local.multi"))
	} else if m.Prompt != "" {
		w("  ✎ %s", m.Prompt)
	}
	if m.Note != "" {
		w("  ※ %s", strings.ReplaceAll(m.Note, "\n", "\n  ※ "))
	}
	if img := m.Image; img != nil {
		where := img.Name
		if t.ImageDir != "" {
			path := filepath.Join(t.ImageDir, filepath.Base(img.Name))
			if err := os.WriteFile(path, img.PNG, 0o600); err == nil {
				where = path
			}
		}
		w("  🖼 %s — %s", where, img.Alt)
	}
}

// Run reads lines until EOF or /quit. It opens with the menu.
func (t *Terminal) Run(ctx context.Context) error {
	if t.User.Lang == "" {
		t.User.Lang = mamori.JA
	}
	if t.User.Platform == "" {
		t.User.Platform = mamori.PlatformLocal
	}
	fmt.Fprintln(t.Out, t.Policy.T(t.User.Lang, "local.welcome"))
	if err := t.handle(ctx, mamori.Input{Kind: mamori.InputStart}); err != nil {
		return err
	}
	sc := bufio.NewScanner(t.In)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for {
		fmt.Fprint(t.Out, "\n> ")
		if !sc.Scan() {
			fmt.Fprintln(t.Out)
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		in, quit := t.parse(ctx, line)
		if quit {
			return nil
		}
		if in == nil {
			continue
		}
		if err := t.handle(ctx, *in); err != nil {
			fmt.Fprintln(t.Out, t.Policy.T(t.User.Lang, "error"))
			if errors.Is(err, context.Canceled) {
				return err
			}
		}
	}
}

func (t *Terminal) handle(ctx context.Context, in mamori.Input) error {
	in.User = t.User
	if err := t.Flows.Handle(ctx, in); err != nil && !errors.Is(err, mamori.ErrStale) {
		return err
	}
	if t.Drain != nil {
		t.Drain(ctx)
	}
	return nil
}

// parse turns a typed line into an input, or runs a terminal command.
func (t *Terminal) parse(ctx context.Context, line string) (*mamori.Input, bool) {
	l := t.User.Lang
	if t.form != nil && (isCancel(line) || !strings.HasPrefix(line, "/")) {
		t.fill(ctx, line)
		return nil, false
	}
	if strings.HasPrefix(line, "/") {
		f := strings.Fields(line)
		switch f[0] {
		case "/quit", "/exit", "/q":
			return nil, true
		case "/cancel":
			// A form open takes /cancel above; a report or a question is
			// stopped by "やめる", which asks first.
			fmt.Fprintln(t.Out, t.Policy.T(l, "local.cancel.none"))
		case "/help", "/?":
			fmt.Fprintln(t.Out, t.Policy.T(l, "local.help"))
		case "/lang":
			if len(f) == 2 && (f[1] == "en" || f[1] == "ja") {
				t.User.Lang = mamori.Lang(f[1])
				fmt.Fprintln(t.Out, t.Policy.T(t.User.Lang, "local.lang"))
			} else {
				fmt.Fprintln(t.Out, t.Policy.T(l, "local.help"))
			}
		case "/as":
			if len(f) == 2 {
				if t.others == nil {
					t.others = map[string]buttons{}
				}
				t.others[t.User.ID] = buttons{t.actions, t.multi, t.form}
				if t.form != nil {
					// What one person was filling in is not the next one's:
					// kept for when they are back.
					fmt.Fprintln(t.Out, t.Policy.T(l, "local.form.kept"))
				}
				t.User.ID = f[1]
				b := t.others[f[1]]
				t.actions, t.multi, t.form = b.actions, b.multi, b.form
				fmt.Fprintf(t.Out, t.Policy.T(l, "local.as")+"\n", f[1])
				if t.form != nil {
					t.ask() // theirs, where they left it
				}
			} else {
				fmt.Fprintln(t.Out, t.Policy.T(l, "local.help"))
			}
		case "/details":
			if len(f) != 2 {
				fmt.Fprintf(t.Out, t.Policy.T(l, "local.subject.none")+"\n", f[0])
				break
			}
			m, err := t.Flows.CaseDetails(ctx, t.User, f[1])
			t.mu.Lock()
			fmt.Fprintln(t.Out)
			if err != nil && !errors.Is(err, mamori.ErrForbidden) && !errors.Is(err, mamori.ErrNotFound) {
				fmt.Fprintln(t.Out, t.Policy.T(l, "error"))
			} else {
				t.print("🔒 ", m, false)
			}
			t.mu.Unlock()
		case "/skip":
			var d time.Duration
			var err error
			if len(f) == 2 {
				d, err = parseSkip(f[1])
			}
			if t.Skip == nil || len(f) != 2 || err != nil || d <= 0 {
				fmt.Fprintln(t.Out, t.Policy.T(l, "local.help"))
				break
			}
			now := t.Skip(d)
			shown := now.Format("2006-01-02 (Mon) 15:04")
			if l == mamori.JA {
				shown = now.Format("2006-01-02") + "（" + string([]rune("日月火水木金土")[now.Weekday()]) + "）" + now.Format("15:04")
			}
			fmt.Fprintf(t.Out, t.Policy.T(l, "local.skipped")+"\n", shown)
			if t.Drain != nil {
				t.Drain(ctx)
			}
		case "/take", "/judge", "/reopen", "/ask", "/witness", "/care_ack", "/care_note", "/care_close", "/train",
			"/consult_take", "/consult_reply", "/consult_close", "/" + mamori.SOSAck, "/" + mamori.SOSClose,
			"/hold", "/release", "/erase", "/erase_approve", "/erase_decline",
			"/" + mamori.CardLink, "/" + mamori.RegisterAdd, "/" + mamori.RegisterExtend, "/" + mamori.RegisterReview,
			"/" + mamori.RegisterLift, "/" + mamori.RegisterDetails:
			t.caseAction(ctx, f)
		case "/start", "/kasuhara":
			v := ""
			if len(f) > 1 {
				v = f[1]
			}
			return &mamori.Input{Kind: mamori.InputStart, Value: v}, false
		default:
			// A typo: one line, not the whole help.
			fmt.Fprintf(t.Out, t.Policy.T(l, "local.unknown")+"\n", f[0])
		}
		return nil, false
	}
	if strings.HasPrefix(line, "file:") {
		name := strings.TrimSpace(strings.TrimPrefix(line, "file:"))
		return &mamori.Input{Kind: mamori.InputFile, Files: []mamori.File{{ID: "local-" + name, Name: name}}}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.multi != nil {
		if values, ok := pick(line, t.multi.values); ok {
			return &mamori.Input{Kind: mamori.InputMulti, Step: t.multi.step, Values: values}, false
		}
		// A number past the options is one of the buttons after them.
		if n, err := strconv.Atoi(line); err == nil && n > len(t.multi.values) && n-len(t.multi.values) <= len(t.actions) {
			a := t.actions[n-len(t.multi.values)-1]
			if a.value == "submit" {
				return &mamori.Input{Kind: mamori.InputMulti, Step: a.step}, false
			}
			return &mamori.Input{Kind: mamori.InputChoice, Step: a.step, Value: a.value}, false
		}
	} else if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(t.actions) {
		a := t.actions[n-1]
		return &mamori.Input{Kind: mamori.InputChoice, Step: a.step, Value: a.value}, false
	}
	return &mamori.Input{Kind: mamori.InputText, Text: line}, false
}

// pick reads "1,3 5" as the options with those numbers.
func pick(line string, values []string) ([]string, bool) {
	fields := strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '、' })
	if len(fields) < 2 && !strings.ContainsAny(line, ", 、") {
		// A single number is an option only if it is in range; it is then
		// a one-item choice.
		n, err := strconv.Atoi(line)
		if err != nil || n < 1 || n > len(values) {
			return nil, false
		}
		return []string{values[n-1]}, true
	}
	var out []string
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > len(values) {
			return nil, false
		}
		out = append(out, values[n-1])
	}
	return out, true
}

// caseAction runs a supervisor's or HR's command, a card's button typed
// out: "/<action> <case or task>". An action with a form asks its fields
// one at a time. Text after the subject answers the form's first field
// when it is a text: a form of one text field is sent at once ("/ask N
// question…", "/reopen N reason…"); a longer one ("/consult_reply N
// reply…", which may cite the policy too) goes on to its next field,
// the text kept as typed.
func (t *Terminal) caseAction(ctx context.Context, f []string) {
	l := t.User.Lang
	if len(f) < 2 {
		// Nothing named to act on: say so in a sentence, not the whole help.
		if f[0] == "/"+mamori.RegisterReview {
			fmt.Fprintln(t.Out, t.Policy.T(l, "local.review.none"))
		} else {
			fmt.Fprintf(t.Out, t.Policy.T(l, "local.subject.none")+"\n", f[0])
		}
		return
	}
	a := mamori.Action{Kind: f[0][1:], Subject: f[1]}
	form, m, err := t.Flows.Open(ctx, t.User, a)
	if err == nil && form != nil {
		rest := strings.Join(f[2:], " ")
		// Text typed after the number fills the form's first field when it
		// is an empty text field (a reply); never over what the form
		// already holds (identifiers taken from a report, a date).
		typed := rest != "" && len(form.Fields) > 0 && form.Fields[0].Kind == mamori.FieldText && len(form.Fields[0].Value) == 0
		if typed && len(form.Fields) == 1 {
			t.submit(ctx, a, mamori.Values{form.Fields[0].ID: {rest}})
			return
		}
		t.form = &filling{form: *form, values: mamori.Values{}}
		t.mu.Lock()
		fmt.Fprintln(t.Out)
		t.print("", mamori.Message{Header: form.Title, Text: form.Intro, Fields: form.About, Note: form.Note}, false)
		if typed {
			fd := form.Fields[0]
			t.form.values[fd.ID], t.form.i = []string{rest}, 1
			fmt.Fprintf(t.Out, "(1/%d) %s: %s\n", len(form.Fields), fd.Label, rest)
		}
		t.mu.Unlock()
		t.ask()
		return
	}
	t.show(ctx, m, err)
}

// show prints the answer to an action, and what it sent.
func (t *Terminal) show(ctx context.Context, m mamori.Message, err error) {
	if err != nil && !errors.Is(err, mamori.ErrForbidden) && !errors.Is(err, mamori.ErrNotFound) && !errors.Is(err, mamori.ErrInvalid) &&
		!errors.Is(err, mamori.ErrConflict) {
		fmt.Fprintln(t.Out, t.Policy.T(t.User.Lang, "error"))
		return
	}
	t.mu.Lock()
	fmt.Fprintln(t.Out)
	t.print("", m, false)
	t.mu.Unlock()
	if t.Drain != nil {
		t.Drain(ctx)
	}
}

// ask prints the form's current field.
func (t *Terminal) ask() {
	l := t.User.Lang
	fl := t.form
	fd := fl.form.Fields[fl.i]
	label := fmt.Sprintf("(%d/%d) %s", fl.i+1, len(fl.form.Fields), fd.Label)
	if fd.Required {
		label += " *"
	}
	fmt.Fprintln(t.Out, label)
	for i, o := range fd.Options {
		fmt.Fprintf(t.Out, "  %2d. %s\n", i+1, o.Label)
	}
	if fd.Hint != "" {
		fmt.Fprintln(t.Out, "  ※ "+strings.ReplaceAll(fd.Hint, "\n", "\n  ※ "))
	}
	if len(fd.Value) > 0 {
		// A pre-filled value (the register's dates, the report's
		// identifiers): "=" keeps it.
		shown := strings.Join(fd.Value, ", ")
		if len(fd.Options) > 0 {
			var labels []string
			for _, o := range fd.Options {
				if slices.Contains(fd.Value, o.Value) {
					labels = append(labels, o.Label)
				}
			}
			shown = strings.Join(labels, ", ")
		}
		fmt.Fprintf(t.Out, "  ＝ %s\n", fmt.Sprintf(t.Policy.T(l, "local.form.keep"), shown))
	}
	how := "local.form.text"
	switch fd.Kind {
	case mamori.FieldOne:
		how = "local.form.one"
	case mamori.FieldMany:
		how = "local.form.many"
	case mamori.FieldUser:
		how = "local.form.user"
	}
	if fd.Required && fd.Kind != mamori.FieldUser {
		how += ".required" // no "- to leave it empty" where it may not be
	}
	fmt.Fprintln(t.Out, "  ✎ "+t.Policy.T(l, how))
}

// fill takes line as the answer to the form's current field, and submits
// the form after its last.
func (t *Terminal) fill(ctx context.Context, line string) {
	l := t.User.Lang
	fl := t.form
	if isCancel(line) {
		t.form = nil
		fmt.Fprintln(t.Out, t.Policy.T(l, "local.form.cancelled"))
		return
	}
	fd := fl.form.Fields[fl.i]
	var v []string
	switch {
	case line == "-":
	case line == "=" && len(fd.Value) > 0:
		v = fd.Value
	case fd.Kind == mamori.FieldText:
		v = []string{line}
	case fd.Kind == mamori.FieldUser:
		v = []string{strings.TrimPrefix(line, "@")}
	default:
		values := make([]string, len(fd.Options))
		for i, o := range fd.Options {
			values[i] = o.Value
		}
		picked, ok := pick(line, values)
		if !ok || (fd.Kind == mamori.FieldOne && len(picked) != 1) {
			fmt.Fprintln(t.Out, t.Policy.T(l, "local.form.again"))
			t.ask()
			return
		}
		v = picked
	}
	if len(v) == 0 && fd.Required {
		fmt.Fprintln(t.Out, t.Policy.T(l, "local.form.required"))
		t.ask()
		return
	}
	if len(v) > 0 {
		fl.values[fd.ID] = v
	} else {
		delete(fl.values, fd.ID)
	}
	fl.i++
	for fl.i < len(fl.form.Fields) && !fl.again && !applies(fl.form.Fields[fl.i], fl.values) {
		delete(fl.values, fl.form.Fields[fl.i].ID) // not for the answers given
		fl.i++
	}
	if fl.i < len(fl.form.Fields) && !fl.again {
		t.ask()
		return
	}
	t.submit(ctx, fl.form.Action, fl.values)
}

// submit sends a filled-in form; a refused field is asked again, with
// why, keeping the other answers.
func (t *Terminal) submit(ctx context.Context, a mamori.Action, v mamori.Values) {
	m, err := t.Flows.Submit(ctx, t.User, a, v)
	var r *mamori.Refusal
	if errors.As(err, &r) && r.Field != "" && t.form != nil {
		for i, fd := range t.form.form.Fields {
			if fd.ID == r.Field {
				t.form.i, t.form.again = i, true
				fmt.Fprintln(t.Out, "⚠ "+m.Text)
				t.ask()
				return
			}
		}
	}
	t.form = nil
	t.show(ctx, m, err)
}

// applies reports whether field fd is for the answers given so far.
func applies(fd mamori.FormField, v mamori.Values) bool {
	if fd.OnlyIf == nil {
		return true
	}
	for _, x := range v[fd.OnlyIf.Field] {
		if slices.Contains(fd.OnlyIf.Values, x) {
			return true
		}
	}
	return false
}

// parseSkip reads a duration like 25h, 90m or 7d.
func parseSkip(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// isCancel reports whether a typed line is /cancel, with or without words
// after it ("/cancel やっぱりやめます").
func isCancel(line string) bool {
	f := strings.Fields(line)
	return len(f) > 0 && f[0] == "/cancel"
}
