package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams"
)

// teamsOpts are the Teams settings from the environment, checked before
// anything is opened.
type teamsOpts struct {
	id, pw, tenant, meta, tokenURL string
	emulator                       bool
}

// enabled reports whether the Bot Connector is served with JWT
// authentication (MICROSOFT_APP_ID is set).
func (o teamsOpts) enabled() bool { return o.id != "" }

// teamsSettings reads and checks the Teams settings; its errors name the
// setting that is missing or wrong. With no app id, /api/messages is
// served only when MAMORI_TEAMS_EMULATOR=on, to a local emulator on
// loopback only: an unauthenticated route is never there by default
// (behind a TLS proxy on the same host every request comes from
// loopback).
func teamsSettings(getenv func(string) string, cfg *loaded) (teamsOpts, error) {
	o := teamsOpts{id: getenv("MICROSOFT_APP_ID"), pw: getenv("MICROSOFT_APP_PASSWORD"), tenant: getenv("MICROSOFT_APP_TENANT_ID"),
		meta: getenv("MAMORI_TEAMS_OPENID_METADATA_URL"), tokenURL: getenv("MAMORI_TEAMS_TOKEN_URL")}
	emulator := getenv("MAMORI_TEAMS_EMULATOR")
	o.emulator = emulator == "on"
	enabled := o.enabled()
	switch {
	case emulator != "" && emulator != "on":
		return o, fmt.Errorf("MAMORI_TEAMS_EMULATOR must be empty or on, not %q", emulator)
	case enabled && o.emulator:
		return o, errors.New("MAMORI_TEAMS_EMULATOR=on is for a local emulator without MICROSOFT_APP_ID: unset one of them")
	case !enabled && (o.pw != "" || o.tenant != ""):
		return o, errors.New("MICROSOFT_APP_ID is not set: it is needed with MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID (the Application (client) ID of the bot's app registration)")
	case enabled && !teams.IsObjectID(o.id):
		return o, fmt.Errorf("MICROSOFT_APP_ID %q is not a GUID such as 00000000-0000-0000-0000-000000000000: copy the Microsoft App ID from the Azure Bot's Configuration page", o.id)
	case enabled && o.pw == "":
		return o, errors.New("MICROSOFT_APP_PASSWORD is not set: the bot needs the client secret of its app registration with MICROSOFT_APP_ID")
	case enabled && o.tenant == "":
		return o, errors.New("MICROSOFT_APP_TENANT_ID is not set: bots created since 31 July 2025 are single-tenant and get their tokens from their own tenant (the Directory (tenant) ID of the app registration)")
	case enabled && cfg.embedded:
		return o, errors.New("MAMORI_CONFIG is not set: Teams needs your departments and channel ids (start from `mamori config > mamori.yaml`)")
	}
	for name, v := range map[string]string{"MAMORI_TEAMS_OPENID_METADATA_URL": o.meta, "MAMORI_TEAMS_TOKEN_URL": o.tokenURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return o, fmt.Errorf("%s must be an http(s) URL, not %q", name, v)
		}
	}
	return o, nil
}

// setupTeams connects Microsoft Teams with the settings o. With an app id
// it serves the Bot Connector on POST /api/messages with JWT
// authentication and sends with the single-tenant bot's tokens; enabled
// is then true. With the emulator, it serves /api/messages to a local
// emulator on loopback only and sends without a token.
func setupTeams(ctx context.Context, a *app, mux *http.ServeMux, o teamsOpts, getenv func(string) string, log *slog.Logger) (enabled bool, err error) {
	id, pw, tenant, meta, tokenURL := o.id, o.pw, o.tenant, o.meta, o.tokenURL
	enabled = o.enabled()
	if !enabled && !o.emulator {
		return false, nil // no Teams: /api/messages is not served
	}
	cfg := teams.Config{AppID: id, Password: pw, TenantID: tenant, OpenIDMetadataURL: meta, TokenURL: tokenURL,
		Command: a.cfg.command, Clock: a.clock, Log: log, Policy: a.cfg.policy}
	adapter, err := teams.New(cfg, a.service, teams.StoreRefs(a.db, a.clock))
	if err != nil {
		return false, err
	}
	go func() {
		<-ctx.Done()
		adapter.Close()
	}()
	mux.Handle("POST "+teams.Path, adapter)
	a.worker.Senders[mamori.PlatformTeams] = adapter.Sender()
	if !enabled {
		log.Warn("teams: MAMORI_TEAMS_EMULATOR=on: " + teams.Path + " takes unauthenticated activities from a local emulator on loopback only; never set it where a proxy on this host forwards outside requests")
		return false, nil
	}
	if getenv("SLACK_BOT_TOKEN") == "" && getenv("SLACK_APP_TOKEN") == "" && getenv("SLACK_SIGNING_SECRET") == "" {
		// Teams alone: people who never wrote (training) are reached there.
		a.service.Platform = mamori.PlatformTeams
	}
	log.Info("teams: serving the Bot Connector", "path", teams.Path, "app_id", id, "tenant", tenant)
	return true, nil
}

// semver is the version a Teams app package takes: major.minor.patch.
var semver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// manifestTeams writes the Teams app package: manifest.json with the bot
// (personal and team scopes, the command list) in Japanese, its English
// localization file and both icons, zipped to upload in Teams (Apps →
// Manage your apps → Upload an app). -url is the public https URL of
// `mamori serve`, whose /privacy and /terms the package names; the
// developer is the organisation of MAMORI_CONFIG when it is set.
func manifestTeams(args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("manifest teams", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("o", "mamori-teams.zip", "where to write the app package (- for standard output)")
	site := fs.String("url", "", "the public https URL of mamori serve (its /privacy and /terms are named in the package)")
	name := fs.String("name", "Mamori", "the app's short name")
	version := fs.String("version", "1.0.0", "the package version (raise it for each upload)")
	const usage = "usage: MICROSOFT_APP_ID=… mamori manifest teams -url https://your.host [-o mamori-teams.zip] [-name Mamori] [-version 1.0.0]"
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", usage, err)
	}
	if !semver.MatchString(*version) {
		return fmt.Errorf("%s: -version %q: Teams wants three numbers, such as 1.0.0 (raise it for each upload)", usage, *version)
	}
	id := getenv("MICROSOFT_APP_ID")
	if id == "" {
		return errors.New("MICROSOFT_APP_ID is not set: the Teams app package names the bot by its app id")
	}
	if *site == "" {
		return fmt.Errorf("%s: -url is missing: the package names the privacy notice and terms of use that mamori serve has at URL/privacy and URL/terms", usage)
	}
	developer := ""
	if p := getenv("MAMORI_CONFIG"); p != "" {
		cfg, err := loadConfig(p)
		if err != nil {
			return err
		}
		developer = cfg.org.Name
	}
	opts := teams.ManifestOptions{AppID: id, Name: *name, URL: *site, Developer: developer, Version: *version}
	// Check before a file is made: a bad app id leaves no empty zip.
	if _, err := teams.Manifest(opts); err != nil {
		return fmt.Errorf("manifest teams (MICROSOFT_APP_ID %s, -url %s): %w", id, *site, err)
	}
	if *out == "-" {
		return teams.Package(stdout, opts)
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("manifest teams: %w", err)
	}
	if err := teams.Package(f, opts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: upload it in Teams (Apps → Manage your apps → Upload an app), then add Mamori to the teams whose channels are in your configuration\n", *out)
	return nil
}
