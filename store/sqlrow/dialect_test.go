package sqlrow

import (
	"slices"
	"testing"
)

func TestDialectQ(t *testing.T) {
	pg := &Dialect{Dollar: true, Arrays: true}
	tests := []struct {
		name     string
		d        *Dialect
		in, want string
	}{
		{"sqlite unchanged", &Dialect{}, `a = ? AND b = ?1`, `a = ? AND b = ?1`},
		{"in order", pg, `a = ? AND b IN (?, ?)`, `a = $1 AND b IN ($2, $3)`},
		{"numbered", pg, `next_at <= ?1 AND (lease_until <= ?1) LIMIT ?2`, `next_at <= $1 AND (lease_until <= $1) LIMIT $2`},
		{"literal kept", pg, `x = '?' AND y = ?`, `x = '?' AND y = $1`},
		{"none", pg, `SELECT 1`, `SELECT 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Q(tt.in); got != tt.want {
				t.Errorf("Q(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDialectIn(t *testing.T) {
	vals := []string{"a", "b"}
	q, args := (&Dialect{}).In("d", vals, []any{1})
	if q != `d IN (?, ?)` || !slices.Equal(args, []any{1, "a", "b"}) {
		t.Errorf("sqlite In = %q %v", q, args)
	}
	q, args = (&Dialect{Arrays: true}).In("d", vals, nil)
	if q != `d = ANY(?)` || len(args) != 1 {
		t.Errorf("postgres In = %q %v", q, args)
	}
}
