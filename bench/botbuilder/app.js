// The Teams peer of `mamori serve` in bench/peer.sh (PEER=botbuilder): the
// least a Bot Framework SDK for JavaScript bot does to answer what
// `mamori bench -mix teams` sends — message activities with a Bearer JWT —
// with each activity's token validated as in production (signature against
// the OpenID metadata's keys, issuer, audience = the app id, expiry, the
// channel's endorsement, the serviceUrl claim) by CloudAdapter and
// ConfigurationBotFrameworkAuthentication, then a 200 and no reply.
//
// Every Bot Framework URL points at the bench's fakes on loopback
// (OPENID_METADATA_URL, LOGIN_URL), so it never contacts Microsoft; and a
// name lookup of anything but localhost fails here.
//
//   PORT=8082 MICROSOFT_APP_ID=… MICROSOFT_APP_PASSWORD=x MICROSOFT_APP_TENANT_ID=… \
//   OPENID_METADATA_URL=http://127.0.0.1:8090/v1/.well-known/openidconfiguration \
//   LOGIN_URL=http://127.0.0.1:8090 node app.js
'use strict';

const dns = require('dns');
const http = require('http');
const net = require('net');

// No name but localhost resolves (addresses pass as they are, and all the
// URLs below are loopback ones): nothing leaves the machine.
const realLookup = dns.lookup;
dns.lookup = function (hostname, ...rest) {
  if (hostname !== 'localhost' && !net.isIP(hostname)) {
    const cb = rest[rest.length - 1];
    const err = Object.assign(new Error(`bench: refusing to resolve ${hostname}`), { code: 'ENOTFOUND' });
    return process.nextTick(cb, err);
  }
  return realLookup.call(this, hostname, ...rest);
};

const {
  ActivityHandler,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
} = require('botbuilder');

const host = '127.0.0.1';
const port = Number(process.env.PORT || 8082);
for (const v of ['MICROSOFT_APP_ID', 'MICROSOFT_APP_PASSWORD', 'MICROSOFT_APP_TENANT_ID', 'OPENID_METADATA_URL', 'LOGIN_URL']) {
  if (!process.env[v]) {
    console.error(`${v} is not set`);
    process.exit(2);
  }
}

const auth = new ConfigurationBotFrameworkAuthentication({
  MicrosoftAppId: process.env.MICROSOFT_APP_ID,
  MicrosoftAppPassword: process.env.MICROSOFT_APP_PASSWORD,
  MicrosoftAppType: 'SingleTenant',
  MicrosoftAppTenantId: process.env.MICROSOFT_APP_TENANT_ID,
  // The public cloud's values, but for the URLs, which are the fakes'.
  ValidateAuthority: true,
  ToBotFromChannelTokenIssuer: 'https://api.botframework.com',
  ToChannelFromBotOAuthScope: 'https://api.botframework.com',
  CallerId: 'urn:botframework:azure',
  ToBotFromChannelOpenIdMetadataUrl: process.env.OPENID_METADATA_URL,
  ToBotFromEmulatorOpenIdMetadataUrl: process.env.OPENID_METADATA_URL,
  ToChannelFromBotLoginUrl: `${process.env.LOGIN_URL}/${process.env.MICROSOFT_APP_TENANT_ID}`,
  OAuthUrl: process.env.LOGIN_URL,
});
const adapter = new CloudAdapter(auth);
adapter.onTurnError = async (context, err) => {
  console.error('turn error:', err && err.message ? err.message : err);
};

// The bot: a message is received and nothing is sent.
class Bot extends ActivityHandler {
  constructor() {
    super();
    this.onMessage(async (context, next) => {
      await next();
    });
  }
}
const bot = new Bot();

// Node's http with the little of Express's request and response that
// CloudAdapter.process uses: a parsed body, status, header, send, end.
function shim(res) {
  res.status = (code) => {
    res.statusCode = code;
    return res;
  };
  res.header = (name, value) => {
    res.setHeader(name, value);
    return res;
  };
  res.send = (body) => {
    if (typeof body === 'object' && !Buffer.isBuffer(body)) {
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      body = JSON.stringify(body);
    }
    res.write(body);
    return res;
  };
  return res;
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end('ok\n');
  }
  if (req.url !== '/api/messages') {
    res.writeHead(404);
    return res.end();
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      req.body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400);
      return res.end();
    }
    adapter.process(req, shim(res), (context) => bot.run(context)).catch((err) => {
      console.error('process:', err && err.message ? err.message : err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
});
server.keepAliveTimeout = 65000;
server.listen(port, host, () => {
  console.log(`botbuilder ${require('botbuilder/package.json').version} on http://${host}:${port} (node ${process.version}, pid ${process.pid})`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
