// The peer of ./scripts/bench (SPEC §13): node-oidc-provider 9, in memory, minimal
// configuration — dynamic registration on, PKCE, refresh-token rotation, and interactions that
// sign a browser in once and ask for consent each time (the load generator sends
// prompt=consent). No database: the default in-memory adapter.
//   node server.js PORT
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3000);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    revocation: { enabled: false },
  },
  scopes: ['openid', 'offline_access'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  cookies: { keys: ['bench-only-cookie-key-not-a-secret'] },
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

// The same markers as Gatehouse's pages: hidden inputs `name="…" value="…"`.
function page(res, uid, step) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><form method="post" action="/interaction/${uid}/${step}">`
    + `<input type="hidden" name="request_id" value="${uid}"><input type="hidden" name="csrf_token" value="-">`
    + (step === 'login' ? '<input name="email"><input name="password" type="password">' : '')
    + '<button>Continue</button></form>');
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') return page(res, uid, details.prompt.name === 'login' ? 'login' : 'confirm');
  const form = await readForm(req);
  if (action === 'login') {
    const accountId = form.get('email') || 'bench';
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }
  const { prompt: { details: missing }, params, session: { accountId } } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scope] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scope.join(' '));
    }
  }
  const grantId = await grant.save();
  const consent = details.grantId ? {} : { grantId };
  return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
http.createServer((req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/(login|confirm))?/.exec(req.url);
  if (!match) return callback(req, res);
  interaction(req, res, match[1], match[2]).catch((error) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(error));
  });
}).listen(port, '127.0.0.1', () => console.log(`peer listening on ${issuer}`));
