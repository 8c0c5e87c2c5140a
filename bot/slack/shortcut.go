package slack

import (
	"context"
	"errors"

	"github.com/mamori-oss/mamori"
)

// This file is the SOS from Slack's shortcuts: the global shortcut (the
// composer's shortcuts menu and search, anywhere in Slack) and the message
// shortcut (a message's "more actions" menu). Either raises an SOS for the
// person who used it, as the menu's SOS button does; what they are told
// (SOS sent, the emergency numbers, where are you?) comes in their DM with
// the app, which notifies them at once.

// Callback ids of the shortcuts, as the manifest declares them.
const (
	ShortcutSOS        = "sos"
	ShortcutSOSMessage = "sos_message"
)

// shortcut answers a shortcut or message_action payload. Only once the
// SOS is committed is the request acknowledged; a failure is said to the
// person, who may then call for help another way. The delivery (the
// trigger) makes a Socket Mode redelivery safe, and an SOS already open
// is not raised twice: the person is told where it stands.
//
// Nothing of the message a message shortcut was used on is read: it may
// be anyone's, and the SOS needs none of it.
func (a *Adapter) shortcut(ctx context.Context, p interaction) reply {
	switch p.CallbackID {
	case ShortcutSOS, ShortcutSOSMessage:
	default:
		return ok() // a shortcut of another version of the manifest
	}
	if p.User.ID == "" {
		return bad("malformed shortcut payload: no user")
	}
	u := a.user(ctx, p.User.ID)
	in := mamori.Input{Kind: mamori.InputStart, User: u, Value: mamori.StartSOS, Delivery: shortcutDelivery(p)}
	err := a.flows.Handle(ctx, in)
	if err == nil {
		// A message shortcut is used in a conversation: a word there,
		// seen by the person alone, says where to look. The global one
		// has no conversation; the DM's notification is the answer.
		return ok().then(a.shortcutSays(p, u, "slack.command_ack"))
	}
	a.log.Error("slack: SOS shortcut failed", "user", u.ID, "shortcut", p.CallbackID, "delivery", in.Delivery, "err", err)
	if errors.Is(err, mamori.ErrInvalid) {
		return ok().then(a.shortcutSays(p, u, "slack.error"))
	}
	// Not acknowledged: Socket Mode sends it again; Slack shows an HTTP
	// shortcut as failed. Either way the person is told.
	return failed().then(a.shortcutSays(p, u, "slack.error"))
}

// shortcutDelivery names one use of a shortcut: its trigger, unique to
// it, or else its time and user.
func shortcutDelivery(p interaction) string {
	switch {
	case p.TriggerID != "":
		return "shortcut:" + p.TriggerID
	case p.ActionTS != "":
		return "shortcut:" + p.ActionTS + ":" + p.User.ID
	}
	return ""
}

// shortcutSays tells u the adapter's text key where the shortcut was
// used: through a message shortcut's response_url, seen by u alone; for
// an error after a global shortcut, in a modal (its trigger is valid for
// three seconds, long enough right after the answer).
func (a *Adapter) shortcutSays(p interaction, u mamori.User, key string) func(context.Context) {
	text := a.cfg.Policy.T(u.Lang, key)
	if p.Type == "message_action" && responseURLOK(p.ResponseURL, a.cfg.APIURL) {
		return func(ctx context.Context) {
			if err := respond(ctx, p.ResponseURL, responseMessage{Text: text, ResponseType: "ephemeral"}); err != nil {
				a.log.Warn("slack: could not answer the SOS shortcut", "err", err)
			}
		}
	}
	if key == "slack.command_ack" || p.TriggerID == "" {
		return nil
	}
	return func(ctx context.Context) {
		if _, err := a.api.OpenViewContext(ctx, p.TriggerID, ModalView(textMessage(text))); err != nil {
			a.log.Error("slack: views.open failed", "err", err)
		}
	}
}
