package flows

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// The front-line check (issue 16): someone at the counter or on the
// phone asks whether a customer is on the refusal-of-service register for
// their site — from the menu or App Home (one question: which customer?)
// or typed at once ("確認 090-1234-5678"). The answer is only what to do:
// do not serve, call your supervisor, with the on-site guidance; or that
// the customer is not on their site's register. Never why, never a case.
// Every check is audited: who, when, and which entry it found — never
// what was typed, which Mamori does not keep.

// stepCheck is the check's one question. It is stored: never rename it.
const stepCheck = "check"

// checkCancel is the check question's button that gives it up.
const checkCancel = "check:cancel"

// checkWords begin a typed check.
var checkWords = []string{"確認", "かくにん", "照会", "check"}

// idLike reports whether s is one word with a digit in it: a customer
// or contract number ("C-7781", "no.4521").
func idLike(s string) bool {
	return s != "" && !strings.ContainsAny(s, " 　") && strings.ContainsFunc(s, unicode.IsDigit)
}

// checkWord reads a typed check: "確認 090-1234-5678" gives the customer,
// "確認" alone an empty one; ok is false for anything else ("確認しました").
func checkWord(typed string) (rest string, ok bool) {
	t := strings.TrimSpace(typed)
	for _, w := range checkWords {
		if len(t) < len(w) || !strings.EqualFold(t[:len(w)], w) {
			continue
		}
		r := t[len(w):]
		first, _ := utf8.DecodeRuneInString(r)
		rest := strings.TrimSpace(strings.TrimLeft(r, " 　:："))
		next, _ := utf8.DecodeRuneInString(rest)
		switch {
		case r == "":
			return "", true
		case w == "check" && !unicode.IsDigit(next) && next != '+' && !idLike(rest) && !nameLike(rest):
			// "check on my report" is English, not a check: only a
			// number, one word with a digit ("C-7781") or a name ("Taro
			// Yamada", 山田太郎) follows the English word.
			return "", false
		case unicode.IsSpace(first) || first == ':' || first == '：':
			return rest, true
		case unicode.IsDigit(first) || first == '+' || first == '＋':
			return r, true
		}
	}
	return "", false
}

// checkStep moves a conversation through a check: its start from the
// menu, App Home or a typed word, and the answer to its question. ok is
// false when in is not about a check.
func checkStep(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out, bool) {
	l := c.User.Lang
	inFlow := c.Flow != "" && c.Step != stepDone && c.Step != stepMenu
	typed := strings.TrimSpace(in.Text)
	start := in.Value == mamori.StartCheck && (in.Kind == mamori.InputStart || (in.Kind == mamori.InputChoice && in.Step == stepMenu))
	var customer string
	if start {
		customer, _ = checkWord(typed) // "/kasuhara 確認 090-…"
	} else if in.Kind == mamori.InputText && !inFlow && !c.Check && c.Reply == "" && c.Witness == "" {
		if rest, ok := checkWord(typed); ok {
			start, customer = true, rest
		}
	}
	switch {
	case start && customer != "":
		c.Check = false
		return c, checked(env, c, customer, inFlow), true
	case start:
		c.Check = true
		return c, Out{Replies: []mamori.Message{checkPrompt(env, l, "")}}, true
	case !c.Check:
		return c, Out{}, false
	}
	// The question waits for its answer.
	if (in.Kind == mamori.InputChoice && in.Value == checkCancel) || (in.Kind == mamori.InputText && (typedCommand(typed) == navCancel || typedCommand(typed) == navBack)) {
		c.Check = false
		out := Out{Replies: []mamori.Message{text(env.Policy.T(l, "check.cancelled"))}}
		if inFlow {
			out.Replies = append(out.Replies, ask(env, c, "").Replies...)
		}
		return c, out, true
	}
	if in.Kind != mamori.InputText || typed == "" {
		// Moved on (a click elsewhere, a file): the check is given up and
		// the input handled as usual.
		c.Check = false
		return c, Out{}, false
	}
	if len(CustomerKeys(typed)) == 0 {
		return c, Out{Replies: []mamori.Message{checkPrompt(env, l, env.Policy.T(l, "check.no_keys"))}}, true
	}
	c.Check = false
	return c, checked(env, c, typed, inFlow), true
}

// checked asks the host to check customer, or says what to type when
// nothing in it identifies anyone; in a report, its question comes after.
func checked(env Env, c mamori.Conversation, customer string, inFlow bool) Out {
	l := c.User.Lang
	if len(CustomerKeys(customer)) == 0 {
		c.Check = true
		return Out{Replies: []mamori.Message{checkPrompt(env, l, env.Policy.T(l, "check.no_keys"))}}
	}
	out := Out{Check: &customer}
	if inFlow {
		out.Replies = ask(env, c, "").Replies
	}
	return out
}

// checkPrompt is the check's one question, with problem first when the
// last answer named nobody.
func checkPrompt(env Env, l mamori.Lang, problem string) mamori.Message {
	t := env.Policy.T
	m := mamori.Message{Step: stepCheck, Text: t(l, "check.prompt"), Prompt: t(l, "check.prompt.hint"), Note: t(l, "check.note"),
		Controls: []mamori.Choice{{Value: checkCancel, Label: t(l, "check.cancel")}}}
	if problem != "" {
		m.Text = "⚠️ " + problem + "\n\n" + m.Text
	}
	return m
}

// CheckAnswer is what someone at the front line reads after checking a
// customer: on their site's register, do not serve them and call the
// supervisor, with the on-site guidance; otherwise that the customer is
// not on it. Never why, never a case.
func CheckAnswer(env Env, l mamori.Lang, onRegister bool) []mamori.Message {
	t := env.Policy.T
	if !onRegister {
		return []mamori.Message{{Header: t(l, "check.none.header"), Text: t(l, "check.none.text"), Note: t(l, "check.note")}}
	}
	return []mamori.Message{
		{Urgent: true, Header: t(l, "check.found.header"), Text: t(l, "check.found.text"), Note: t(l, "check.found.note")},
		OnsiteMessage(env, l),
	}
}

// check looks the customer u typed up in the register and answers u.
// Only someone in the directory (their department is their site) or HR
// may check; HR's check covers every site. The audit entry says who
// checked, when, from which department and which entry matched: never
// what was typed.
func (s *Service) check(tx mamori.Tx, now time.Time, u mamori.User, typed string) ([]mamori.Message, error) {
	l := u.Lang
	env := s.env(now)
	dept, member := s.Org.DepartmentOf(u)
	hr := s.Org.IsHR(u)
	if !member && !hr {
		return []mamori.Message{text(s.Policy.T(l, "check.refused"))},
			tx.Audit(mamori.AuditEntry{At: now, Actor: u.Key(), Action: "register.check_refused", Subject: "register"})
	}
	keys := CustomerKeys(typed)
	entries, err := tx.EntriesFor(keys)
	if err != nil {
		return nil, err
	}
	var hits []string
	var basis []mamori.Field // HR's: entries whose basis changed, unreviewed
	for _, e := range entries {
		if e.Covers(dept.ID, now) || (hr && e.Status == mamori.RegisterActive && !now.Before(e.From) && now.Before(e.Until)) {
			hits = append(hits, e.Number)
			if f, _, ok := basisField(env, e, l); ok && hr {
				f.Label = fmt.Sprintf(s.Policy.T(l, "check.basis"), e.Number)
				basis = append(basis, f)
			}
		}
	}
	subject, result := "register", "none"
	if len(hits) > 0 {
		subject, result = strings.Join(hits, ","), "refuse"
	}
	detail := "result=" + result
	if dept.ID != "" {
		detail += " department=" + dept.ID
	}
	nameOnly := len(hits) > 0 && !slices.ContainsFunc(keys, func(k string) bool { return !strings.HasPrefix(k, keyName) })
	if nameOnly {
		detail += " by=name"
	}
	if err := tx.Audit(mamori.AuditEntry{At: now, Actor: u.Key(), Action: "register.checked", Subject: subject, Detail: detail}); err != nil {
		return nil, err
	}
	answer := CheckAnswer(env, l, len(hits) > 0)
	if nameOnly {
		// A name alone: someone else may have it.
		answer[0].Text += "\n" + s.Policy.T(l, "check.found.name_only")
	}
	if hr && len(hits) > 0 {
		// HR keeps the register: where to read why, not "not given here".
		answer[0].Note = fmt.Sprintf(s.Policy.T(l, "check.found.note.hr"), strings.Join(hits, ", "))
	}
	if len(basis) > 0 {
		// HR keeps the register: the entry still applies, and HR sees
		// that a report it rests on changed, as on the entry's card.
		answer[0].Fields = append(answer[0].Fields, basis...)
	}
	return answer, nil
}

// nameLike reports whether text after the English "check" reads as a
// person's name: two or three capitalised words ("Taro Yamada"), or a
// name in Japanese script (山田太郎, ヤマダ タロウ).
func nameLike(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) {
			return true
		}
	}
	words := strings.Fields(s)
	if len(words) < 2 || len(words) > 3 {
		return false
	}
	for _, w := range words {
		first, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(first) {
			return false
		}
	}
	return true
}
