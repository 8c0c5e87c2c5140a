package flows

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// Care check-ins: "how are you?" some days after a report, in working
// hours. An answer that is not fine, or a wish to talk, reaches HR; the
// reporter can stop them at any time.

const jobCheckin = "care.checkin"

// Check-in answers.
const (
	checkinFine = "fine"
	checkinHard = "hard"
	checkinTalk = "talk"
	checkinStop = "stop"
)

// Care is when check-ins go out.
type Care struct {
	// Offsets after submission; nil means +1, +7 and +30 days.
	Offsets []time.Duration
	// Working hours, in the organisation's time zone: from StartHour to
	// EndHour on weekdays. Zero means 9 to 18.
	StartHour, EndHour int
	// TaskDue is how long HR has for a care task (default 24 hours, moved
	// into working hours); RemindEvery is how often an open one is
	// brought up again after that (default 24 hours).
	TaskDue, RemindEvery time.Duration
	// NoHolidays works on Japan's national holidays; Closed are the
	// organisation's own days off, "MM-DD" or "YYYY-MM-DD"
	// (ParseClosedDays).
	NoHolidays bool
	Closed     []string
}

func (c Care) offsets() []time.Duration {
	if c.Offsets != nil {
		return c.Offsets
	}
	return []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}
}

// WorkingTime returns t, or the next moment in working hours after it:
// never on a day off (dayOff) or outside the working day of loc.
func (c Care) WorkingTime(t time.Time, loc *time.Location) time.Time {
	start, end := c.StartHour, c.EndHour
	if start == 0 && end == 0 {
		start, end = 9, 18
	}
	if loc != nil {
		t = t.In(loc)
	}
	for range 60 { // the longest break a company takes, and more
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
		open, close := day.Add(time.Duration(start)*time.Hour), day.Add(time.Duration(end)*time.Hour)
		off := c.dayOff(t)
		switch {
		case !off && t.Before(open):
			return open
		case !off && t.Before(close):
			return t
		}
		t = day.AddDate(0, 0, 1)
	}
	return t
}

type checkinPayload struct {
	Number string `json:"number"`
	Round  int    `json:"round"`
}

// scheduleCheckins adds the check-ins for a new report.
func (s *Service) scheduleCheckins(tx mamori.Tx, k mamori.Case, now time.Time) error {
	for i, off := range s.Care.offsets() {
		p, _ := json.Marshal(checkinPayload{Number: k.Number, Round: i + 1})
		due := s.Care.WorkingTime(now.Add(off), s.Location)
		if err := tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:%d", jobCheckin, k.Number, i+1), Kind: jobCheckin, Due: due, Payload: p}); err != nil {
			return err
		}
	}
	return nil
}

// runCheckin asks the reporter how they are, unless they asked for no
// more check-ins. A job that comes due outside working hours (after an
// outage) waits for the next working moment.
func (s *Service) runCheckin(tx mamori.Tx, j mamori.Job, now time.Time) error {
	var p checkinPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	k, err := tx.Case(p.Number)
	if errors.Is(err, mamori.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if k.CheckinsStopped {
		return nil
	}
	if w := s.Care.WorkingTime(now, s.Location); w.After(now) {
		return tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:%d:later:%d", jobCheckin, k.Number, p.Round, w.Unix()), Kind: jobCheckin, Due: w, Payload: j.Payload})
	}
	// A round held back (a weekend, holidays, another case's check-in)
	// until the next one is due too, within two hours: only the next one
	// asks (found by a re-trial: two alike within the hour). Rounds hours
	// apart by configuration each ask.
	if offs := s.Care.offsets(); p.Round >= 1 && p.Round < len(offs) &&
		!s.Care.WorkingTime(k.Created.Add(offs[p.Round]), s.Location).After(now.Add(2*time.Hour)) {
		return tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "care.checkin_skipped", Subject: k.Number,
			Detail: fmt.Sprintf("round=%d next=%d", p.Round, p.Round+1)})
	}
	// One "how are you?" a day: another case's check-in went out to
	// them today (several reports close together), so this one waits a
	// day rather than ask the same thing twice at once.
	if c, err := tx.Conversation(k.Reporter.Key()); err == nil && c.Checkin != "" && c.Checkin != k.Number && now.Sub(c.CheckinAt) < 20*time.Hour {
		w := s.Care.WorkingTime(now.Add(24*time.Hour), s.Location)
		return tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:%d:spaced:%d", jobCheckin, k.Number, p.Round, w.Unix()), Kind: jobCheckin, Due: w, Payload: j.Payload})
	} else if err != nil && !errors.Is(err, mamori.ErrNotFound) {
		return err
	}
	task, open, err := openCareTaskFor(tx, k)
	if err != nil {
		return err
	}
	l := k.Reporter.Lang
	t := func(key string) string { return s.Policy.T(l, key) }
	v := func(answer string) string { return "checkin:" + k.Number + ":" + answer }
	m := mamori.Message{Step: "checkin", Header: fmt.Sprintf(t("checkin.header"), k.Number), Text: t("checkin.text"),
		Choices:  checkinChoices(s.Policy, k.Number, l),
		Controls: []mamori.Choice{{Value: v(checkinStop), Label: t("checkin.stop")}},
		Note:     t("checkin.note")}
	detail := fmt.Sprintf("round=%d", p.Round)
	if open {
		// HR already knows and owes them a call: asking "how are you?"
		// as if nothing had happened would make them tell it again. Say
		// that someone is on it, and ask only whether anything changed,
		// with no need to answer.
		m.Header = fmt.Sprintf(t("checkin.open.header"), k.Number)
		m.Text = t("checkin.open.text." + task.Status)
		m.Choices = []mamori.Choice{
			{Value: v(checkinFine), Label: t("checkin.open.fine")},
			{Value: v(checkinTalk), Label: t("checkin.open.talk"), Style: mamori.StylePrimary},
		}
		detail += fmt.Sprintf(" task=%d", task.ID)
	}
	to := mamori.Target{Platform: k.Reporter.Platform, Kind: mamori.TargetUser, ID: k.Reporter.ID}
	if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "care.checkin_sent", Subject: k.Number, Detail: detail}); err != nil {
		return err
	}
	if err := s.awaitCheckin(tx, k, now); err != nil {
		return err
	}
	return tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("job:%d", j.ID), Target: to, Message: m, Lang: l, Created: now})
}

// checkinFresh is how long a check-in's buttons may be answered in words.
const checkinFresh = 7 * 24 * time.Hour

// awaitCheckin notes in the reporter's conversation that case k's
// check-in waits for an answer, so that its words typed answer it (and
// are not kept as a story, or offered to the supervisors as the answer
// to their question). A conversation made for it alone is cleared like a
// draft.
func (s *Service) awaitCheckin(tx mamori.Tx, k mamori.Case, now time.Time) error {
	c, err := tx.Conversation(k.Reporter.Key())
	if errors.Is(err, mamori.ErrNotFound) {
		c = mamori.Conversation{User: k.Reporter, Step: stepMenu, Started: now, Updated: now}
	} else if err != nil {
		return err
	}
	c.Checkin, c.CheckinAt = k.Number, now
	if err := tx.PutConversation(c); err != nil {
		return err
	}
	return s.scheduleDraftExpiry(tx, c.User, c.Updated)
}

// checkinLabels are the text keys of the check-ins' buttons, and what
// each answers.
var checkinLabels = map[string]string{"checkin.fine": checkinFine, "checkin.hard": checkinHard, "checkin.talk": checkinTalk,
	"checkin.open.fine": checkinFine, "checkin.open.talk": checkinTalk}

// checkinWord is the check-in answer typed text gives — a button's words
// in either language (exact), or a few plain ways of saying it — or "".
func checkinWord(p *mamori.Policy, typed string) (answer string, exact bool) {
	s := strings.TrimSuffix(spoken(typed), "ます")
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		for key, answer := range checkinLabels {
			if s == spoken(p.T(l, key)) {
				return answer, true
			}
		}
	}
	switch s {
	case "大丈夫", "だいじょうぶ", "元気", "問題ない", "落ち着いてきた", "fine", "ok", "okay", "good", "i'm ok", "i'm okay", "i'm good", "i'm better", "better":
		return checkinFine, false
	case "つらい", "辛い", "しんどい", "少し辛い", "ちょっとつらい", "hard", "a bit hard", "not great", "not good", "struggling":
		return checkinHard, false
	case "話したい", "話を聞いてほしい", "相談したい", "話を聞いて欲しい", "talk", "i want to talk", "i'd like to talk", "i would like to talk", "can we talk":
		return checkinTalk, false
	}
	return "", false
}

// checkinSense is the check-in answer a sentence reads as: wanting to
// talk, finding it hard (sleep, fear, tears, "大丈夫じゃない"), or fine;
// "" when it says none of them.
func checkinSense(typed string) string {
	wantsTalk := func(t string) bool {
		return holdsAny(t, "話したい", "話を聞", "相談したい", "連絡がほしい", "連絡してほしい") || talkClause(t)
	}
	m := contrast.FindStringIndex(typed)
	if m == nil && wantsTalk(typed) || m != nil && (wantsTalk(typed[m[1]:]) || wantsTalk(typed[:m[0]]) && !takenBack.MatchString(strings.TrimSpace(typed[m[1]:]))) {
		// A wish to talk, unless taken back after a but ("…, but not
		// anymore"); "話を聞いてほしいけど、今は大丈夫です" still asks for
		// a call (HR's call costs less than one missed).
		return checkinTalk
	}
	// "落ち着いたけど、仕事に行くのがつらい": what follows a but says worse;
	// "it was hard but i'm ok now": better now; "怖くなくなったけど、眠りが
	// 浅い": a but with nothing clear after it, asked which is closest.
	if m != nil && strings.TrimSpace(typed[m[1]:]) != "" {
		tail := strings.TrimSpace(typed[m[1]:])
		switch ts := checkinSense(tail); {
		case ts == checkinHard, ts == checkinTalk:
			return ts
		case ts == checkinFine && nowMarker.MatchString(tail) && !hopedFine.MatchString(tail):
			return checkinFine
		case ts == "" && bareNo.MatchString(strings.TrimRight(tail, ".!。！")):
			return checkinHard // "i'm fine, but i'm not"
		case ts == "":
			if whole := checkinSense(typed[:m[0]]); whole == checkinFine {
				return ""
			}
		}
	}
	switch {
	case (betterJA.MatchString(typed) || checkinEN["better"].MatchString(typed)) && !notBetter.MatchString(typed):
		// 「よく眠れるようになりました」, 「もう怖くないです」, "no longer
		// scared": better, whatever word of hardship it names.
		return checkinFine
	case holdsAny(typed, "眠れ", "寝れ", "つらい", "辛い", "つらく", "辛く", "しんど", "不安", "怖", "こわ", "落ち込", "泣", "涙", "食欲", "疲れ", "震え", "思い出", "行きたくない", "休みたい") ||
		checkinEN["hard"].MatchString(typed):
		return checkinHard
	case checkinEN["wish"].MatchString(typed):
		return "" // "i wish i was sleeping better": asked which is closest
	case holdsAny(typed, "大丈夫", "元気", "落ち着", "平気", "問題な") || checkinEN["fine"].MatchString(typed):
		if fineDenied(typed) {
			return checkinHard // "大丈夫じゃない", "not fine"
		}
		if hedged.MatchString(typed) {
			return "" // "ok i guess", 「一応大丈夫です」: asked which is closest
		}
		return checkinFine
	}
	return ""
}

// shrug reports an answer to "how are you?" that is neither fine nor
// not ("ok i guess", 「まあまあです」, "meh").
func shrug(typed string) bool {
	return utf8.RuneCountInString(typed) <= 60 && !fearful(typed) && !dangerNow(typed) && !tellsWhatHappened(typed) &&
		(checkinEN["fine"].MatchString(typed) || holdsAny(typed, "大丈夫", "元気", "平気")) && hedged.MatchString(typed) ||
		holdsAny(strings.ToLower(typed), "meh", "so so", "so-so", "微妙", "まあまあ")
}

// hedged is a fine said with a shrug, which may not be fine.
var hedged = regexp.MustCompile(`(?i)\bi guess\b|\bi suppose\b|\bkinda\b|\bsort of\b|\bkind of\b|\bmostly\b|\bmore or less\b|まあまあ|なんとか|一応|いちおう|たぶん|多分|かな[。．!！?？]*$|かなと`)

// notBetter undoes a reading of "better": what follows or comes before
// says it is not so (「不安が消えません」, 「眠れるようになってほしい」,
// 「と言ったら嘘」, "nothing is getting better").
var notBetter = regexp.MustCompile(`(?i)ません|[^く]ない|ほしい|欲しい|ようになったら|とは言えない|嘘|また(眠れ|寝れ|怖|こわ|つら|辛|不安)|れなくな|nothing|hardly|wish|not |n't|never|still`)

// dontWorry is "don't worry" and the like, which say nothing against
// being fine.
var dontWorry = regexp.MustCompile(`(?i)(don'?t|no need to) worry|心配(しないで|いりません|ありません)`)

// contrast is a "but" after which a check-in answer says what it means.
var contrast = regexp.MustCompile(`(?i)(けど|けれど|ですが|でしたが|ましたが|だったが|(^|[、,。])\s*でも|しかし|と思ったら|\bbut\b|\bthough\b)[、,]?`)

// takenBack takes a wish back: "not anymore", 「やっぱりいいです」.
var takenBack = regexp.MustCompile(`(?i)^((やっぱり|もう)(いい|大丈夫|結構)(です)?|(not|no) (anymore|any more)|never ?mind)[.!。！]?$`)

// hopedFine is a fine that is hoped, pretended or someone else's words
// (「もう大丈夫だと思いたい」, 「平気なふり」, 「大丈夫だろうと言われました」).
var hopedFine = regexp.MustCompile(`(?i)と言われ|と思いたい|ふり|言い聞かせ|はず|だろう|かな|といい|hope|pretend|trying to|supposed to`)

// dontMind is "I don't mind (if)", which says no to nothing.
var dontMind = regexp.MustCompile(`(?i)\b(don'?t|do not|wouldn'?t) mind( if)?\b`)

// nowMarker says the state is now ("今は", "now", "these days").
var nowMarker = regexp.MustCompile(`(?i)今は|いまは|もう|最近は|\bnow\b|these days|anymore`)

// bareNo is a clause that is only a no ("not really", 「じゃないです」).
var bareNo = regexp.MustCompile(`(?i)^\s*((now|or|no|actually|honestly|今は|いや|いいえ)[ ,、]*)*((i'?m|i am|it'?s) )?((really|actually|honestly|just) )?(じゃない|じゃありません|ではない|ではありません|そうでもない|(本当は)?違います|なわけない|not really|not so much|not at all|nope|no|not)(です|かも|かもしれません)?\s*$`)

// fineDenied reports whether the clause that says fine says no too ("i
// dont feel ok", 「大丈夫じゃない」; not "i'm ok, i didnt expect a check
// in", "I'm ok, don't worry").
func fineDenied(typed string) bool {
	t := dontWorry.ReplaceAllString(strings.ReplaceAll(strings.ReplaceAll(typed, "’", "'"), "問題な", "問題"), "")
	fine := false
	for _, c := range strings.FieldsFunc(t, func(r rune) bool { return strings.ContainsRune(",、。.!?！？", r) }) {
		says := holdsAny(c, "大丈夫", "元気", "落ち着", "平気", "問題") || checkinEN["fine"].MatchString(c)
		if says && negates(c) || fine && !says && bareNo.MatchString(c) {
			return true // "i dont feel ok"; "i'm ok, not really", 「大丈夫。じゃないです」
		}
		fine = fine || says
	}
	return false
}

// talkClause reports whether a clause of typed asks to talk, with no
// "no" in that clause ("i don't know what to do, i want to talk to
// someone" does; "good, no need to call me" does not).
func talkClause(typed string) bool {
	for _, c := range strings.FieldsFunc(typed, func(r rune) bool { return strings.ContainsRune(",、。.!?！？", r) }) {
		c = dontMind.ReplaceAllString(strings.ReplaceAll(c, "’", "'"), "") // "i don't mind if you call me"
		if checkinEN["talk"].MatchString(c) && !talkNo.MatchString(c) {
			return true
		}
	}
	return false
}

// talkNo says no to a talk or a call ("no need to call me", "i don't
// want to talk").
var talkNo = regexp.MustCompile(`(?i)\b(don'?t|do not|wouldn'?t|won'?t|no need to|not|never)\b[^,.!?]{0,24}\b(talk|call)`)

// betterJA is a sentence of getting better, in its positive forms only
// (「眠れるようになりました」, 「怖くなくなった」, 「つらくないです」; not
// 「落ち着きません」, 「眠れるようになりたい」).
var betterJA = regexp.MustCompile(`(眠れる|寝れる|寝られる|眠られる)ようにな(っ|りまし)|(怖く|こわく|つらく|辛く)(ない(です)?[。！!]?$|ない[。、]|なくな(っ|りまし))|不安(は|が|も)?(なくな(っ|りまし)|消え)|落ち着い(た|てき)|落ち着きました|眠れてい(ます|る)`)

// checkinEN are checkinSense's English words, whole words only ("ok" is
// not in "took").
var checkinEN = map[string]*regexp.Regexp{
	"talk":   regexp.MustCompile(`(?i)\b(want to talk|like to talk|talk to someone|call me)\b`),
	"hard":   regexp.MustCompile(`(?i)\b(can'?t sleep|cannot sleep|can no longer|no longer (?:sleep|eat)|trouble sleeping|not sleeping|anxious|scared|afraid|tired|depress\w*|struggl\w*|cry\w*|crie[sd]|hard|not great|not good|bad|awful|terrible)\b`),
	"better": regexp.MustCompile(`(?i)\b(no longer (?:scared|afraid|anxious|worried)|not (?:scared|anxious|afraid|tired) any ?more|sleeping (?:well|better)|getting better|much better)\b`),
	"wish":   regexp.MustCompile(`(?i)\b(i wish|i hope|hopefully)\b`),
	"fine":   regexp.MustCompile(`(?i)\b(ok|okay|fine|better|good|alright|all right)\b`),
}

// checkinAgain asks which of the check-in's answers is closest, with its
// buttons, after words that read as none of them.
func checkinAgain(env Env, number string, l mamori.Lang) mamori.Message {
	return mamori.Message{Step: "checkin", Text: env.Policy.T(l, "checkin.closest"), Choices: checkinChoices(env.Policy, number, l)}
}

// checkinChoices are a check-in's answers about case number, as buttons.
func checkinChoices(p *mamori.Policy, number string, l mamori.Lang) []mamori.Choice {
	v := func(answer string) string { return "checkin:" + number + ":" + answer }
	return []mamori.Choice{
		{Value: v(checkinFine), Label: p.T(l, "checkin.fine"), Style: mamori.StylePrimary},
		{Value: v(checkinHard), Label: p.T(l, "checkin.hard")},
		{Value: v(checkinTalk), Label: p.T(l, "checkin.talk")},
	}
}

// Checkin is a reporter's answer to a check-in about case Number.
type Checkin struct {
	Number, Answer string
	Words          string // theirs, when they answered in a sentence
}

// checkinClick reads a check-in button: "checkin:<number>:<answer>".
func checkinClick(in mamori.Input) (number, answer string, ok bool) {
	rest, ok := strings.CutPrefix(in.Value, "checkin:")
	if !ok || in.Kind != mamori.InputChoice {
		return "", "", false
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return "", "", false
	}
	number, answer = rest[:i], rest[i+1:]
	switch answer {
	case checkinFine, checkinHard, checkinTalk, checkinStop:
		return number, answer, true
	}
	return "", "", false
}

// checkedIn records a check-in answer: HR hears of one that is not fine,
// and "stop" ends the check-ins for the case. While a care task is open
// for the case, every answer but "stop" goes to it (fine included: HR
// wants to know that too), never to a second task.
func (s *Service) checkedIn(tx mamori.Tx, now time.Time, u mamori.User, c *Checkin) error {
	k, err := tx.Case(c.Number)
	if err != nil {
		return err
	}
	if k.Reporter.Key() != u.Key() {
		return fmt.Errorf("check-in for %s: %w", c.Number, mamori.ErrForbidden)
	}
	if err := tx.Audit(mamori.AuditEntry{At: now, Actor: u.Key(), Action: "care.checkin", Subject: k.Number, Detail: "answer=" + c.Answer}); err != nil {
		return err
	}
	switch c.Answer {
	case checkinStop:
		k.CheckinsStopped, k.Updated = true, now
		return tx.UpdateCase(k)
	case checkinHard:
		return s.openCareTask(tx, now, k, mamori.CareReasonCheckHard, c.Words)
	case checkinTalk:
		return s.openCareTask(tx, now, k, mamori.CareReasonCheckTalk, c.Words)
	case checkinFine:
		task, open, err := openCareTaskFor(tx, k)
		if err != nil || !open || s.Org.HRChannel == "" {
			return err
		}
		return s.addToCareTask(tx, now, task, careSaidFine, c.Words)
	}
	return nil
}
