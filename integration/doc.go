// Package integration tests Mamori's layers together where no single
// layer may: the outbox worker (flows) with the real Slack sender
// (bot/slack) against the loopback fake of Slack's Web API
// (bot/slack/slacktest), on a real SQLite file (store/sqlite). It has no
// code of its own, and nothing imports it (deps_test.go).
//
// Tests that wait on wall-clock time are load tests, run only with -load:
//
//	go test ./integration -load
package integration
