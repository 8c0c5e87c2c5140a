package flows

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// Witness statements. The law protects witnesses as it protects the
// reporter (不利益取扱いの禁止): a supervisor or HR names a colleague in a
// form on the case card; the colleague gets a button in their DM, says
// what they saw in their own words, and is told they are protected. The
// statement joins the case's confidential record, read behind "view
// details" by those who may see the case; the case thread only hears
// that one came. The colleague never sees the report.

// userID is what a platform's user id looks like: Slack's U…, an Entra
// object id, a configured name.
var userID = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// fieldWitness is the witness form's colleague.
const fieldWitness = "witness"

// witnessPrefix starts the value of the witness's button in their DM.
const witnessPrefix = mamori.CardWitness + ":"

// witnessForm asks who saw it, and what to ask them.
func witnessForm(env Env, l mamori.Lang, a mamori.Action, k mamori.Case) mamori.Form {
	t := func(key string) string { return env.Policy.T(l, key) }
	return mamori.Form{Action: a, Title: t("witness.title"), Submit: t("witness.submit"), Cancel: t("judge.modal.cancel"),
		Intro: fmt.Sprintf(t("witness.intro"), k.Number), Note: t("witness.note"),
		Fields: []mamori.FormField{
			{ID: fieldWitness, Kind: mamori.FieldUser, Label: t("witness.who"), Hint: t("witness.who.hint"), Required: true},
			{ID: fieldQuestion, Kind: mamori.FieldText, Label: t("witness.question"), Hint: t("witness.question.hint"), Lines: 3, Max: MaxText},
		}}
}

// askWitness records actor's request for a statement from the colleague
// with platform id who (and email, when the platform gave it), and sends
// it to the colleague's DM.
func (s *Service) askWitness(tx mamori.Tx, env Env, actor mamori.User, k *mamori.Case, who, email, question string) (string, error) {
	who = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(who), "<@"), ">"))
	question = strings.TrimSpace(question)
	w := mamori.User{Platform: actor.Platform, ID: who, Email: email}
	switch {
	case who == "":
		return "", refuse(fieldWitness, "witness.who.empty")
	case !userID.MatchString(who):
		// A picker sends an id; typed text that is not one (a sentence
		// in the wrong field) names nobody.
		return "", refuse(fieldWitness, "witness.who.unknown")
	case w.Key() == actor.Key():
		return "", refuse(fieldWitness, "witness.who.self")
	case w.Key() == k.Reporter.Key():
		return "", refuse(fieldWitness, "witness.who.reporter")
	case s.Org.IsHR(w):
		// A witness may not act on the case: HR, who decides when the
		// department cannot, would be shut out of it.
		return "", refuse(fieldWitness, "witness.who.hr")
	case k.Decision.Witness(w.Key()) >= 0:
		return "", refuse(fieldWitness, "witness.who.again")
	case utf8.RuneCountInString(question) > MaxText:
		return "", refuse(fieldQuestion, "nav.too_long", MaxText)
	}
	if k.Decision == nil {
		k.Decision = &mamori.Decision{}
	}
	w.Email = "" // for the check above only: not kept
	k.Decision.Witnesses = append(k.Decision.Witnesses, mamori.Witness{User: w, By: actor.Key(), Asked: env.Now, Question: question})
	// The colleague's language is not known yet: the organisation's.
	l := s.orgLang()
	t := func(key string) string { return s.Policy.T(l, key) }
	body := fmt.Sprintf(t("witness.dm.text"), mention(actor.Key()))
	if question != "" {
		body += "\n\n> " + strings.ReplaceAll(question, "\n", "\n> ")
	}
	dm := mamori.Message{Step: "witness", Header: fmt.Sprintf(t("witness.dm.header"), k.Number), Text: body,
		Choices: []mamori.Choice{{Value: witnessPrefix + k.Number, Label: t("witness.dm.button"), Style: mamori.StylePrimary}},
		Note:    t("witness.dm.note")}
	n := len(k.Decision.Witnesses)
	if err := tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("%s:witness:%s:%d", replyKey(mamori.Input{}, 0), k.Number, n),
		Target: mamori.Target{Platform: w.Platform, Kind: mamori.TargetUser, ID: w.ID}, Message: dm, Lang: l, Created: env.Now}); err != nil {
		return "", err
	}
	// The thread hears that a statement was asked for, not from whom.
	if err := s.threadNote(tx, env, *k, fmt.Sprintf(s.Policy.T(s.orgLang(), "witness.thread.asked"), mention(actor.Key())), fmt.Sprintf("witness_asked:%d", n)); err != nil {
		return "", err
	}
	return fmt.Sprintf("witness=%d", n), nil
}

// witnessClick answers the colleague's click on the statement button:
// the next text they send is their statement. Only a colleague asked for
// one, on a case not yet decided, may give it.
func witnessClick(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out) {
	l := c.User.Lang
	k := env.Consultation
	if k == nil || witnessPrefix+k.Number != in.Value || k.Decision.Witness(c.User.Key()) < 0 {
		return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "details.not_found"))}}
	}
	if k.Status == mamori.StatusJudged {
		return c, Out{Replies: []mamori.Message{text(fmt.Sprintf(env.Policy.T(l, "witness.closed"), k.Number))}}
	}
	c.Witness = k.Number
	return c, Out{Replies: []mamori.Message{{Step: "witness", Text: fmt.Sprintf(env.Policy.T(l, "witness.prompt"), k.Number),
		Note: env.Policy.T(l, "witness.prompt.note")}}}
}

// witnessText takes the text after the click as the statement.
func witnessText(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out, bool) {
	number := c.Witness
	c.Witness = ""
	typed := strings.TrimSpace(in.Text)
	if in.Kind != mamori.InputText || typed == "" {
		// Anything else: they moved on; the button still works later.
		return c, Out{}, false
	}
	l := c.User.Lang
	if utf8.RuneCountInString(typed) > MaxText {
		c.Witness = number
		return c, Out{Replies: []mamori.Message{text(fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText))}}, true
	}
	return c, Out{Witness: &Reply{Number: number, Text: typed},
		Replies: []mamori.Message{{Step: "witness", Text: fmt.Sprintf(env.Policy.T(l, "witness.sent"), number),
			Choices: []mamori.Choice{{Value: witnessPrefix + number, Label: env.Policy.T(l, "witness.more")}}}}}, true
}

// witnessStatement keeps a colleague's statement in the case's
// confidential record and tells the case thread that one came.
func (s *Service) witnessStatement(tx mamori.Tx, now time.Time, u mamori.User, r *Reply) error {
	k, err := tx.Case(r.Number)
	if err != nil {
		return err
	}
	i := k.Decision.Witness(u.Key())
	if i < 0 {
		return fmt.Errorf("witness statement on %s: %w", r.Number, mamori.ErrForbidden)
	}
	w := &k.Decision.Witnesses[i]
	w.Statement = strings.TrimSpace(w.Statement + "\n\n" + r.Text)
	w.Given = now
	if w.User.Name == "" {
		w.User.Name = u.Name
	}
	k.Updated = now
	if err := tx.UpdateCase(k); err != nil {
		return err
	}
	env := s.env(now)
	l := s.orgLang()
	card, err := s.card(tx, env, k, l)
	if err != nil {
		return err
	}
	if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":card:" + k.Number, Target: s.channel(k.Reporter.Platform, k.Channel),
		Message: card, Lang: l, Created: now}); err != nil {
		return err
	}
	if err := s.threadNote(tx, env, k, s.Policy.T(l, "witness.thread.given"), fmt.Sprintf("witness_given:%d", i+1)); err != nil {
		return err
	}
	return tx.Audit(mamori.AuditEntry{At: now, Actor: u.Key(), Action: "case.witness_statement", Subject: k.Number, Detail: fmt.Sprintf("witness=%d", i+1)})
}

// witnessFields are the statements in a case's details, for those who
// may see the case.
func witnessFields(env Env, d *mamori.Decision, l mamori.Lang, at func(time.Time) string) []mamori.Field {
	if d == nil {
		return nil
	}
	var fs []mamori.Field
	for _, w := range d.Witnesses {
		who := w.User.Name
		if who == "" {
			who = mention(w.User.Key())
		}
		label := fmt.Sprintf(env.Policy.T(l, "witness.details.asked"), who, at(w.Asked))
		v := w.Question
		if v == "" {
			v = "—"
		}
		fs = append(fs, mamori.Field{Label: label, Value: v})
		if w.Statement == "" {
			fs = append(fs, mamori.Field{Label: env.Policy.T(l, "witness.details.pending"), Value: env.Policy.T(l, "details.answer.none")})
		} else {
			fs = append(fs, mamori.Field{Label: fmt.Sprintf(env.Policy.T(l, "witness.details.given"), at(w.Given)), Value: w.Statement})
		}
	}
	return fs
}

// witnessCount is the card's line about statements: asked and given.
func witnessCount(env Env, d *mamori.Decision, l mamori.Lang) (mamori.Field, bool) {
	if d == nil || len(d.Witnesses) == 0 {
		return mamori.Field{}, false
	}
	given := 0
	for _, w := range d.Witnesses {
		if !w.Given.IsZero() {
			given++
		}
	}
	return mamori.Field{Label: env.Policy.T(l, "witness.card"), Value: fmt.Sprintf(env.Policy.T(l, "witness.card.count"), len(d.Witnesses), given)}, true
}
