package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	slackapi "github.com/slack-go/slack"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// Sender posts outbox items to Slack: a user's direct messages or a
// channel, or an update in place of an earlier message.
type Sender struct {
	api *slackapi.Client
	log *slog.Logger

	mu  sync.Mutex
	dms map[string]string // user id → DM channel id
}

var _ flows.Sender = (*Sender)(nil)

// NewSender returns a Sender using cfg's BotToken and APIURL.
func NewSender(cfg Config) *Sender {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{api: newClient(cfg), log: log, dms: map[string]string{}}
}

// permanent are Slack error codes that no retry mends.
var permanent = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true,
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "no_permission": true, "missing_scope": true, "restricted_action": true,
	"user_not_found": true, "user_disabled": true, "cannot_dm_bot": true, "user_not_visible": true,
	"invalid_blocks": true, "invalid_blocks_format": true, "msg_too_long": true, "no_text": true,
	"too_many_attachments": true, "invalid_arguments": true, "ekm_access_denied": true,
	"team_access_not_granted": true, "access_denied": true,
}

// gone are chat.update errors after which the message is posted anew.
var gone = map[string]bool{"message_not_found": true, "cant_update_message": true, "edit_window_closed": true}

// Send delivers item. With prev it updates that message in place.
func (s *Sender) Send(ctx context.Context, item mamori.OutboxItem, prev *mamori.Posted) (mamori.Posted, error) {
	t := item.Target
	if t.Platform != mamori.PlatformSlack {
		return mamori.Posted{}, &mamori.PermanentError{Err: fmt.Errorf("slack: target on platform %q", t.Platform)}
	}
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionBlocks(Blocks(item.Message)...),
		slackapi.MsgOptionText(Fallback(item.Message), false),
	}
	if prev != nil && prev.Channel != "" && prev.TS != "" {
		ch, ts, _, err := s.api.UpdateMessageContext(ctx, prev.Channel, prev.TS, opts...)
		if err == nil {
			return mamori.Posted{Channel: firstNonEmpty(ch, prev.Channel), TS: firstNonEmpty(ts, prev.TS)}, nil
		}
		if !gone[slackCode(err)] {
			return mamori.Posted{}, classify("chat.update", err)
		}
		s.log.Info("slack: message to update is gone; posting anew", "ref", item.Message.Ref)
	}

	var channel string
	switch t.Kind {
	case mamori.TargetChannel:
		channel = t.ID
	case mamori.TargetUser:
		var err error
		if channel, err = s.dm(ctx, t.ID); err != nil {
			return mamori.Posted{}, err
		}
	default:
		return mamori.Posted{}, &mamori.PermanentError{Err: fmt.Errorf("slack: unknown target kind %q", t.Kind)}
	}
	if item.InThread != nil && item.InThread.TS != "" {
		opts = append(opts, slackapi.MsgOptionTS(item.InThread.TS))
	}
	ch, ts, err := s.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		if t.Kind == mamori.TargetUser && slackCode(err) == "channel_not_found" {
			s.forget(t.ID)
		}
		return mamori.Posted{}, classify("chat.postMessage", err)
	}
	return mamori.Posted{Channel: firstNonEmpty(ch, channel), TS: ts}, nil
}

// dm returns the direct-message channel with user, opening it once.
func (s *Sender) dm(ctx context.Context, user string) (string, error) {
	s.mu.Lock()
	ch, ok := s.dms[user]
	s.mu.Unlock()
	if ok {
		return ch, nil
	}
	c, _, _, err := s.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{user}})
	if err != nil {
		return "", classify("conversations.open", err)
	}
	if c == nil || c.ID == "" {
		return "", errors.New("slack: conversations.open returned no channel")
	}
	s.mu.Lock()
	s.dms[user] = c.ID
	s.mu.Unlock()
	return c.ID, nil
}

func (s *Sender) forget(user string) {
	s.mu.Lock()
	delete(s.dms, user)
	s.mu.Unlock()
}

// slackCode returns the ok:false error code of err, or "".
func slackCode(err error) string {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	var sep *slackapi.SlackErrorResponse
	if errors.As(err, &sep) {
		return sep.Err
	}
	return ""
}

// classify turns a Web API failure into the outbox's error kinds: rate
// limits say when to come back, hopeless codes are permanent, and the rest
// (5xx, network) are retried.
func classify(method string, err error) error {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return &mamori.RetryAfterError{After: rl.RetryAfter}
	}
	if code := slackCode(err); code != "" && permanent[code] {
		return &mamori.PermanentError{Err: fmt.Errorf("slack %s: %w", method, err)}
	}
	return fmt.Errorf("slack %s: %w", method, err)
}
