package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

// Refs keeps conversation references: how to reach a person or a channel
// later, for follow-ups sent days after anyone wrote.
type Refs interface {
	Reference(ctx context.Context, key string) ([]byte, error) // mamori.ErrNotFound if none
	PutReference(ctx context.Context, key string, data []byte) error
}

// StoreRefs keeps references in a mamori.Store.
func StoreRefs(s mamori.Store, clock mamori.Clock) Refs {
	if clock == nil {
		clock = time.Now
	}
	return storeRefs{s: s, now: clock}
}

type storeRefs struct {
	s   mamori.Store
	now mamori.Clock
}

func (r storeRefs) Reference(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := r.s.View(ctx, func(tx mamori.Tx) error {
		var err error
		b, err = tx.Reference(key)
		return err
	})
	return b, err
}

func (r storeRefs) PutReference(ctx context.Context, key string, data []byte) error {
	return r.s.Update(ctx, func(tx mamori.Tx) error { return tx.PutReference(key, data, r.now()) })
}

// Ref is a stored conversation reference.
type Ref struct {
	ServiceURL   string `json:"serviceUrl"`
	Conversation string `json:"conversation"` // the conversation id
	Tenant       string `json:"tenant,omitempty"`
	Bot          string `json:"bot,omitempty"`  // the bot's id in the conversation
	User         string `json:"user,omitempty"` // the person's 29:… id, for a 1:1
	AadObjectID  string `json:"aadObjectId,omitempty"`
	Name         string `json:"name,omitempty"` // the person's or the channel's name
	Email        string `json:"email,omitempty"`
	Team         string `json:"team,omitempty"`
}

// Reference keys.
func userKey(id string) string     { return "teams:user:" + id }
func emailKey(email string) string { return "teams:email:" + strings.ToLower(strings.TrimSpace(email)) }
func channelKey(id string) string  { return "teams:channel:" + baseConversation(id) }
func nameKey(id string) string     { return "teams:name:" + id }

// serviceKey holds the last serviceUrl and tenant seen: where to create a
// conversation with someone who never wrote, and to reach a channel the
// bot's team holds but whose reference was not stored.
const serviceKey = "teams:service"

// baseConversation strips a channel thread's ";messageid=…".
func baseConversation(id string) string {
	base, _, _ := strings.Cut(id, ";")
	return base
}

// Sender posts outbox items to Teams through the Bot Connector, as
// Adaptive Cards, from stored conversation references: a person's 1:1
// chat (created when there is none yet), a channel, a case card's thread,
// or an update in place of an earlier card.
type Sender struct {
	conn  *Connector
	refs  Refs
	appID string
	log   *slog.Logger
	// policy, when set, titles the button the personal chat's menu gets
	// to show the person's cases.
	policy *mamori.Policy
}

// stepMenu is the Step of the flows' menu (and of Home).
const stepMenu = "menu"

var (
	_ flows.Sender           = (*Sender)(nil)
	_ flows.ConcurrentSender = (*Sender)(nil)
)

// NewSender returns a Sender; a.Sender() shares the adapter's tokens.
func NewSender(conn *Connector, refs Refs, appID string, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{conn: conn, refs: refs, appID: appID, log: log}
}

// Concurrency is how many Sends may run at once, to different targets.
func (s *Sender) Concurrency() int { return 4 }

// Send delivers item. With prev it updates that card in place.
func (s *Sender) Send(ctx context.Context, item mamori.OutboxItem, prev *mamori.Posted) (mamori.Posted, error) {
	t := item.Target
	if t.Platform != mamori.PlatformTeams {
		return mamori.Posted{}, &mamori.PermanentError{Err: fmt.Errorf("teams: target on platform %q", t.Platform)}
	}
	ref, err := s.resolve(ctx, t)
	if err != nil {
		return mamori.Posted{}, err
	}
	m := item.Message
	if s.policy != nil && t.Kind == mamori.TargetUser && m.Step == stepMenu {
		// The personal chat's menu also leads to the person's cases.
		m.Controls = append(slices.Clip(m.Controls), homeChoice(s.policy, item.Lang, "teams.home"))
	}
	act := s.activity(ctx, m)
	if prev != nil && prev.Channel != "" && prev.TS != "" {
		err := s.conn.Update(ctx, ref.ServiceURL, prev.Channel, prev.TS, act)
		if err == nil {
			return *prev, nil
		}
		var e *APIError
		if !errors.As(err, &e) || e.Status != http.StatusNotFound {
			return mamori.Posted{}, classify(err)
		}
		s.log.Info("teams: card to update is gone; posting anew", "ref", item.Message.Ref)
	}
	conv := ref.Conversation
	if th := item.InThread; th != nil && th.Channel != "" && th.TS != "" {
		conv = baseConversation(th.Channel) + ";messageid=" + th.TS
	}
	id, err := s.conn.Send(ctx, ref.ServiceURL, conv, act)
	if err != nil {
		return mamori.Posted{}, classify(err)
	}
	return mamori.Posted{Channel: ref.Conversation, TS: id}, nil
}

// activity is m as a message with one Adaptive Card.
func (s *Sender) activity(ctx context.Context, m mamori.Message) outActivity {
	c := Card(m, s.names(ctx))
	a := outActivity{Type: "message", Summary: truncate(Fallback(m), 200),
		Attachments: []schema.Attachment{{ContentType: CardContentType, Content: c}}}
	if m.Urgent {
		a.ChannelData = map[string]any{"notification": map[string]any{"alert": true}}
	}
	return a
}

// names resolves mentions from the people's stored references.
func (s *Sender) names(ctx context.Context) Names {
	return func(id string) string {
		for _, key := range []string{userKey(id), nameKey(id)} {
			b, err := s.refs.Reference(ctx, key)
			if err != nil {
				continue
			}
			var r Ref
			if json.Unmarshal(b, &r) == nil && r.Name != "" {
				return r.Name
			}
		}
		return ""
	}
}

// resolve finds where a target is: its stored reference, or for a
// person who never wrote, a new 1:1 conversation.
func (s *Sender) resolve(ctx context.Context, t mamori.Target) (Ref, error) {
	switch t.Kind {
	case mamori.TargetChannel:
		if r, err := s.ref(ctx, channelKey(t.ID)); err == nil {
			return r, nil
		} else if !errors.Is(err, mamori.ErrNotFound) {
			return Ref{}, err
		}
		// A channel of a team the bot is in needs no reference of its
		// own: any serviceUrl of the tenant reaches it.
		if strings.HasPrefix(t.ID, "19:") {
			if r, err := s.ref(ctx, serviceKey); err == nil {
				r.Conversation = t.ID
				return r, nil
			}
		}
		return Ref{}, &mamori.PermanentError{Err: fmt.Errorf("teams: channel %q: the bot has not been added to it (add Mamori to the team, and name the channel by its id 19:…@thread.tacv2)", t.ID)}
	case mamori.TargetUser:
	default:
		return Ref{}, &mamori.PermanentError{Err: fmt.Errorf("teams: unknown target kind %q", t.Kind)}
	}
	key := userKey(t.ID)
	if strings.Contains(t.ID, "@") {
		key = emailKey(t.ID)
	}
	r, err := s.ref(ctx, key)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, mamori.ErrNotFound) {
		return Ref{}, err
	}
	if strings.Contains(t.ID, "@") {
		return Ref{}, &mamori.PermanentError{Err: fmt.Errorf("teams: no conversation with %s yet, and none can be created from an email: list the person by Entra object id, or ask them to open Mamori once", t.ID)}
	}
	svc, err := s.ref(ctx, serviceKey)
	if errors.Is(err, mamori.ErrNotFound) {
		return Ref{}, &mamori.PermanentError{Err: fmt.Errorf("teams: cannot reach %s: no conversation yet, and no serviceUrl known to create one", t.ID)}
	} else if err != nil {
		return Ref{}, err
	}
	conv, err := s.conn.CreateConversation(ctx, svc.ServiceURL, firstNonEmpty(svc.Bot, s.appID), t.ID, svc.Tenant)
	if err != nil {
		return Ref{}, classify(err)
	}
	r = Ref{ServiceURL: svc.ServiceURL, Conversation: conv, Tenant: svc.Tenant, Bot: svc.Bot, AadObjectID: t.ID}
	if b, err := json.Marshal(r); err == nil {
		if err := s.refs.PutReference(ctx, key, b); err != nil {
			s.log.Warn("teams: could not store a new conversation's reference", "err", err)
		}
	}
	s.log.Info("teams: created a 1:1 conversation", "user", t.ID)
	return r, nil
}

func (s *Sender) ref(ctx context.Context, key string) (Ref, error) {
	b, err := s.refs.Reference(ctx, key)
	if err != nil {
		return Ref{}, err
	}
	var r Ref
	if err := json.Unmarshal(b, &r); err != nil || r.ServiceURL == "" {
		return Ref{}, &mamori.PermanentError{Err: fmt.Errorf("teams: reference %s is unreadable", key)}
	}
	return r, nil
}
