package flows

import (
	"context"
	"fmt"
	"time"

	"github.com/mamori-oss/mamori"
)

// jobCheckpoint posts the audit trail's head to the HR channel once a
// day, in working hours (issue 15). Kept there, outside the database, it
// lets `mamori audit verify -checkpoint` show entries later cut from the
// end of the trail, or a trail rewritten, which the chain alone cannot.
const jobCheckpoint = "audit.checkpoint"

// AuditCheckpointer is a store whose audit trail has a head to publish:
// AuditCheckpoint checks the trail and returns its head in compact form
// (mamori-audit:v1:<seq>:<hash>), or an error when the trail does not
// hold. The SQL stores are; the in-memory one, which keeps nothing past
// its exit, is not, and gets no daily checkpoint.
type AuditCheckpointer interface {
	AuditCheckpoint(ctx context.Context) (string, error)
}

// ScheduleCheckpoint makes sure today's checkpoint is scheduled, in
// working hours. It is idempotent: call it at start.
func (s *Service) ScheduleCheckpoint(ctx context.Context) error {
	if _, ok := s.Store.(AuditCheckpointer); !ok {
		return nil
	}
	j := s.checkpointJob(s.firstPass())
	if err := s.Store.Update(ctx, func(tx mamori.Tx) error { return tx.Schedule(j) }); err != nil {
		return fmt.Errorf("schedule checkpoint: %w", err)
	}
	return nil
}

// checkpointJob is the day's checkpoint job, due at due; one a day, by
// its key.
func (s *Service) checkpointJob(due time.Time) mamori.Job {
	return mamori.Job{Key: jobCheckpoint + ":" + s.local(due).Format("2006-01-02"), Kind: jobCheckpoint, Due: due}
}

// runCheckpoint takes the audit trail's head and posts it to the HR
// channel, records in the trail that it did, and schedules tomorrow's.
// A trail that does not hold gets no checkpoint: HR is told to have it
// checked instead, and the log says why. A run twice posts once: the
// outbox key is the day.
func (s *Service) runCheckpoint(ctx context.Context, j mamori.Job, now time.Time) error {
	store, ok := s.Store.(AuditCheckpointer)
	if !ok {
		return nil
	}
	value, cerr := store.AuditCheckpoint(ctx)
	if cerr != nil {
		s.Log.Error("audit checkpoint: the audit trail does not hold", "err", cerr)
	}
	day := s.local(now).Format("2006-01-02")
	next := s.checkpointJob(s.Care.WorkingTime(s.startOfNextDay(now), s.Location))
	return s.jobUpdate(ctx, j, now, func(tx mamori.Tx) error {
		l := s.orgLang()
		m := s.CheckpointMessage(value, l)
		action, detail := jobCheckpoint, value
		if cerr != nil {
			m = s.CheckpointFailedMessage(l)
			action, detail = "audit.checkpoint_failed", "the trail did not verify"
		}
		if s.Org.HRChannel == "" {
			s.Log.Warn("no HR channel: audit checkpoint not posted", "day", day, "checkpoint", value)
		} else {
			hr := s.channel(s.platform(), s.Org.HRChannel)
			if err := tx.Enqueue(mamori.OutboxItem{Key: "checkpoint:" + day, Target: hr, Message: m, Lang: l, Created: now}); err != nil {
				return err
			}
		}
		if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: action, Subject: "audit", Detail: detail}); err != nil {
			return err
		}
		return tx.Schedule(next)
	})
}

// CheckpointMessage is the HR channel's daily post of the audit trail's
// head, value (nothing confidential: a number and a hash).
func (s *Service) CheckpointMessage(value string, l mamori.Lang) mamori.Message {
	if l == mamori.EN {
		return mamori.Message{
			Header: "Audit trail checkpoint",
			Text: "Today's head of the audit trail. Kept here, outside the database, it shows later whether entries were cut from the trail or the trail rewritten: " +
				"`mamori audit verify -checkpoint " + value + "`",
			Fields: []mamori.Field{{Label: "Checkpoint", Value: value}},
			Note:   "It holds nothing confidential. Please leave this message as it is.",
		}
	}
	return mamori.Message{
		Header: "監査証跡のチェックポイント",
		Text: "本日時点の監査証跡の先頭です。データベースの外（この投稿）に残しておくと、後から証跡の末尾が削られたり書き換えられたりしていないかを確かめられます: " +
			"`mamori audit verify -checkpoint " + value + "`",
		Fields: []mamori.Field{{Label: "チェックポイント", Value: value}},
		Note:   "機密情報は含まれていません。この投稿は消さずに残してください。",
	}
}

// CheckpointFailedMessage tells the HR channel that the audit trail did
// not verify, so no checkpoint was taken; what broke is in the log and in
// `mamori audit verify`, not in the channel.
func (s *Service) CheckpointFailedMessage(l mamori.Lang) mamori.Message {
	if l == mamori.EN {
		return mamori.Message{
			Header: "Audit trail: no checkpoint today",
			Text:   "The audit trail did not verify, so today's checkpoint was not taken. Ask the administrator to run `mamori audit verify` against the last checkpoint posted here.",
			Urgent: true,
		}
	}
	return mamori.Message{
		Header: "監査証跡: 本日のチェックポイントを取れませんでした",
		Text:   "監査証跡の検証に失敗したため、本日のチェックポイントは取っていません。管理者に、ここに投稿された直近のチェックポイントで `mamori audit verify` を実行するよう依頼してください。",
		Urgent: true,
	}
}
