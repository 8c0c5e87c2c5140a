// Command bare is bench/peer.sh's PEER=bare, the ceiling: signature check
// + one durable insert per request, group-committed; no flows. It answers
// what `mamori bench -mix slack` sends (slash commands and clicks, form
// encoded, to /slack/commands and /slack/interactivity; events, JSON, to
// /slack/events) as Mamori does at the least: it checks the request's
// Slack signature and timestamp (401 if bad), writes the raw body to a
// SQLite file with Mamori's durability (WAL, synchronous=FULL, one fsync
// per commit) and answers 200 with an empty body once it is on disk.
//
// One writer goroutine takes every insert waiting at that moment, runs
// them in one transaction and commits them with one fsync, then releases
// each waiting request.
//
//	SLACK_SIGNING_SECRET=bench-secret PORT=8083 bare -db bare.db
package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/slack-go/slack"
)

// insert is one request's body, waiting for the writer.
type insert struct {
	path string
	body []byte
	done chan error // the commit's outcome
}

func main() {
	dbPath := flag.String("db", os.Getenv("BARE_DB"), "the SQLite file (default $BARE_DB)")
	flag.Parse()
	port, secret := os.Getenv("PORT"), os.Getenv("SLACK_SIGNING_SECRET")
	if *dbPath == "" || port == "" || secret == "" {
		log.Fatal("bare needs -db (or BARE_DB), PORT and SLACK_SIGNING_SECRET")
	}
	abs, err := filepath.Abs(*dbPath)
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?"+url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"},
		"_txlock":       {"immediate"},
		"_busy_timeout": {"5000"},
	}.Encode())
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(1) // the writer's connection, the only one
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS requests (
		id INTEGER PRIMARY KEY, path TEXT NOT NULL, body BLOB NOT NULL, at INTEGER NOT NULL)`); err != nil {
		log.Fatal(err)
	}
	stmt, err := db.Prepare("INSERT INTO requests (path, body, at) VALUES (?, ?, ?)")
	if err != nil {
		log.Fatal(err)
	}
	queue := make(chan insert, 4096)
	go write(db, stmt, queue)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	slackHandler := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		sv, err := slack.NewSecretsVerifier(r.Header, secret)
		if err == nil {
			sv.Write(body)
			err = sv.Ensure()
		}
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/slack/events" && bytes.Contains(body, []byte(`"url_verification"`)) {
			var v struct{ Type, Challenge string }
			if json.Unmarshal(body, &v) == nil && v.Type == "url_verification" {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, v.Challenge)
				return
			}
		}
		in := insert{path: r.URL.Path, body: body, done: make(chan error, 1)}
		queue <- in
		if err := <-in.done; err != nil {
			log.Print(err)
			http.Error(w, "not stored", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	for _, p := range []string{"/slack/commands", "/slack/interactivity", "/slack/events"} {
		mux.HandleFunc("POST "+p, slackHandler)
	}
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// write is the one writer: it takes every insert waiting, commits them in
// one transaction (one fsync of the WAL) and then answers each.
func write(db *sql.DB, stmt *sql.Stmt, queue <-chan insert) {
	batch := make([]insert, 0, cap(queue))
	for first := range queue {
		batch = append(batch[:0], first)
	more:
		for {
			select {
			case in := <-queue:
				batch = append(batch, in)
			default:
				break more
			}
		}
		err := commit(db, stmt, batch)
		for _, in := range batch {
			in.done <- err
		}
	}
}

func commit(db *sql.DB, stmt *sql.Stmt, batch []insert) error {
	tx, err := db.Begin() // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	ins, now := tx.Stmt(stmt), time.Now().UnixMilli()
	for _, in := range batch {
		if _, err := ins.Exec(in.path, in.body, now); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
