package integration_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/local"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/store/sqlite"
)

// These tests type into the terminal chat (mamori chat) as a person
// would, through the real flows, outbox worker and a SQLite file: the
// terminal's commands are an adapter of their own (bot/local), whose
// tests may not reach a store (deps_test.go).

// chat is a terminal session on one database: each run types lines as
// a person would and returns what the terminal printed.
type chat struct {
	db     *sqlite.DB
	svc    *flows.Service
	policy *mamori.Policy
}

func newChat(t *testing.T) *chat {
	t.Helper()
	p, err := mamori.Preset("mhlw-2022")
	if err != nil {
		t.Fatal(err)
	}
	db := wkStore(t)
	now := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	org := &mamori.Org{HRChannel: "hr-desk", HR: []string{"hr"}, Departments: []mamori.Department{
		{ID: "store", Name: mamori.Text{JA: "店舗運営部", EN: "Store"}, SupervisorChannel: "store-sup",
			Supervisors: []string{"sato"}, Members: []string{"me"}}}}
	svc := &flows.Service{Store: db, Policy: p, Org: org, Clock: func() time.Time { return now },
		Log: slog.New(slog.DiscardHandler), Location: tokyo, Platform: mamori.PlatformLocal}
	return &chat{db: db, svc: svc, policy: p}
}

// run types lines as user (in language l) and returns what was printed.
func (c *chat) run(t *testing.T, user string, l mamori.Lang, lines ...string) string {
	t.Helper()
	var out bytes.Buffer
	term := &local.Terminal{In: strings.NewReader(strings.Join(append(lines, "/quit"), "\n") + "\n"), Out: &out,
		Flows: c.svc, Policy: c.policy, User: mamori.User{Platform: mamori.PlatformLocal, ID: user, Lang: l}}
	w := (&flows.Worker{Store: c.db, Senders: map[string]flows.Sender{mamori.PlatformLocal: term}, Jobs: c.svc,
		Clock: c.svc.Clock, Log: slog.New(slog.DiscardHandler)}).Init()
	term.Drain = func(ctx context.Context) {
		if _, err := w.Drain(ctx); err != nil {
			t.Errorf("drain: %v", err)
		}
	}
	if err := term.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// /consult_reply N text: the text typed after the number is the reply,
// as if typed into the form; the form goes on to its next field (the
// policy's clauses to cite) and sends it to the employee.
func TestTerminalConsultReplyInline(t *testing.T) {
	c := newChat(t)
	c.run(t, "me", mamori.JA, "/kasuhara consult", "毎日同じ方から1時間の電話があります", "はい", "1")
	const n = "SD-2026-0001"
	const reply = "お話を聞かせてください。明日お電話します。"
	out := c.run(t, "hr", mamori.JA, "/consult_reply "+n+" "+reply, "-")
	if !strings.Contains(out, strings.ReplaceAll(c.policy.T(mamori.JA, "judge.done.consult_reply"), "%s", n)) {
		t.Fatalf("the reply was not sent:\n%s", out)
	}
	// The employee's DM has it, word for word.
	i := strings.Index(out, "✉ → @me")
	if i < 0 {
		t.Fatalf("nothing went to the employee:\n%s", out)
	}
	if dm := out[i:]; !strings.Contains(dm, reply) {
		t.Errorf("the employee did not get the typed reply:\n%s", out)
	}
	// The form did not ask for the reply again: the clauses came next.
	if strings.Contains(out, "(1/2) "+c.policy.T(mamori.JA, "consult.reply.label")+"\n") || !strings.Contains(out, "(2/2)") {
		t.Errorf("the form asked again for what was typed:\n%s", out)
	}
	var k mamori.Case
	if err := c.db.View(context.Background(), func(tx mamori.Tx) error {
		var err error
		k, err = tx.Case(n)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if qs := k.Decision.Questions; len(qs) != 1 || qs[0].Text != reply {
		t.Errorf("the consultation's record: %+v", k.Decision)
	}
}

// /register_review and /cancel with nothing open answer in one short
// sentence, in the person's language, rather than the whole /help; a
// form open still takes /cancel.
func TestTerminalNothingOpen(t *testing.T) {
	c := newChat(t)
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		help := c.policy.T(l, "local.help")
		for typed, key := range map[string]string{"/register_review": "local.review.none", "/cancel": "local.cancel.none"} {
			out := c.run(t, "hr", l, typed)
			want := c.policy.T(l, key)
			if !strings.Contains(out, want) || strings.Contains(out, help) {
				t.Errorf("%s (%s) answered:\n%s", typed, l, out)
			}
			if strings.Count(want, "。")+strings.Count(want, ". ") > 1 || len([]rune(want)) > 80 {
				t.Errorf("%s (%s) is not one short sentence: %q", typed, l, want)
			}
		}
		out := c.run(t, "hr", l, "/take")
		if want := strings.ReplaceAll(c.policy.T(l, "local.subject.none"), "%s", "/take"); !strings.Contains(out, want) || strings.Contains(out, help) {
			t.Errorf("/take (%s) answered:\n%s", l, out)
		}
	}
	// With a form open, /cancel closes it, as before.
	c.run(t, "me", mamori.JA, "/kasuhara consult", "毎日同じ方から1時間の電話があります", "はい", "1")
	for _, cancel := range []string{"/cancel", "/cancel やっぱりやめます"} {
		out := c.run(t, "hr", mamori.JA, "/consult_reply SD-2026-0001", cancel)
		if !strings.Contains(out, c.policy.T(mamori.JA, "local.form.cancelled")) || strings.Contains(out, c.policy.T(mamori.JA, "local.cancel.none")) {
			t.Errorf("%q in a form:\n%s", cancel, out)
		}
	}
}
