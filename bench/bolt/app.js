// The peer of `mamori serve` in bench/peer.sh: the least a Bolt for
// JavaScript app does to answer what `mamori bench -mix slack` sends —
// signed slash commands (/kasuhara), block_actions clicks and DM message
// events — each acknowledged at once, with no Web API call. Bolt checks
// every request's signature (SLACK_SIGNING_SECRET) and timestamp, parses
// it and runs its middleware, as it does in production.
//
// It never contacts Slack: the token is a fake one whose bot ids are given,
// with tokenVerificationEnabled: false, so Bolt skips auth.test at start and
// on requests; and its Web API client points at a closed loopback port, so a
// call made by mistake fails here instead of leaving the machine.
//
//   SLACK_SIGNING_SECRET=bench-secret PORT=8081 node app.js
'use strict';

const { App, LogLevel } = require('@slack/bolt');

const host = '127.0.0.1';
const port = Number(process.env.PORT || 8081);
const signingSecret = process.env.SLACK_SIGNING_SECRET;
if (!signingSecret) {
  console.error('SLACK_SIGNING_SECRET is not set');
  process.exit(2);
}

const app = new App({
  signingSecret,
  // The paths `mamori bench` posts to, all served by Bolt's default
  // HTTPReceiver.
  endpoints: ['/slack/events', '/slack/commands', '/slack/interactivity'],
  token: 'xoxb-bench',
  botId: 'BBENCHBOT',
  botUserId: 'UBENCHBOT',
  tokenVerificationEnabled: false,
  clientOptions: { slackApiUrl: 'http://127.0.0.1:9/api/' },
  logLevel: LogLevel.ERROR,
  customRoutes: [
    {
      path: '/healthz',
      method: ['GET'],
      handler: (req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok\n');
      },
    },
  ],
});

// Slash command: acknowledge with an empty 200.
app.command('/kasuhara', async ({ ack }) => {
  await ack();
});

// Any block_actions click.
app.action({ type: 'block_actions' }, async ({ ack }) => {
  await ack();
});

// Message events: Bolt acknowledges events itself before the listener runs.
app.message(async () => {});

app.error(async (err) => {
  console.error('bolt error:', err && err.message ? err.message : err);
});

(async () => {
  await app.start({ port, host });
  console.log(`bolt ${require('@slack/bolt/package.json').version} on http://${host}:${port} (node ${process.version}, pid ${process.pid})`);
})();

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    app.stop().finally(() => process.exit(0));
  });
}
