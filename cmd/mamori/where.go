package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/postgres"
	"github.com/mamori-oss/mamori/store/seal"
)

// keyFilePath is where the key file is: MAMORI_KEY_FILE, or mamori.key
// beside the SQLite database.
func keyFilePath(getenv func(string) string) string {
	if p := getenv("MAMORI_KEY_FILE"); p != "" {
		return p
	}
	return filepath.Join(filepath.Dir(dbPath(getenv)), "mamori.key")
}

// place says where a run keeps its data, for a person: the database and
// its key, and whether opening the store makes them. It is read before
// the store is opened (openStore makes what is missing).
type place struct {
	db, key       string // an absolute path, or a URL without its password
	mem, envKey   bool   // MAMORI_DB=mem:; the key is MAMORI_ENCRYPTION_KEY
	newDB, newKey bool
}

func dataPlace(getenv func(string) string) place {
	path := dbPath(getenv)
	var p place
	switch {
	case isMem(path):
		return place{mem: true}
	case postgres.IsURL(path):
		p.db = redactURL(path)
	default:
		p.db = absPath(path)
		st, err := os.Stat(path)
		p.newDB = err != nil || st.Size() == 0
	}
	if getenv(seal.EnvVar) != "" {
		p.envKey = true
		return p
	}
	k := keyFilePath(getenv)
	p.key = absPath(k)
	_, err := os.Stat(k)
	p.newKey = errors.Is(err, fs.ErrNotExist)
	return p
}

// absPath is path made absolute, for a person to find the file from
// anywhere; path itself when it cannot be.
func absPath(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}

// redactURL is a postgres:// URL without its password and parameters
// (which may hold one): the server and the database.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "PostgreSQL"
	}
	u.RawQuery, u.Fragment = "", ""
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// log says in serve's startup log where the data and the key are and
// which configuration is read.
func (p place) log(log *slog.Logger, cfg *loaded) {
	db, key := p.db, p.key
	if p.mem {
		db, key = "memory (lost at exit)", "none"
	} else if p.envKey {
		key = seal.EnvVar
	}
	log.Info("mamori data", "database", db, "new_database", p.newDB, "key", key, "new_key", p.newKey,
		"config", orExample(cfg.path), "organisation", cfg.org.Name, "policy", cfg.policy.ID)
}

// say is the place in l, one line: what `mamori chat` prints first.
func (p place) say(cfg *loaded, l mamori.Lang) string {
	t := func(key string) string { return cfg.policy.T(l, key) }
	db, key := p.db, p.key
	switch {
	case p.mem:
		db, key = t("local.where.memory"), t("local.where.no_key")
	case p.envKey:
		key = t("local.where.env_key")
	}
	if p.newDB {
		db = fmt.Sprintf(t("local.where.new"), db)
	}
	if p.newKey {
		key = fmt.Sprintf(t("local.where.new_key"), key)
	}
	config := cfg.path
	if config == "" {
		config = t("local.where.example")
	} else {
		config = absPath(config)
	}
	if cfg.org.Name == "" {
		config = fmt.Sprintf(t("local.where.config.unnamed"), config, cfg.policy.ID)
	} else {
		config = fmt.Sprintf(t("local.where.config"), config, cfg.org.Name, cfg.policy.ID)
	}
	return fmt.Sprintf(t("local.where"), db, key, config)
}
