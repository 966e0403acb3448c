// A browser-based Mastodon client (as Elk or Phanpy are) on an origin of its own: a page served
// from another port, in Debian's Chromium, registers an app, signs in, reads timelines with
// their Link headers, and listens to the streaming API over server-sent events and WebSocket.
// The web app's own pages stay closed to other origins.
//
// Run by crates/roost/tests/it/clients.rs against a fresh `roost serve`, with ROOST_URL and
// ROOST_PASSWORD set and alice and bob created.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const ROOST = process.env.ROOST_URL;
const PASSWORD = process.env.ROOST_PASSWORD;
const CHROMIUM = process.env.ROOST_CHROMIUM ?? "/usr/bin/chromium";

let browser;
let site;
let origin;

before(async () => {
  // The client app's own origin: a plain page on another port.
  site = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>A Mastodon client</title><h1>client</h1>");
  });
  await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${site.address().port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  site?.close();
});

/** Posts as bob, from outside the browser (no CORS involved). */
async function bobPosts(text) {
  const apps = await fetch(`${ROOST}/api/v1/apps`, {
    method: "POST",
    body: new URLSearchParams({ client_name: "bob", redirect_uris: "urn:ietf:wg:oauth:2.0:oob", scopes: "read write" }),
  }).then((r) => r.json());
  const token = await fetch(`${ROOST}/oauth/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "password", client_id: apps.client_id, client_secret: apps.client_secret,
      username: "bob", password: PASSWORD, scope: "read write",
    }),
  }).then((r) => r.json());
  const r = await fetch(`${ROOST}/api/v1/statuses`, {
    method: "POST",
    headers: { authorization: `Bearer ${token.access_token}` },
    body: new URLSearchParams({ status: text }),
  });
  assert.equal(r.status, 200);
}

test("a client on another origin signs in, reads and streams", async () => {
  const page = await browser.newPage();
  await page.goto(origin);
  assert.notEqual(new URL(page.url()).origin, new URL(ROOST).origin, "a different origin");

  const signedIn = await page.evaluate(async ({ ROOST, PASSWORD }) => {
    const form = (o) => new URLSearchParams(o);
    const app = await fetch(`${ROOST}/api/v1/apps`, {
      method: "POST",
      body: form({ client_name: "browser app", redirect_uris: location.origin + "/callback", scopes: "read write follow" }),
    }).then((r) => r.json());
    const token = await fetch(`${ROOST}/oauth/token`, {
      method: "POST",
      body: form({
        grant_type: "password", client_id: app.client_id, client_secret: app.client_secret,
        username: "alice", password: PASSWORD, scope: "read write follow",
      }),
    }).then((r) => r.json());
    const auth = { authorization: `Bearer ${token.access_token}`, "idempotency-key": "one" };
    const me = await fetch(`${ROOST}/api/v1/accounts/verify_credentials`, { headers: auth });
    const posted = await fetch(`${ROOST}/api/v1/statuses`, { method: "POST", headers: auth, body: form({ status: "from a browser app" }) });
    const home = await fetch(`${ROOST}/api/v1/timelines/home?limit=1`, { headers: auth });
    const refused = await fetch(`${ROOST}/api/v1/timelines/home`);
    return {
      token: token.access_token,
      username: (await me.json()).username,
      remaining: me.headers.get("x-ratelimit-remaining"),
      posted: posted.status,
      index: posted.headers.get("x-roost-index"),
      link: home.headers.get("link"),
      home: (await home.json()).map((s) => s.content),
      refused: refused.status,
    };
  }, { ROOST, PASSWORD });
  assert.equal(signedIn.username, "alice");
  assert.ok(Number(signedIn.remaining) > 0, "rate-limit headers are exposed");
  assert.equal(signedIn.posted, 200);
  assert.ok(signedIn.index, "X-Roost-Index is exposed");
  assert.match(signedIn.link ?? "", /rel="next"/, "Link headers are exposed for paging");
  assert.deepEqual(signedIn.home, ["<p>from a browser app</p>"]);
  assert.equal(signedIn.refused, 401, "a refusal is readable too");

  // Live streams: server-sent events and WebSocket, from the other origin.
  await page.evaluate(({ ROOST, token }) => {
    window.heard = { sse: [], ws: [] };
    const sse = new EventSource(`${ROOST}/api/v1/streaming/user?access_token=${token}`);
    sse.addEventListener("notification", (e) => window.heard.sse.push(JSON.parse(e.data).type));
    const ws = new WebSocket(`${ROOST.replace("http", "ws")}/api/v1/streaming?access_token=${token}&stream=user`);
    ws.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.event === "notification") window.heard.ws.push(JSON.parse(e.payload).type);
    };
    return Promise.all([
      new Promise((ok) => sse.addEventListener("open", ok)),
      new Promise((ok) => ws.addEventListener("open", ok)),
    ]);
  }, { ROOST, token: signedIn.token });
  await bobPosts("hello @alice");
  await page.waitForFunction(() => window.heard.sse.length > 0 && window.heard.ws.length > 0, null, { timeout: 20000 });
  const heard = await page.evaluate(() => window.heard);
  assert.deepEqual(heard, { sse: ["mention"], ws: ["mention"] });

  // The web app is not open to other origins: its pages cannot be read from here.
  const webApp = await page.evaluate(async (ROOST) => {
    try {
      await fetch(`${ROOST}/auth/sign_in`);
      return "readable";
    } catch {
      return "blocked";
    }
  }, ROOST);
  assert.equal(webApp, "blocked");
  await page.close();
});
