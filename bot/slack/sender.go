package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// Sender posts outbox items to Slack: a user's direct messages or a
// channel, or an update in place of an earlier message, with the
// message's image when it has one. It keeps to Slack's rate limits
// (Limits): a channel that is not yet due gets its message back at once as
// a paced mamori.RetryAfterError, so the worker goes on with others.
type Sender struct {
	api         *slackapi.Client
	apiURL      string
	log         *slog.Logger
	lim         *limiter
	concurrency int

	mu        sync.Mutex
	emails    map[string]string       // email → user id
	images    map[string]postedImage  // item key → its posted message, image still to upload
	responses map[string]*responseUse // response_url → its uses (respond.go)
}

type postedImage struct {
	p  mamori.Posted
	at time.Time
}

var (
	_ flows.Sender           = (*Sender)(nil)
	_ flows.ConcurrentSender = (*Sender)(nil)
)

// SenderOption tunes a Sender.
type SenderOption func(*Sender)

// WithLimits makes the Sender keep to l instead of DefaultLimits: for an
// Enterprise Grid with higher limits, a test, or a Web API that is not
// Slack's (the web sandbox's: Limits{}, no pacing).
func WithLimits(l Limits) SenderOption {
	return func(s *Sender) { s.lim = newLimiter(l) }
}

// WithConcurrency sets how many messages to different recipients may be
// sent at once (default 8): with Slack's round trip of a few hundred
// milliseconds, one at a time would stay well below the workspace budget.
func WithConcurrency(n int) SenderOption {
	return func(s *Sender) { s.concurrency = max(n, 1) }
}

// NewSender returns a Sender using cfg's BotToken and APIURL.
func NewSender(cfg Config, opts ...SenderOption) *Sender {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sender{api: newClient(cfg), apiURL: cfg.APIURL, log: log, lim: newLimiter(DefaultLimits()), concurrency: 8,
		emails: map[string]string{}, images: map[string]postedImage{}, responses: map[string]*responseUse{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Concurrency is how many Sends the worker may run at once, each to a
// different recipient.
func (s *Sender) Concurrency() int { return s.concurrency }

// permanent are Slack error codes that no retry mends.
var permanent = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true,
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "no_permission": true, "missing_scope": true, "restricted_action": true,
	"user_not_found": true, "users_not_found": true, "user_disabled": true, "cannot_dm_bot": true, "user_not_visible": true,
	"invalid_blocks": true, "invalid_blocks_format": true, "msg_too_long": true, "no_text": true,
	"too_many_attachments": true, "invalid_arguments": true, "ekm_access_denied": true,
	"team_access_not_granted": true, "access_denied": true,
	"file_uploads_disabled": true, "file_uploads_except_images_disabled": true, "file_type_not_allowed": true,
	"file_upload_size_restricted": true, "alt_txt_too_large": true,
}

// gone are chat.update errors after which the message is posted anew.
var gone = map[string]bool{"message_not_found": true, "cant_update_message": true, "edit_window_closed": true}

// Send delivers item. With prev it updates that message in place. An
// urgent item (mamori.UrgentKey: an SOS alert) takes the next token of a
// shared budget ahead of the sends waiting for one (see limiter.take).
func (s *Sender) Send(ctx context.Context, item mamori.OutboxItem, prev *mamori.Posted) (mamori.Posted, error) {
	t := item.Target
	if t.Platform != mamori.PlatformSlack {
		return mamori.Posted{}, &mamori.PermanentError{Err: fmt.Errorf("slack: target on platform %q", t.Platform)}
	}
	urgent := strings.HasPrefix(item.Key, mamori.UrgentKey)
	if p, ok := s.imagePending(item.Key); ok {
		// An earlier attempt posted the message; only its image is left.
		if err := s.sendImage(ctx, item, p, urgent); err != nil {
			return mamori.Posted{}, err
		}
		return p, nil
	}
	blocks, text := Blocks(item.Message), Fallback(item.Message)
	if s.mayRespond(item, prev) {
		// A reply to a click goes where the click was, as a new message
		// in the DM: at once, whatever the DM's chat.postMessage pace.
		err := respond(ctx, item.Message.Respond, responseMessage{Text: text, Blocks: slackapi.Blocks{BlockSet: blocks}, ResponseType: "in_channel"})
		if err == nil {
			return mamori.Posted{Channel: t.ID}, nil
		}
		if ctx.Err() != nil {
			return mamori.Posted{}, ctx.Err()
		}
		s.responseFailed(item.Message.Respond)
		s.log.Info("slack: response_url failed; posting instead", "key", item.Key, "err", err)
	}
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionBlocks(blocks...),
		slackapi.MsgOptionText(text, false),
	}
	if prev != nil && prev.Channel != "" && prev.TS != "" {
		if err := s.lim.take(ctx, "chat.update", "", urgent); err != nil {
			return mamori.Posted{}, err
		}
		ch, ts, _, err := s.api.UpdateMessageContext(ctx, prev.Channel, prev.TS, opts...)
		if err == nil {
			if item.Message.Image != nil {
				// chat.update carries no file; the image went with the
				// first version of the message.
				s.log.Info("slack: image not sent again with an update in place", "ref", item.Message.Ref)
			}
			return mamori.Posted{Channel: firstNonEmpty(ch, prev.Channel), TS: firstNonEmpty(ts, prev.TS)}, nil
		}
		if !gone[slackCode(err)] {
			return mamori.Posted{}, s.failed("chat.update", "", err)
		}
		s.log.Info("slack: message to update is gone; posting anew", "ref", item.Message.Ref)
	}

	var channel string
	switch t.Kind {
	case mamori.TargetChannel:
		channel = t.ID
	case mamori.TargetUser:
		// chat.postMessage to a user's id posts in the app's DM with that
		// user: no conversations.open (Tier 3, 50 a minute) per recipient.
		var err error
		if channel, err = s.userID(ctx, t.ID, urgent); err != nil {
			return mamori.Posted{}, err
		}
	default:
		return mamori.Posted{}, &mamori.PermanentError{Err: fmt.Errorf("slack: unknown target kind %q", t.Kind)}
	}
	if item.InThread != nil && item.InThread.TS != "" {
		opts = append(opts, slackapi.MsgOptionTS(item.InThread.TS))
	}
	if err := s.lim.take(ctx, postMessage, channel, urgent); err != nil {
		return mamori.Posted{}, err
	}
	ch, ts, err := s.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return mamori.Posted{}, s.failed(postMessage, channel, err)
	}
	p := mamori.Posted{Channel: firstNonEmpty(ch, channel), TS: ts}
	if item.Message.Image != nil {
		if err := s.sendImage(ctx, item, p, urgent); err != nil {
			return mamori.Posted{}, err
		}
	}
	return p, nil
}

// sendImage uploads the message's image to where the message went (p),
// with Slack's upload flow: files.getUploadURLExternal, the bytes to the
// upload URL, files.completeUploadExternal. When it fails for now, the
// Sender remembers that the message is out, so the worker's retry sends
// only the image; that memory is lost in a restart, when the retry posts
// the message again.
func (s *Sender) sendImage(ctx context.Context, item mamori.OutboxItem, p mamori.Posted, urgent bool) error {
	img := item.Message.Image
	if len(img.PNG) == 0 {
		s.log.Error("slack: empty image not sent", "key", item.Key)
		return nil
	}
	for _, m := range uploadMethods {
		if err := s.lim.take(ctx, m, "", urgent); err != nil {
			s.rememberImage(item.Key, p)
			return err
		}
	}
	thread := ""
	if item.InThread != nil {
		thread = item.InThread.TS
	}
	_, err := s.api.UploadFileContext(ctx, imageUpload(img, p.Channel, thread))
	if err == nil {
		s.forgetImage(item.Key)
		return nil
	}
	err = s.failed("files.completeUploadExternal", "", err)
	var perm *mamori.PermanentError
	if errors.As(err, &perm) {
		// The message is out; an image Slack will never take (uploads
		// disabled in the workspace) must not post it a second time.
		s.log.Error("slack: image not delivered", "key", item.Key, "channel", p.Channel, "err", err)
		s.forgetImage(item.Key)
		return nil
	}
	s.rememberImage(item.Key, p)
	return err
}

var uploadMethods = []string{"files.getUploadURLExternal", "files.completeUploadExternal"}

func (s *Sender) imagePending(key string) (mamori.Posted, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, ok := s.images[key]
	return pi.p, ok
}

// maxPendingImages bounds the memory of messages whose image is still to
// go; the oldest are dropped past it, after the worker has long given up.
const maxPendingImages = 1000

func (s *Sender) rememberImage(key string, p mamori.Posted) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if len(s.images) >= maxPendingImages {
		for k, pi := range s.images {
			if now.Sub(pi.at) > 48*time.Hour {
				delete(s.images, k)
			}
		}
	}
	if _, ok := s.images[key]; !ok {
		s.images[key] = postedImage{p: p, at: now}
	}
}

func (s *Sender) forgetImage(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.images, key)
}

// userID returns the user id a target names: the id itself, or for an
// email (the directory may list either) the id users.lookupByEmail gives,
// looked up once (urgently for an urgent item).
func (s *Sender) userID(ctx context.Context, id string, urgent bool) (string, error) {
	if !strings.Contains(id, "@") {
		return id, nil
	}
	email := strings.ToLower(strings.TrimSpace(id))
	s.mu.Lock()
	uid, ok := s.emails[email]
	s.mu.Unlock()
	if ok {
		return uid, nil
	}
	if err := s.lim.take(ctx, "users.lookupByEmail", "", urgent); err != nil {
		return "", err
	}
	u, err := s.api.GetUserByEmailContext(ctx, email)
	if err != nil {
		return "", s.failed("users.lookupByEmail", "", err)
	}
	if u == nil || u.ID == "" {
		return "", errors.New("slack: users.lookupByEmail returned no user")
	}
	s.mu.Lock()
	s.emails[email] = u.ID
	s.mu.Unlock()
	return u.ID, nil
}

// failed classifies a Web API failure and, on 429, holds back further
// calls of method (to channel) for Retry-After.
func (s *Sender) failed(method, channel string, err error) error {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		if method == "files.completeUploadExternal" {
			for _, m := range uploadMethods {
				s.lim.pause(m, "", rl.RetryAfter)
			}
		} else {
			s.lim.pause(method, channel, rl.RetryAfter)
		}
	}
	return classify(method, err)
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
