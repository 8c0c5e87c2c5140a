package sqlrow

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// Querier runs statements: a transaction, or a connection inside one.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Dialect is what differs between the SQL stores in the statements Tx
// runs. Statements are written once, with ? placeholders (?N for the Nth
// argument); a Dialect with Dollar rewrites them to $N.
type Dialect struct {
	// Dollar: placeholders are $1, $2… (PostgreSQL) instead of ?.
	Dollar bool
	// LockRows: rows an Update reads to change are locked FOR UPDATE, so a
	// concurrent read-modify-write of one row waits (SQLite gets that from
	// its single writer).
	LockRows bool
	// Arrays: an IN-list is one array argument, col = ANY(?), rather than
	// one placeholder a value.
	Arrays bool
	// AuditLock, when set, runs before an audit entry is appended, so that
	// appenders follow one another, each reading the row the one before
	// committed.
	AuditLock string
	// ClaimLock ends the query that claims jobs: PostgreSQL's
	// FOR UPDATE SKIP LOCKED lets replicas claiming at once take different
	// rows without waiting for each other.
	ClaimLock string
	// IsUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
	IsUnique func(error) bool
}

// Q returns query with the dialect's placeholders.
func (d *Dialect) Q(query string) string {
	if !d.Dollar || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(query[i+1 : j]) // ?N is $N
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// In returns the condition that col is one of vals (which must not be
// empty) and args with what it binds.
func (d *Dialect) In(col string, vals []string, args []any) (string, []any) {
	if d.Arrays {
		return col + ` = ANY(?)`, append(args, vals)
	}
	for _, v := range vals {
		args = append(args, v)
	}
	return col + ` IN (?` + strings.Repeat(`, ?`, len(vals)-1) + `)`, args
}
