// Roost driven by masto.js, the client library of Elk and Phanpy, as an app would use it.
//
// Run by crates/roost/tests/it/clients.rs against a fresh `roost serve`, with ROOST_URL and
// ROOST_PASSWORD set and the accounts alice, bob, carol, dave and erin created. Needs a global WebSocket:
// Node 22, or Node 20 with --experimental-websocket.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient } from "masto";
import { approve, consentForm } from "./consent.mjs";
import { png } from "./png.mjs";

// masto 8 targets Node 22; this machine has Node 20, which lacks one ES2024 built-in it calls.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const URL_ = process.env.ROOST_URL;
const PASSWORD = process.env.ROOST_PASSWORD;
const CALLBACK = "http://127.0.0.1:9/callback";
// How long a test waits for an event it expects (a bound, not a performance claim).
const EVENT_WAIT_MS = 20_000;

let app;
const users = {};

async function signIn(username) {
  const oauth = createOAuthAPIClient({ url: URL_ });
  const token = await oauth.token.create({
    grantType: "password",
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    redirectUri: CALLBACK,
    username,
    password: PASSWORD,
    scope: "read write follow",
  });
  return { token: token.accessToken, rest: createRestAPIClient({ url: URL_, accessToken: token.accessToken }) };
}

before(async () => {
  const anon = createRestAPIClient({ url: URL_ });
  app = await anon.v1.apps.create({ clientName: "masto.js tests", redirectUris: CALLBACK, scopes: "read write follow" });
  for (const name of ["alice", "bob", "carol"]) {
    users[name] = await signIn(name);
    users[name].id = (await users[name].rest.v1.accounts.verifyCredentials()).id;
  }
});

/** Reads a subscription in the background, so that tests can wait for events with a bound. */
class Reader {
  constructor(subscription) {
    this.events = [];
    this.waiters = [];
    this.ended = false;
    (async () => {
      for await (const e of subscription) {
        this.events.push(e);
        this.waiters.splice(0).forEach((w) => w());
      }
    })().finally(() => {
      this.ended = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  /** The next event satisfying `pred` (earlier ones are dropped), or null after `ms`. */
  async next(pred, ms = EVENT_WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.events.length > 0) {
        const e = this.events.shift();
        if (pred(e)) return e;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) return null;
      await new Promise((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }

  async expect(pred) {
    const e = await this.next(pred);
    assert.ok(e, "no matching event arrived");
    return e;
  }
}

/** Runs `ping` until the reader sees the post it made (bounded). */
async function untilHeard(reader, ping) {
  const deadline = Date.now() + EVENT_WAIT_MS;
  while (Date.now() < deadline) {
    const posted = await ping();
    if (await reader.next((e) => e.event === "update" && e.payload.id === posted.id, 500)) return;
  }
  throw new Error("the stream never heard a ping");
}

test("detects the instance and reads it", async () => {
  const { rest } = users.alice;
  const v2 = await rest.v2.instance.fetch();
  assert.equal(v2.apiVersions.mastodon, 1);
  assert.match(v2.configuration.urls.streaming, /^ws:\/\//);
  const v1 = await rest.v1.instance.fetch();
  assert.match(v1.version, /compatible; Roost/);
});

test("attaches pictures with alt text, and sets an avatar", async () => {
  const { alice, bob } = users;
  const media = await alice.rest.v2.media.create({ file: new Blob([png(240, 160)], { type: "image/png" }), description: "Green", focus: "0.0,0.5" });
  assert.equal(media.type, "image");
  assert.ok(media.url, "polled until processed");
  assert.equal(media.meta.original.width, 240);
  const described = await alice.rest.v1.media.$select(media.id).update({ description: "A green square" });
  assert.equal(described.description, "A green square");
  const post = await alice.rest.v1.statuses.create({ status: "masto.js picture", mediaIds: [media.id] });
  assert.equal(post.mediaAttachments[0].description, "A green square");
  const seen = await bob.rest.v1.statuses.$select(post.id).fetch();
  const file = await fetch(seen.mediaAttachments[0].previewUrl);
  assert.equal(file.status, 200);
  assert.match(file.headers.get("content-type"), /^image\//);

  const before = await bob.rest.v1.accounts.verifyCredentials();
  const me = await bob.rest.v1.accounts.updateCredentials({
    avatar: new Blob([png(500, 500, [200, 30, 30])], { type: "image/png" }),
  });
  assert.notEqual(me.avatar, before.avatar);
  assert.equal((await fetch(me.avatar)).status, 200);
  assert.equal((await alice.rest.v1.accounts.$select(bob.id).fetch()).avatar, me.avatar);
  const back = await bob.rest.v1.profile.avatar.remove();
  assert.equal(back.avatar, before.avatar);
});

test("posts, replies, interacts and reads threads", async () => {
  const { alice, bob } = users;
  const post = await alice.rest.v1.statuses.create({ status: "Hello from masto.js #MastoJs", visibility: "public" });
  assert.deepEqual(post.tags.map((t) => t.name), ["mastojs"]);
  const reply = await bob.rest.v1.statuses.create({ status: "a reply", inReplyToId: post.id });
  const context = await alice.rest.v1.statuses.$select(post.id).context.fetch();
  assert.deepEqual(context.descendants.map((s) => s.id), [reply.id]);
  const fav = await bob.rest.v1.statuses.$select(post.id).favourite();
  assert.equal(fav.favourited, true);
  const boost = await bob.rest.v1.statuses.$select(post.id).reblog();
  assert.equal(boost.reblog.id, post.id);
  const bookmarked = await bob.rest.v1.statuses.$select(post.id).bookmark();
  assert.equal(bookmarked.bookmarked, true);
  const counted = await alice.rest.v1.statuses.$select(post.id).fetch();
  assert.deepEqual([counted.favouritesCount, counted.reblogsCount, counted.repliesCount], [1, 1, 1]);
  await bob.rest.v1.statuses.$select(reply.id).remove();
  await assert.rejects(alice.rest.v1.statuses.$select(reply.id).fetch(), (e) => e.statusCode === 404);
});

test("follows, and pages through timelines with Link headers", async () => {
  const { alice, carol } = users;
  const rel = await alice.rest.v1.accounts.$select(carol.id).follow();
  assert.equal(rel.following, true);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await carol.rest.v1.statuses.create({ status: `page ${i} #mastopages` })).id);
  const seen = [];
  for await (const page of alice.rest.v1.timelines.tag.$select("mastopages").list({ limit: 2 })) {
    seen.push(...page.map((s) => s.id));
  }
  assert.deepEqual(seen, [...ids].reverse());
  const home = await alice.rest.v1.timelines.home.list({ limit: 40 });
  assert.ok(home.some((s) => s.id === ids[4]));
  const notifications = await carol.rest.v1.notifications.list({ types: ["follow"] });
  assert.ok(notifications.some((n) => n.account.id === alice.id));
});

test("streams over a WebSocket, with the token as the subprotocol", async () => {
  const { alice, bob } = users;
  await bob.rest.v1.accounts.$select(alice.id).follow();
  const streaming = createStreamingAPIClient({
    streamingApiUrl: (await bob.rest.v2.instance.fetch()).configuration.urls.streaming,
    accessToken: bob.token,
    retry: false,
    log: process.env.MASTO_LOG ?? "error",
  });
  try {
    const user = new Reader(streaming.user.subscribe());
    const tag = new Reader(streaming.hashtag.subscribe({ tag: "LiveTag" }));
    // masto connects and subscribes in the background and the protocol has no acknowledgement:
    // post until one arrives on each stream, after which every later event must arrive.
    await untilHeard(user, () => bob.rest.v1.statuses.create({ status: "ping", visibility: "private" }));
    await untilHeard(tag, () => bob.rest.v1.statuses.create({ status: "ping #LiveTag" }));

    const post = await alice.rest.v1.statuses.create({ status: "live #LiveTag" });
    const byAlice = (e) => e.event === "update" && e.payload.account.username === "alice";
    assert.equal((await user.expect(byAlice)).payload.id, post.id);
    const tagged = await tag.expect(byAlice);
    assert.deepEqual(tagged.stream, ["hashtag", "LiveTag"]);
    assert.equal(tagged.payload.id, post.id);

    const mine = await bob.rest.v1.statuses.create({ status: "fav me" });
    await alice.rest.v1.statuses.$select(mine.id).favourite();
    const note = await user.expect((e) => e.event === "notification");
    assert.equal(note.payload.type, "favourite");
    assert.equal(note.payload.status.id, mine.id);

    await alice.rest.v1.statuses.$select(post.id).remove();
    assert.equal((await user.expect((e) => e.event === "delete")).payload, post.id);
    assert.equal((await tag.expect((e) => e.event === "delete")).payload, post.id);
  } finally {
    streaming.close();
  }
});

test("signs in with the authorization code flow and PKCE through the consent page", async () => {
  const anon = createRestAPIClient({ url: URL_ });
  // A public client: it keeps no secret, so PKCE is what binds the code to it.
  const client = await anon.v1.apps.create({ clientName: "masto.js PKCE", redirectUris: CALLBACK, scopes: "read write" });
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const state = randomBytes(8).toString("hex");
  const authorize = new URL("/oauth/authorize", URL_);
  authorize.search = new URLSearchParams({
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: CALLBACK,
    scope: "read",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();

  // What a person does: open the page, sign in, press Authorize.
  const { html, fields } = await consentForm(authorize, "alice", PASSWORD);
  assert.match(html, /masto\.js PKCE/);
  const answer = await approve(URL_, fields);
  assert.equal(answer.status, 302);
  const back = new URL(answer.headers.get("location"));
  assert.equal(`${back.origin}${back.pathname}`, CALLBACK);
  assert.equal(back.searchParams.get("state"), state);
  const code = back.searchParams.get("code");
  assert.ok(code);

  const oauth = createOAuthAPIClient({ url: URL_ });
  await assert.rejects(
    oauth.token.create({ grantType: "authorization_code", clientId: client.clientId, redirectUri: CALLBACK, code, codeVerifier: "wrong".repeat(10) }),
    "a wrong verifier is refused",
  );
  // The failed attempt consumed the code: start again for the real exchange.
  const again = await approve(URL_, fields);
  const code2 = new URL(again.headers.get("location")).searchParams.get("code");
  const token = await oauth.token.create({ grantType: "authorization_code", clientId: client.clientId, redirectUri: CALLBACK, code: code2, codeVerifier: verifier });
  assert.equal(token.scope, "read");
  const rest = createRestAPIClient({ url: URL_, accessToken: token.accessToken });
  assert.equal((await rest.v1.accounts.verifyCredentials()).username, "alice");
  await assert.rejects(rest.v1.statuses.create({ status: "read-only" }), (e) => e.statusCode === 403);
});
