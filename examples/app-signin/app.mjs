// An app with its own users, sign-in form and session, signing its users in to Gatehouse
// ("Use your app's own sign-in", README). Node.js 20, no dependencies:
//
//   GATEHOUSE_ISSUER=http://127.0.0.1:8080 GATEHOUSE_APP_API_KEY=… node examples/app-signin/app.mjs
//
// Gatehouse's side: [login.app] url = "http://127.0.0.1:3000/login", api_key = the same key.
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";

const issuer = process.env.GATEHOUSE_ISSUER ?? "http://127.0.0.1:8080";
const apiKey = process.env.GATEHOUSE_APP_API_KEY ?? "";
const port = Number(process.env.PORT ?? 3000);
// The app's own users (a real app has a database): its ids become the tokens' `sub`.
const users = {
  ann: { password: "ann-password", id: "42", email: "ann@example.com", name: "Ann" },
  bob: { password: "bob-password", id: "43", email: "bob@example.com", name: "Bob" },
};
const sessions = new Map(); // session cookie → username

// The login API: server to server, with the API key.
async function gatehouse(method, challenge, action = "", body = undefined) {
  const response = await fetch(`${issuer}/login/app/requests/${encodeURIComponent(challenge)}${action}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (res, status, html, headers = {}) => {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", ...headers });
  res.end(`<!doctype html><meta name="viewport" content="width=device-width"><title>Example app</title>${html}`);
};
const redirect = (res, location, headers = {}) => res.writeHead(303, { location, ...headers }).end();
const cookie = (req) => /(?:^|;\s*)app_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];

async function accept(res, challenge, username, headers = {}) {
  const user = users[username];
  const { status, json } = await gatehouse("POST", challenge, "/accept", {
    subject: user.id, email: user.email, email_verified: true, name: user.name,
  });
  if (status !== 200) return page(res, 400, `<p>Gatehouse said: ${escape(json.error)}</p>`);
  redirect(res, json.redirect_to, headers);
}

createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const form = req.method === "POST"
    ? new URLSearchParams(await new Promise((ok) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => ok(b)); }))
    : url.searchParams;
  const challenge = form.get("login_challenge") ?? "";
  if (url.pathname === "/login" && req.method === "GET") {
    const { status, json: request } = await gatehouse("GET", challenge);
    if (status !== 200) return page(res, 400, "<p>This sign-in request has expired. Start again.</p>");
    const signedIn = sessions.get(cookie(req));
    // Signed in here already, and no fresh sign-in asked for: say so to Gatehouse at once.
    if (signedIn && request.prompt !== "login") return accept(res, challenge, signedIn);
    return page(res, 200, `<h1>Sign in to the example app</h1><p>to continue to ${escape(request.purpose === 'admin' ? 'the operator dashboard' : request.client_name)}</p>
<form method="post" action="/login"><input type="hidden" name="login_challenge" value="${escape(challenge)}">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button>Sign in</button> <button name="cancel" value="1">Cancel</button></form>`);
  }
  if (url.pathname === "/login" && req.method === "POST") {
    if (form.get("cancel")) {
      const { json } = await gatehouse("POST", challenge, "/reject", { error_description: "You cancelled the sign-in." });
      return redirect(res, json.redirect_to);
    }
    const username = form.get("username") ?? "";
    if (users[username]?.password !== form.get("password")) return page(res, 401, "<p>Wrong username or password.</p>");
    const sid = randomBytes(24).toString("base64url");
    sessions.set(sid, username);
    return accept(res, challenge, username, { "set-cookie": `app_session=${sid}; HttpOnly; SameSite=Lax; Path=/` });
  }
  if (url.pathname === "/logout" && req.method === "POST") {
    sessions.delete(cookie(req));
    return page(res, 200, "<p>Signed out of the example app.</p>");
  }
  page(res, 404, "<p>Not found</p>");
}).listen(port, "127.0.0.1", () => console.log(`example app on http://127.0.0.1:${port}`));
