// A real OpenID Provider for the integration tests (SPEC §9.1): node-oidc-provider on loopback,
// with dynamic registration (each test app registers its own callback URL) and a few accounts
// whose claims the access rules are tested against. Prints `ISSUER=<url>` once listening.
// Usage: node server.mjs [port]   (0 or absent: any free port)
import Provider from 'oidc-provider';

const accounts = {
  // Verified, in the company domain and group.
  alice: { email: 'alice@acme.com', email_verified: true, name: 'Alice Acme', hd: 'acme.com', groups: ['staff', 'mcp-users'] },
  // Verified, another domain, not in the group.
  bob: { email: 'bob@partner.org', email_verified: true, name: 'Bob Partner', groups: ['staff'] },
  // In the domain and group, but the email is not verified.
  carol: { email: 'carol@acme.com', email_verified: false, name: 'Carol Unverified', hd: 'acme.com', groups: ['mcp-users'] },
  // Verified, in the domain, not in the group.
  dave: { email: 'dave@acme.com', email_verified: true, name: 'Dave Acme', hd: 'acme.com', groups: ['staff'] },
  // Verified; a second account for the tests that need a user of their own.
  erin: { email: 'erin@acme.com', email_verified: true, name: 'Erin Acme', hd: 'acme.com', groups: ['mcp-users'] },
};

const port = Number(process.argv[2] || 0);
const host = '127.0.0.1';

const configuration = {
  // The subject is the login name: the accounts are fixed, their subjects stable across runs.
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'hd', 'groups'],
  },
  features: {
    registration: { enabled: true },
    devInteractions: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: ['gatehouse-test-upstream-cookie-key'] },
  // Short-lived everything: nothing here outlives a test run.
  ttl: { AccessToken: 600, AuthorizationCode: 120, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
};

const server = (await import('node:http')).createServer();
server.listen(port, host, () => {
  const issuer = `http://${host}:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  console.log(`ISSUER=${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
