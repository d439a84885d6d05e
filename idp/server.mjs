// Development stand-in for the campus OpenID Connect identity provider.
// A real oidc-provider instance; our own sign-in page in front of provider.callback().
// Configuration: IDP_PORT, IDP_ISSUER, IDP_STATE_DIR, IDP_CLIENT_SECRET,
// IDP_PORTAL_ORIGINS, IDP_DEMO_PASSWORD (see config.mjs / genkeys.mjs / accounts.mjs).
import http from 'node:http';
import Provider from 'oidc-provider';

import { authenticate, demoUsernames, usernameOf } from './accounts.mjs';
import { buildConfiguration, settingsFromEnv } from './config.mjs';
import { ensureKeys } from './genkeys.mjs';
import { errorPage, loginPage } from './views.mjs';

const GRANTED_SCOPES = 'openid profile email groups'; // first-party client: consent is implicit

const log = (msg) => console.log(`${new Date().toISOString()} ${msg}`);
const q = (s) => JSON.stringify(String(s ?? '')); // quote user input in log lines

const settings = settingsFromEnv();
const { jwks, cookieKeys, created } = ensureKeys();
if (created.length) log(`generated ${created.join(', ')}`);

const provider = new Provider(settings.issuer, buildConfiguration({ ...settings, jwks, cookieKeys }));
provider.proxy = false;
provider.on('server_error', (ctx, err) => log(`server_error ${err.message}`));
provider.on('authorization.error', (ctx, err) => log(`authorization.error ${err.message} ${err.error_description ?? ''}`));
provider.on('grant.error', (ctx, err) => log(`grant.error ${err.message} ${err.error_description ?? ''}`));
provider.on('end_session.success', (ctx) => log(`logout ok client=${ctx.oidc.client?.clientId ?? '-'}`));

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16384) throw new Error('request body too large');
  }
  return new URLSearchParams(body);
}

async function clientName(clientId) {
  const client = await provider.Client.find(clientId);
  return client?.clientName || clientId;
}

/** Grants the requested OIDC scopes/claims to the client without asking, returns the grant id. */
async function autoGrant(details, accountId) {
  const { params, prompt } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(GRANTED_SCOPES);
  const missing = prompt.details || {};
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new provider.constructor.errors.SessionNotFound('interaction mismatch');
  const { prompt, params } = details;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      return send(res, 200, loginPage({ uid, clientName: await clientName(params.client_id), demoUsernames }));
    }
    if (prompt.name === 'consent') {
      const grantId = await autoGrant(details, details.session.accountId);
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
  }

  if (req.method === 'POST' && action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    const username = (form.get('username') || '').trim();
    const accountId = authenticate(username, form.get('password') || '');
    if (!accountId) {
      log(`login failed user=${q(username)} client=${params.client_id}`);
      return send(res, 200, loginPage({
        uid, username, demoUsernames,
        clientName: await clientName(params.client_id),
        error: 'Unknown username or wrong password.',
      }));
    }
    log(`login ok user=${usernameOf(accountId)} sub=${accountId} client=${params.client_id}`);
    // Login and (implicit) consent in one step; the consent branch above covers later prompts.
    const grantId = await autoGrant({ ...details, prompt: { details: {} } }, accountId);
    return provider.interactionFinished(req, res, {
      login: { accountId },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
  }

  return send(res, 400, errorPage('Sign-in error', 'This sign-in step is not available. Go back to the portal and try again.'));
}

const callback = provider.callback();
const INTERACTION = /^\/interaction\/([\w-]+)(?:\/(login))?\/?$/;

const server = http.createServer(async (req, res) => {
  const m = INTERACTION.exec(new URL(req.url, 'http://x').pathname);
  if (!m) return callback(req, res);
  try {
    await interaction(req, res, m[1], m[2]);
  } catch (err) {
    if (res.headersSent) return void res.end();
    if (err.name === 'SessionNotFound') {
      send(res, 400, errorPage('Sign-in expired', 'Your sign-in request has expired or is unknown. Go back to the portal and sign in again.'));
    } else {
      log(`interaction error ${err.message}`);
      send(res, 500, errorPage('Sign-in error', 'Something went wrong. Go back to the portal and try again.'));
    }
  }
});

server.on('error', (err) => {
  log(`idp cannot listen on 127.0.0.1:${settings.port}: ${err.message}`);
  process.exit(1);
});
server.listen(settings.port, '127.0.0.1', () => {
  log(`idp listening on 127.0.0.1:${settings.port} issuer=${settings.issuer} clients=onestop redirect_uris=${settings.origins.map((o) => `${o}/auth/callback`).join(',')}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log(`idp stopping (${sig})`);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
