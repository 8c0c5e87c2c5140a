package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mamori-oss/mamori/bot/slack"
)

const manifestUsage = "usage: mamori manifest slack -url https://your.host | mamori manifest slack -socket | mamori manifest teams -url https://your.host [-o FILE]"

// manifestCommand is `mamori manifest`: slack prints the Slack app
// manifest, teams writes the Teams app package.
func manifestCommand(args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "teams" {
		return manifestTeams(args[1:], stdout, getenv)
	}
	if len(args) == 0 || args[0] != "slack" {
		return errors.New(manifestUsage)
	}
	return manifestSlack(args[1:], stdout, getenv)
}

// manifestSlack prints the Slack app manifest. HTTP mode needs the
// public https URL of `mamori serve` (-url): without it, and without
// -socket, it refuses rather than print request URLs Slack could not
// reach. The slash command comes from MAMORI_CONFIG when it is set.
func manifestSlack(args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("manifest slack", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("url", "", "the public https base URL of `mamori serve` (HTTP mode)")
	socket := fs.Bool("socket", false, "Socket Mode: no public URL needed")
	name := fs.String("name", "Mamori", "the bot's display name")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", manifestUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected %q", manifestUsage, fs.Arg(0))
	}
	if *socket && *url != "" {
		return fmt.Errorf("%s: give -url or -socket, not both (Socket Mode has no request URLs)", manifestUsage)
	}
	command := "/kasuhara"
	if p := getenv("MAMORI_CONFIG"); p != "" {
		cfg, err := loadConfig(p)
		if err != nil {
			return err
		}
		command = cfg.command
	}
	out, err := slack.AppManifest(slack.ManifestOptions{Command: command, BotName: *name, URL: *url, Socket: *socket})
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, out)
	return err
}
