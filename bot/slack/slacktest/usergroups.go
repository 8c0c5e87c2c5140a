package slacktest

import (
	"slices"
	"strconv"
)

// UserGroup is a user group of the fake workspace, as usergroups.list and
// usergroups.users.list give it (https://docs.slack.dev/reference/methods/usergroups.list,
// …/usergroups.users.list): an id (S…), a handle people mention it by
// (@handle), and its members' user ids. A disabled group is left out of
// usergroups.list unless include_disabled is set, and has no members.
type UserGroup struct {
	ID       string
	Handle   string // without the @
	Name     string
	Users    []string
	Disabled bool
}

// SetUserGroup adds g to the workspace, or replaces the group with its id:
// a member added or removed is what the next call sees.
func (s *Server) SetUserGroup(g UserGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usergroups == nil {
		s.usergroups = map[string]UserGroup{}
	}
	g.Users = slices.Clone(g.Users)
	s.usergroups[g.ID] = g
}

// flag reads a boolean argument as Slack does: true or 1.
func flag(c *Call, key string) bool {
	v := c.Get(key)
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// userGroupsReply answers usergroups.list and usergroups.users.list.
func (s *Server) userGroupsReply(c *Call) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Method == "usergroups.users.list" {
		g, ok := s.usergroups[c.Get("usergroup")]
		if !ok {
			return errBody("no_such_subteam")
		}
		users := []string{}
		if !g.Disabled || flag(c, "include_disabled") {
			users = append(users, g.Users...)
		}
		return map[string]any{"ok": true, "users": users}
	}
	ids := make([]string, 0, len(s.usergroups))
	for id := range s.usergroups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	groups := []any{}
	for _, id := range ids {
		g := s.usergroups[id]
		if g.Disabled && !flag(c, "include_disabled") {
			continue
		}
		deleted := 0
		if g.Disabled {
			deleted = 1700000500
		}
		out := map[string]any{"id": g.ID, "team_id": TeamID, "is_usergroup": true, "is_subteam": true,
			"name": g.Name, "description": "", "handle": g.Handle, "is_external": false,
			"date_create": 1700000000, "date_update": 1700000100, "date_delete": deleted,
			"auto_type": nil, "auto_provision": false, "enterprise_subteam_id": "",
			"created_by": "U0ADMIN", "updated_by": "U0ADMIN", "deleted_by": nil,
			"prefs": map[string]any{"channels": []string{}, "groups": []string{}}}
		if flag(c, "include_count") {
			out["user_count"] = len(g.Users)
		}
		if flag(c, "include_users") {
			out["users"] = slices.Clone(g.Users)
		}
		groups = append(groups, out)
	}
	return map[string]any{"ok": true, "usergroups": groups}
}
