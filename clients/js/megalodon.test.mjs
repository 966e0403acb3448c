// Roost driven by megalodon, the multi-server client library: it detects Roost as Mastodon,
// signs in through the authorization-code flow, and reads a timeline.
//
// Run by crates/roost/tests/it/clients.rs like masto.test.mjs.

import { test } from "node:test";
import assert from "node:assert/strict";
import generator, { detector } from "megalodon";
import { approve, consentForm, shownCode } from "./consent.mjs";

const URL_ = process.env.ROOST_URL;
const PASSWORD = process.env.ROOST_PASSWORD;

test("detects Roost, signs in and reads the home timeline", async () => {
  const sns = await detector(URL_);
  assert.equal(sns, "mastodon");

  const anon = generator(sns, URL_);
  const app = await anon.registerApp("megalodon tests", { scopes: ["read", "write"] });
  // Out of band: the page shows the code, which the person pastes into the app.
  const { fields } = await consentForm(app.url, "alice", PASSWORD);
  const page = await approve(URL_, fields);
  assert.equal(page.status, 200);
  const code = shownCode(await page.text());
  assert.ok(code, "the page shows the code");
  const token = await anon.fetchAccessToken(app.client_id, app.client_secret, code);

  const client = generator(sns, URL_, token.access_token);
  const me = await client.verifyAccountCredentials();
  assert.equal(me.data.username, "alice");
  const posted = await client.postStatus("hello from megalodon");
  const home = await client.getHomeTimeline({ limit: 5 });
  assert.equal(home.status, 200);
  assert.equal(home.data[0].id, posted.data.id);
  assert.equal(home.data[0].content, "<p>hello from megalodon</p>");
});
