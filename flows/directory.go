package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mamori-oss/mamori"
)

// People from the directory (issue 17): a department may name a Slack
// user group or a Microsoft Entra group for its members and one for its
// supervisors, HR one for the desk. A sync reads every group through its
// source, keeps what it read in the store (one reference a group, so a
// restart or another replica has it without asking the source), and
// makes the organisation answer from the configuration's lists merged
// with the groups. A group that cannot be read keeps the members it last
// had: a directory outage does not stop routing; the log and
// `mamori directory check` say since when.

// jobDirectory reads the groups again, every Directory.Every.
const jobDirectory = "directory.sync"

// Directory says where the people of the organisation's directory groups
// come from and how often they are read again. The zero Directory reads
// nothing.
type Directory struct {
	// Sources read groups, by mamori.Group's Source (mamori.SourceSlack,
	// mamori.SourceEntra).
	Sources map[string]mamori.Directory
	// Every is how often the groups are read again; zero means an hour.
	Every time.Duration
	// Timeout bounds the reading of one group, all its pages and the
	// waits a throttled source asks for; zero means two minutes.
	Timeout time.Duration

	// mu orders the swaps of the organisation's members: a load that
	// read the store before a sync committed does not undo the sync.
	mu      sync.Mutex
	rosters []mamori.Roster // as last loaded or synced
}

// Rosters returns the groups' rosters as last loaded or synced: when
// each was read, and a failure since (for /metrics).
func (d *Directory) Rosters() []mamori.Roster {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.rosters)
}

func (d *Directory) every() time.Duration {
	if d == nil || d.Every <= 0 {
		return time.Hour
	}
	return d.Every
}

// ErrUnread is SyncDirectory's error when some groups could not be read:
// they kept their members; the others were applied.
var ErrUnread = errors.New("directory: groups not read; their last good membership is kept")

// DirectoryKey is where the roster of group g is kept, as a reference:
// "directory:slack:@store-staff".
func DirectoryKey(g mamori.Group) string { return "directory:" + g.String() }

// rosters reads the kept roster of each of groups; a group never read
// gets an empty one.
func rosters(tx mamori.Tx, groups []mamori.Group) ([]mamori.Roster, error) {
	out := make([]mamori.Roster, 0, len(groups))
	for _, g := range groups {
		r := mamori.Roster{Group: g}
		b, err := tx.Reference(DirectoryKey(g))
		switch {
		case errors.Is(err, mamori.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			if err := json.Unmarshal(b, &r); err != nil {
				return nil, fmt.Errorf("directory: %s: %w", g, err)
			}
			r.Group = g
		}
		out = append(out, r)
	}
	return out, nil
}

// use makes the organisation answer from rs.
func (s *Service) use(rs []mamori.Roster) {
	members := make(map[mamori.Group][]mamori.Member, len(rs))
	for _, r := range rs {
		members[r.Group] = r.Members
	}
	s.Org.UseMembers(members)
}

// LoadDirectory reads the rosters kept in the store and makes the
// organisation answer from them, the configuration's lists merged with
// the groups' members. Call it at start, before the Service handles
// anything, and again to take in what another replica (or `mamori
// directory sync`) read. It returns the rosters, in the order the
// organisation names the groups.
func (s *Service) LoadDirectory(ctx context.Context) ([]mamori.Roster, error) {
	groups := s.Org.Groups()
	if len(groups) == 0 {
		return nil, nil
	}
	d := s.Directory
	if d == nil {
		d = &Directory{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var rs []mamori.Roster
	err := s.Store.View(ctx, func(tx mamori.Tx) (err error) {
		rs, err = rosters(tx, groups)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	s.use(rs)
	d.rosters = rs
	return rs, nil
}

// SyncDirectory reads every group the organisation names from its
// source, keeps what it read, and makes the organisation answer from it
// at once. A group that cannot be read keeps the members it had, and its
// roster records the failure; the error then names the groups that
// failed (the others are applied). Who joined or left a group is recorded
// in the audit trail: a supervisor group gives the right to read cases.
func (s *Service) SyncDirectory(ctx context.Context) ([]mamori.Roster, error) {
	groups := s.Org.Groups()
	if len(groups) == 0 {
		return nil, nil
	}
	d := s.Directory
	if d == nil {
		d = &Directory{}
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	// Read the sources outside any transaction: they may take a while.
	type read struct {
		members []mamori.Member
		err     error
		at      time.Time
	}
	reads := make([]read, len(groups))
	for i, g := range groups {
		src := d.Sources[g.Source]
		if src == nil {
			reads[i] = read{err: fmt.Errorf("no %s directory configured", g.Source), at: s.Clock()}
			continue
		}
		gctx, cancel := context.WithTimeout(ctx, timeout)
		ms, err := src.Members(gctx, g.ID)
		cancel()
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		reads[i] = read{members: ms, err: err, at: s.Clock()}
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	var rs []mamori.Roster
	var failed []error
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		kept, err := rosters(tx, groups)
		if err != nil {
			return err
		}
		rs, failed = kept, nil
		for i, g := range groups {
			r, rd := &rs[i], reads[i]
			if rd.err != nil {
				if r.Failing.IsZero() {
					r.Failing = rd.at
				}
				r.Failed, r.Error = rd.at, rd.err.Error()
				failed = append(failed, fmt.Errorf("%s: %w", g, rd.err))
			} else {
				added, removed := diffMembers(r.Members, rd.members)
				if len(added)+len(removed) > 0 {
					detail := fmt.Sprintf("members=%d added=%s removed=%s", len(rd.members), strings.Join(added, ","), strings.Join(removed, ","))
					if err := tx.Audit(mamori.AuditEntry{At: rd.at, Actor: "system", Action: "directory.changed", Subject: g.String(), Detail: detail}); err != nil {
						return err
					}
				}
				*r = mamori.Roster{Group: g, Members: rd.members, Synced: rd.at}
			}
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := tx.PutReference(DirectoryKey(g), b, rd.at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sync directory: %w", err)
	}
	s.use(rs)
	d.rosters = rs
	for i, r := range rs {
		if reads[i].err == nil {
			s.Log.Info("directory: group read", "group", r.Group.String(), "members", len(r.Members))
			continue
		}
		if r.Synced.IsZero() {
			s.Log.Error("directory: group could not be read and never was: its people are not in Mamori until it is; the configuration's lists still route",
				"group", r.Group.String(), "failing_since", r.Failing, "err", reads[i].err)
		} else {
			s.Log.Error("directory: group could not be read; routing keeps its last good membership",
				"group", r.Group.String(), "last_synced", r.Synced, "failing_since", r.Failing, "members_kept", len(r.Members), "err", reads[i].err)
		}
	}
	if len(failed) > 0 {
		return rs, fmt.Errorf("%w: %w", ErrUnread, errors.Join(failed...))
	}
	return rs, nil
}

// diffMembers returns who is in now and was not in before, and the
// reverse, by id (or email when a source gives no id).
func diffMembers(before, now []mamori.Member) (added, removed []string) {
	key := func(m mamori.Member) string {
		if m.ID != "" {
			return m.ID
		}
		return strings.ToLower(m.Email)
	}
	was := map[string]bool{}
	for _, m := range before {
		was[key(m)] = true
	}
	is := map[string]bool{}
	for _, m := range now {
		k := key(m)
		is[k] = true
		if !was[k] {
			added = append(added, k)
		}
	}
	for _, m := range before {
		if k := key(m); !is[k] {
			removed = append(removed, k)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

// ScheduleDirectory makes sure a sync of the directory groups is
// scheduled, due now; each sync schedules the next, Every later. It is
// idempotent (the key is the period the sync is due in), and does
// nothing when the organisation names no group or no source can read
// them. Call it at start.
func (s *Service) ScheduleDirectory(ctx context.Context) error {
	if s.Directory == nil || len(s.Directory.Sources) == 0 || len(s.Org.Groups()) == 0 {
		return nil
	}
	j := s.directoryJob(s.Clock())
	if err := s.Store.Update(ctx, func(tx mamori.Tx) error { return tx.Schedule(j) }); err != nil {
		return fmt.Errorf("schedule the directory sync: %w", err)
	}
	return nil
}

// directoryJob is the sync due at due. Its key is the period of Every
// that due falls in, so replicas starting together, or a restart, add
// no second chain of syncs.
func (s *Service) directoryJob(due time.Time) mamori.Job {
	slot := due.Truncate(s.Directory.every())
	return mamori.Job{Key: fmt.Sprintf("%s:%d", jobDirectory, slot.Unix()), Kind: jobDirectory, Due: due}
}

// runDirectory syncs the groups and schedules the next sync. A sync made
// less than half a period ago (on demand, or by a chain of jobs left by
// an earlier Every) is not made again. A group that could not be read is
// no failure of the job: it is logged, kept in its roster, and read
// again next time.
func (s *Service) runDirectory(ctx context.Context, j mamori.Job, now time.Time) error {
	if s.Directory == nil {
		return nil
	}
	every := s.Directory.every()
	var last time.Time
	err := s.Store.View(ctx, func(tx mamori.Tx) error {
		rs, err := rosters(tx, s.Org.Groups())
		for _, r := range rs {
			last = latest(last, r.Synced, r.Failed)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("directory job %d: %w", j.ID, err)
	}
	if now.Sub(last) >= every/2 || now.Before(last) {
		if _, err := s.SyncDirectory(ctx); err != nil && !errors.Is(err, ErrUnread) {
			return err
		}
	}
	next := s.directoryJob(now.Add(every))
	return s.Store.Update(ctx, func(tx mamori.Tx) error { return tx.Schedule(next) })
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
