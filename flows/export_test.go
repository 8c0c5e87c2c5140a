package flows

import (
	"context"

	"github.com/mamori-oss/mamori"
)

// The supervisors' and HR's actions by name, for the tests written
// before Open and Submit: each goes through them, as an adapter does.

func (s *Service) Take(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	_, m, err := s.Open(ctx, actor, mamori.Action{Kind: mamori.CardTake, Subject: number})
	return m, err
}

func (s *Service) Judge(ctx context.Context, actor mamori.User, number string, d mamori.Decision) (mamori.Message, error) {
	return s.Submit(ctx, actor, mamori.Action{Kind: mamori.CardJudge, Subject: number}, decisionValues(d))
}

func (s *Service) Reopen(ctx context.Context, actor mamori.User, number, reason string) (mamori.Message, error) {
	return s.Submit(ctx, actor, mamori.Action{Kind: mamori.CardReopen, Subject: number}, mamori.Values{fieldReason: {reason}})
}

func (s *Service) Ask(ctx context.Context, actor mamori.User, number, question string) (mamori.Message, error) {
	return s.Submit(ctx, actor, mamori.Action{Kind: mamori.CardAsk, Subject: number}, mamori.Values{fieldQuestion: {question}})
}

func (s *Service) CareAction(ctx context.Context, actor mamori.User, action, id, note string) (mamori.Message, error) {
	a := mamori.Action{Kind: action, Subject: id}
	if action == mamori.CareNoteAction {
		return s.Submit(ctx, actor, a, mamori.Values{fieldNote: {note}})
	}
	_, m, err := s.Open(ctx, actor, a)
	return m, err
}

func (s *Service) AssignTraining(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	_, m, err := s.Open(ctx, actor, mamori.Action{Kind: mamori.CardTrain, Subject: number})
	return m, err
}

// decisionValues are d as the judge form's values.
func decisionValues(d mamori.Decision) mamori.Values {
	v := mamori.Values{fieldFacts: {d.Facts}, fieldValidity: {d.Validity}, fieldMeans: {d.Means}, fieldFault: {d.Fault},
		fieldOutcome: {d.Outcome}, fieldReason: {d.Reason}, fieldNote: {d.Note}}
	if len(d.Actions) > 0 {
		v[fieldActions] = d.Actions
	}
	return v
}

// LooseOption is looseOption, for its table test.
var LooseOption = looseOption

// TypoOption and LeadingOption, for their table test.
var (
	TypoOption    = typoOption
	LeadingOption = leadingOption
)

// CheckinSense is checkinSense, for its table test.
var CheckinSense = checkinSense

// Greeting is greeting, for its table test.
var Greeting = greeting

// PolicyMessage is policyMessage, for tests that read its header.
var PolicyMessage = policyMessage

// SafeNow, HelpDenied, PauseWish and DurationOption, for their tables.
var (
	SafeNow        = safeNow
	HelpDenied     = helpDenied
	PauseWish      = pauseWish
	DurationOption = durationOption
)

var MentionsName = mentionsName
