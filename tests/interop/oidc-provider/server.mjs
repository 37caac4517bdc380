// panva's oidc-provider (OpenID Certified) as an OpenID Provider nobody here
// wrote, for tests/interop. Started and stopped by the tests (tests/interop/).
//
//   node server.mjs '<settings JSON>'
//
// Settings: {"client": {client_id, client_secret, redirect_uris,
// post_logout_redirect_uris, token_endpoint_auth_method}, "accounts": {"<login>":
// {"email", "name"}}}. It listens on a free loopback port, then prints one line
// of JSON: {"issuer": "http://127.0.0.1:<port>"}.
//
// The provider is configured as a careful deployment would be: PKCE required,
// refresh tokens rotated on every use, refresh tokens only for offline_access
// granted after prompt=consent (its default, OpenID Connect Core 11), profile
// claims in userinfo only (conformIdTokenClaims, OpenID Connect Core 5.4), the
// built-in login and consent pages (devInteractions: any login, any password),
// RP-Initiated Logout with its confirmation page, and revocation.
//
// Two routes beside the provider's, for the tests only:
//   POST /_interop/rotate-keys   a new signing key signs from now on (the old one
//                                stays published); grants and sessions are kept
//   GET  /_interop/requests      the token requests received: grant type, whether a
//                                scope was sent and which, the outcome; no token values

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';
// Its own in-memory adapter, made once: each Provider would otherwise make its
// own, and a key rotation (a new Provider) would forget every grant and session.
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

const settings = JSON.parse(process.argv[2] ?? '{}');
const accounts = settings.accounts ?? {};
const cookieKeys = [randomUUID(), randomUUID()];
const requests = [];
const adapter = createMemoryAdapter();
let keys = [newKey()];
let handler;

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

async function findAccount(ctx, id) {
  const person = accounts[id];
  if (!person) return undefined;
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        email: person.email,
        email_verified: true,
        name: person.name,
        preferred_username: id,
      };
    },
  };
}

function build(issuer) {
  const provider = new Provider(issuer, {
    adapter,
    clients: [{
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...settings.client,
    }],
    findAccount,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: true,
    // Its outgoing requests (back-channel logout tokens) refuse loopback addresses
    // against SSRF; the app under test listens on loopback, so this one lab allows it.
    fetch: (url, options) => fetch(url, { ...options, dispatcher: undefined }),
    cookies: { keys: cookieKeys },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    jwks: { keys },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    ttl: { AccessToken: 300, IdToken: 300, RefreshToken: 86400, Grant: 86400, Session: 86400 },
  });
  const record = (ctx, outcome, error) => {
    const params = ctx.oidc?.params ?? {};
    requests.push({
      grant_type: params.grant_type ?? null,
      scope_sent: params.scope !== undefined,
      scope: params.scope ?? null,
      outcome,
      error: error?.error ?? null,
      error_detail: error?.error_detail ?? null,
      refresh_token_id: ctx.oidc?.entities?.RefreshToken?.jti ?? null,
    });
  };
  provider.on('grant.success', (ctx) => record(ctx, 'success'));
  provider.on('grant.error', (ctx, error) => record(ctx, 'error', error));
  provider.on('backchannel.error', (ctx, error, client) => process.stderr.write(
    `back-channel logout to ${client.clientId} failed: ${error.message} (${error.cause})\n`));
  return provider.callback();
}

const server = http.createServer((req, res) => {
  if (req.url === '/_interop/rotate-keys' && req.method === 'POST') {
    // A real rotation: the new key first (it signs), the old one still published.
    keys = [newKey(), ...keys];
    handler = build(issuerOf(server));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: keys[0].kid, kids: keys.map((k) => k.kid) }));
    return;
  }
  if (req.url === '/_interop/requests' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(requests));
    return;
  }
  handler(req, res);
});

function issuerOf(listening) {
  return `http://127.0.0.1:${listening.address().port}`;
}

server.listen(0, '127.0.0.1', () => {
  handler = build(issuerOf(server));
  process.stdout.write(`${JSON.stringify({ issuer: issuerOf(server) })}\n`);
});

process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections(); // idle keep-alive connections would hold close() open
});
