package flows

import (
	"context"

	"github.com/mamori-oss/mamori"
)

// TODO(issue 13): the adapters' old entry points, until they use Open and
// Submit; then this file goes.

func (s *Service) Take(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	_, m, err := s.Open(ctx, actor, mamori.Action{Kind: mamori.CardTake, Subject: number})
	return m, err
}

func (s *Service) Judge(ctx context.Context, actor mamori.User, number string, d mamori.Decision) (mamori.Message, error) {
	return s.Submit(ctx, actor, mamori.Action{Kind: mamori.CardJudge, Subject: number}, DecisionValues(d))
}

func (s *Service) Reopen(ctx context.Context, actor mamori.User, number, reason string) (mamori.Message, error) {
	return s.Submit(ctx, actor, mamori.Action{Kind: mamori.CardReopen, Subject: number}, mamori.Values{fieldReason: {reason}})
}

func (s *Service) Ask(ctx context.Context, actor mamori.User, number, question string) (mamori.Message, error) {
	return s.Submit(ctx, actor, mamori.Action{Kind: mamori.CardAsk, Subject: number}, mamori.Values{fieldQuestion: {question}})
}

func (s *Service) CareAction(ctx context.Context, actor mamori.User, action, id, note string) (mamori.Message, error) {
	return s.careAction(ctx, actor, action, id, note)
}

func (s *Service) AssignTraining(ctx context.Context, actor mamori.User, number string) (mamori.Message, error) {
	return s.assignTraining(ctx, actor, number)
}
