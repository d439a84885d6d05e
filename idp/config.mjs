// oidc-provider configuration of the development identity provider.
import { findAccount } from './accounts.mjs';
import { errorPage, logoutPage, signedOutPage } from './views.mjs';

export function settingsFromEnv(env = process.env) {
  const port = Number(env.IDP_PORT || 9000);
  // The dev portal (8000) and test portals (8001-8019: a suite's portal and its
  // second, restarted or differently configured ones, several suites side by side).
  const testPorts = Array.from({ length: 19 }, (_, i) => `http://127.0.0.1:${8001 + i}`);
  const origins = (env.IDP_PORTAL_ORIGINS || ['http://127.0.0.1:8000', 'http://localhost:8000', ...testPorts].join(','))
    .split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
  return {
    port,
    issuer: env.IDP_ISSUER || `http://127.0.0.1:${port}`,
    clientSecret: env.IDP_CLIENT_SECRET || 'onestop-dev-secret',
    origins,
  };
}

export function buildConfiguration({ clientSecret, origins, jwks, cookieKeys }) {
  return {
    clients: [{
      client_id: 'onestop',
      client_secret: clientSecret,
      client_name: 'Onestop',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      // Every ID token says when the password was last typed; admin pages need it recent.
      require_auth_time: true,
      redirect_uris: origins.map((o) => `${o}/auth/callback`),
      post_logout_redirect_uris: origins.flatMap((o) => [`${o}/`, `${o}/signed-out`]),
    }],
    jwks,
    findAccount,

    responseTypes: ['code'],
    pkce: { required: () => true }, // every authorization request must carry an S256 code_challenge (S256 is the only method v9 supports)
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: {
      acr: null, sid: null, auth_time: null, iss: null,
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // By default oidc-provider leaves scope claims out of the ID token when an access token
    // is issued too (they are only in userinfo). The portal reads them from the ID token.
    conformIdTokenClaims: false,

    // Plain http on 127.0.0.1 for development: cookies must not be marked Secure (the browser
    // would drop them over http). oidc-provider still upgrades them to Secure when a request
    // arrives over https. Run with NODE_ENV unset (not "production").
    cookies: {
      keys: cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', secure: false },
      short: { httpOnly: true, sameSite: 'lax', secure: false },
    },

    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false }, // our own pages live in server.mjs
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = signedOutPage();
        },
      },
    },

    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = errorPage('Sign-in error', `${out.error}${out.error_description ? `: ${out.error_description}` : ''}`);
    },

    ttl: {
      AuthorizationCode: 60,
      AccessToken: 3600,
      IdToken: 3600,
      Interaction: 3600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
  };
}
