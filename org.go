package mamori

import "strings"

// Org is the organisation's directory: departments, their supervisor
// channels and people, and the HR channel (相談窓口).
type Org struct {
	Name string `json:"name"`
	// Lang is the language of cards in shared channels.
	Lang        Lang         `json:"lang"`
	HRChannel   string       `json:"hr_channel"`
	HR          []string     `json:"hr"` // user ids or emails
	Departments []Department `json:"departments"`
	// Langs gives the language of people who read another than Lang, by
	// user id or email, for what Mamori sends them before they have used
	// it (a training reminder); once they have, their platform's is known.
	Langs map[string]Lang `json:"langs,omitempty"`
}

// Department is one unit whose supervisors judge its cases.
type Department struct {
	ID                string   `json:"id"`
	Name              Text     `json:"name"`
	SupervisorChannel string   `json:"supervisor_channel"`
	Supervisors       []string `json:"supervisors"` // user ids or emails
	Members           []string `json:"members"`     // user ids or emails
}

func matches(list []string, u User) bool {
	for _, m := range list {
		if m == "" {
			continue
		}
		if m == u.ID || (u.Email != "" && strings.EqualFold(m, u.Email)) {
			return true
		}
	}
	return false
}

// Listed reports whether u is in list (user ids or emails).
func Listed(list []string, u User) bool { return matches(list, u) }

// DepartmentOf returns the department u belongs to, by id or email.
func (o *Org) DepartmentOf(u User) (Department, bool) {
	for _, d := range o.Departments {
		if matches(d.Members, u) || matches(d.Supervisors, u) {
			return d, true
		}
	}
	return Department{}, false
}

// Department returns the department with that id.
func (o *Org) Department(id string) (Department, bool) {
	for _, d := range o.Departments {
		if d.ID == id {
			return d, true
		}
	}
	return Department{}, false
}

// LangOf returns the language the directory gives u, by id or email.
func (o *Org) LangOf(u User) (Lang, bool) {
	if l, ok := o.Langs[u.ID]; ok && u.ID != "" {
		return l, true
	}
	if u.Email == "" {
		return "", false
	}
	for id, l := range o.Langs {
		if strings.EqualFold(id, u.Email) {
			return l, true
		}
	}
	return "", false
}

// IsHR reports whether u is on the HR desk.
func (o *Org) IsHR(u User) bool { return matches(o.HR, u) }

// IsSupervisor reports whether u supervises department id.
func (o *Org) IsSupervisor(u User, id string) bool {
	d, ok := o.Department(id)
	return ok && matches(d.Supervisors, u)
}

// Supervises lists the ids of the departments u supervises.
func (o *Org) Supervises(u User) []string {
	var ids []string
	for _, d := range o.Departments {
		if matches(d.Supervisors, u) {
			ids = append(ids, d.ID)
		}
	}
	return ids
}
