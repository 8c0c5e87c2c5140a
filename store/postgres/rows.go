package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mamori-oss/mamori/store/sqlrow"
)

// Rows counts the rows of the tables that grow with use and of the
// records (sqlrow.Tables), in one snapshot.
func (db *DB) Rows(ctx context.Context) (map[string]int, error) {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback()
	return sqlrow.Rows(ctx, tx)
}

// Waiting counts the outbox items pending and failed (sqlrow.Waiting).
func (db *DB) Waiting(ctx context.Context) (map[string]int, error) {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback()
	return sqlrow.Waiting(ctx, tx)
}
