// The web app in a real browser: Debian's Chromium driven by playwright-core, with and without
// JavaScript, checked by axe-core in light and dark, with screenshots at phone and desktop widths.
//
// Run by crates/roost/tests/it/clients.rs against a fresh `roost serve`, with ROOST_URL,
// ROOST_PASSWORD, ROOST_ARTIFACTS (where screenshots go) and ROOST_INVITE (a link from
// `roost admin invite --max-uses 2`) set, and alice (the owner), bob, carol, dave and erin created.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { png } from "./png.mjs";

const URL_ = process.env.ROOST_URL;
const PASSWORD = process.env.ROOST_PASSWORD;
const ARTIFACTS = process.env.ROOST_ARTIFACTS ?? "artifacts";
const CHROMIUM = process.env.ROOST_CHROMIUM ?? "/usr/bin/chromium";
const CLI_INVITE = process.env.ROOST_INVITE;

const SIZES = { desktop: { width: 1280, height: 900 }, phone: { width: 375, height: 800 } };

let browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
});

async function signIn(page, username) {
  await page.goto(`${URL_}/auth/sign_in`);
  await page.getByLabel("Username or email").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${URL_}/`);
}

async function signUp(page, link, username, displayName) {
  await page.goto(link);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name (optional)").fill(displayName);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${URL_}/`);
}

/** No serious or critical accessibility violations, in light and in dark. */
async function accessible(page, name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    const results = await new AxeBuilder({ page }).analyze();
    const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(
      bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
      [],
      `${name} in ${scheme}`,
    );
  }
  await page.emulateMedia({ colorScheme: "light" });
}

async function screenshots(page, name) {
  for (const [size, viewport] of Object.entries(SIZES)) {
    for (const scheme of ["light", "dark"]) {
      await page.setViewportSize(viewport);
      await page.emulateMedia({ colorScheme: scheme });
      // Usable at this width: nothing makes the page scroll sideways.
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      const culprits = wide <= viewport.width ? [] : await page.evaluate((w) =>
        Array.from(document.querySelectorAll("body *"))
          .filter((e) => e.getBoundingClientRect().right > w && !e.closest(".scroll"))
          .slice(0, 5)
          .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`), viewport.width);
      assert.ok(wide <= viewport.width, `${name} is ${wide} px wide at ${viewport.width} px: ${culprits.join(", ")}`);
      await page.screenshot({ path: join(ARTIFACTS, `${name}-${size}-${scheme}.png`), fullPage: true });
    }
  }
  await page.setViewportSize(SIZES.desktop);
  await page.emulateMedia({ colorScheme: "light" });
}

/** axe in light and dark, then screenshots at both widths in both schemes. */
async function check(page, name) {
  await accessible(page, name);
  await screenshots(page, name);
}

const article = (page, text) => page.getByRole("article").filter({ hasText: text }).first();

test("two members join through invites and talk, live (JavaScript on)", async () => {
  // The owner makes an invite on the admin page; the other comes from `roost admin invite`.
  const admin = await browser.newContext({ viewport: SIZES.desktop });
  const a = await admin.newPage();
  await a.goto(`${URL_}/`);
  assert.equal(new URL(a.url()).pathname, "/auth/sign_in", "signed out, home asks to sign in");
  await check(a, "sign-in");
  await signIn(a, "alice");
  await a.getByRole("link", { name: "Admin" }).click();
  await a.getByLabel("Uses").selectOption("1");
  await a.getByRole("button", { name: "Create invite link" }).click();
  const uiInvite = (await a.locator("#invite-link").innerText()).trim();
  assert.match(uiInvite, /\/invite\/[0-9a-f]{32}$/);
  await check(a, "admin");

  const ninaContext = await browser.newContext({ viewport: SIZES.desktop });
  const omarContext = await browser.newContext({ viewport: SIZES.desktop });
  const nina = await ninaContext.newPage();
  const omar = await omarContext.newPage();
  await nina.goto(uiInvite);
  await check(nina, "sign-up");
  await signUp(nina, uiInvite, "nina", "Nina");
  await signUp(omar, CLI_INVITE, "omar", "Omar");

  // A one-use invite is spent.
  const late = await browser.newContext();
  const latePage = await late.newPage();
  const spent = await latePage.goto(uiInvite);
  assert.equal(spent.status(), 404);
  await latePage.getByText("This invite link is not valid").waitFor();
  await late.close();

  // They follow each other from their profiles.
  await nina.goto(`${URL_}/@omar`);
  await nina.getByRole("button", { name: "Follow", exact: true }).click();
  await nina.getByRole("button", { name: "Unfollow" }).waitFor();
  await omar.goto(`${URL_}/@nina`);
  await omar.getByRole("button", { name: "Follow", exact: true }).click();
  await omar.getByRole("button", { name: "Unfollow" }).waitFor();
  await check(omar, "profile");

  // Omar reads his home; Nina posts; "1 new post" appears for Omar without a reload.
  await omar.goto(`${URL_}/`);
  await omar.evaluate(() => { window.__sameDocument = true; });
  await nina.goto(`${URL_}/`);
  // The counter counts as the server does: a URL is 23 characters, whatever its length.
  await nina.getByLabel("What's happening?").fill("see https://example.com/a/very/long/path/that/goes/on/and/on");
  assert.equal(await nina.locator("#counter").innerText(), `${500 - (4 + 23)} characters left`);
  await nina.getByLabel("What's happening?").fill("Hello Omar, welcome to #roostweb <b>not bold</b>");
  await nina.getByRole("button", { name: "Post", exact: true }).click();
  await nina.waitForURL(`${URL_}/`);
  const ninaPost = article(nina, "welcome to");
  await ninaPost.waitFor();
  assert.equal(await ninaPost.locator("b").count(), 0, "posted text is never HTML");
  assert.match(await ninaPost.innerText(), /<b>not bold<\/b>/);

  const banner = omar.getByRole("link", { name: "1 new post" });
  await banner.waitFor({ timeout: 10000 });
  assert.equal(await omar.evaluate(() => window.__sameDocument), true, "the banner came without a reload");
  await banner.click();
  await omar.waitForURL(`${URL_}/`);
  const seen = article(omar, "welcome to");
  await seen.waitFor();

  // Like and repost are instant: the page stays where it is.
  await omar.evaluate(() => { window.__sameDocument = true; });
  await seen.getByRole("button", { name: /^Like/ }).click();
  await article(omar, "welcome to").getByRole("button", { name: /^Liked/ }).waitFor();
  await article(omar, "welcome to").getByRole("button", { name: /^Repost/ }).click();
  await article(omar, "welcome to").getByRole("button", { name: /^Reposted/ }).waitFor();
  assert.equal(await omar.evaluate(() => window.__sameDocument), true, "actions did not reload the page");
  await check(omar, "home");

  // Nina's unread badge counts up live while she stays on her page.
  await nina.locator("#unread:not([hidden])").waitFor({ timeout: 10000 });

  // Omar replies in place, under the post on his home; the reply is in the post's thread.
  await article(omar, "welcome to").getByRole("link", { name: /^Reply/ }).click();
  const inline = omar.getByLabel("Reply to @nina");
  assert.equal(await inline.inputValue(), "@nina ");
  await inline.fill("@nina thanks, glad to be here");
  await omar.locator("form.inline-reply").getByRole("button", { name: "Reply" }).click();
  await omar.waitForURL(`${URL_}/`);
  await article(omar, "glad to be here").waitFor();
  await article(omar, "welcome to").locator("a.when").click();
  await omar.waitForURL(/\/@nina\/\d+$/);
  await article(omar, "glad to be here").waitFor();
  await check(omar, "post");
  await omar.goto(`${URL_}/`);
  await article(omar, "welcome to").getByRole("link", { name: "Quote" }).click();
  await omar.getByLabel("Your quote").fill("Everyone, meet Nina");
  await omar.getByRole("button", { name: "Post", exact: true }).click();
  await omar.waitForURL(`${URL_}/`);
  const quote = article(omar, "meet Nina");
  await quote.locator("blockquote").filter({ hasText: "welcome to" }).waitFor();

  // Nina sees them all in her notifications, grouped by kind; opening the page reads them.
  await nina.getByRole("link", { name: /^Notifications/ }).click();
  const notes = nina.getByRole("list", { name: "Notifications" });
  for (const what of ["liked your post", "reposted your post", "mentioned you", "quoted your post", "followed you"]) {
    await notes.getByText(what).first().waitFor();
  }
  await check(nina, "notifications");
  await nina.goto(`${URL_}/`);
  assert.equal(await nina.locator("#unread").isHidden(), true, "read notifications leave the badge");

  // Nina edits her post (from her profile): the card says "edited", the post's page keeps the history.
  await nina.goto(`${URL_}/@nina`);
  await article(nina, "welcome to").getByRole("link", { name: "Edit" }).click();
  await nina.getByLabel("Text").fill("Hello Omar, welcome aboard #roostweb");
  await check(nina, "edit");
  await nina.getByRole("button", { name: "Save", exact: true }).click();
  await nina.getByText("· edited").first().waitFor();
  await nina.getByText(/Edit history/).click();
  await nina.getByText("welcome to #roostweb").first().waitFor();

  // She edits her profile.
  await nina.getByRole("link", { name: "Settings" }).click();
  await nina.getByLabel("Display name").fill("Nina N.");
  await nina.getByLabel("Bio").fill("Here for the #roostweb posts");
  await nina.getByRole("button", { name: "Save profile" }).click();
  await nina.getByText("Saved: profile.").waitFor();
  await check(nina, "settings");
  await nina.goto(`${URL_}/@nina`);
  await nina.getByRole("heading", { name: "Nina N." }).waitFor();
  await nina.getByText("Here for the").waitFor();

  // Keyboard: j selects the first post, l likes it, ? opens the help.
  await nina.goto(`${URL_}/`);
  await nina.keyboard.press("j");
  const first = nina.locator("article.post.selected");
  await first.waitFor();
  await nina.keyboard.press("?");
  await nina.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor();
  await nina.keyboard.press("Escape");

  // A third-party app's consent page shares the design.
  const app = await (await fetch(`${URL_}/api/v1/apps`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ client_name: "Pixel", redirect_uris: "urn:ietf:wg:oauth:2.0:oob", scopes: "read write" }),
  })).json();
  await nina.goto(`${URL_}/oauth/authorize?response_type=code&client_id=${app.client_id}&redirect_uri=urn:ietf:wg:oauth:2.0:oob&scope=read`);
  await nina.getByRole("button", { name: "Authorize" }).waitFor();
  await check(nina, "consent");

  // The other main pages, checked and photographed.
  for (const [path, name] of [["/local", "local"], ["/tags/roostweb", "hashtag"], ["/bookmarks", "bookmarks"],
    ["/lists", "lists"], ["/search?q=om", "search"], ["/@omar/following", "following"], ["/@nina/with_replies", "profile-replies"],
    ["/@nina/likes", "profile-likes"], ["/@nina/followers", "followers"]]) {
    await nina.goto(`${URL_}${path}`);
    await check(nina, name);
  }
  // A list: made, filled, read.
  await nina.goto(`${URL_}/lists`);
  await nina.getByLabel("Title of the new list").fill("Friends");
  await nina.getByRole("button", { name: "Create list" }).click();
  await nina.getByRole("link", { name: "Friends" }).click();
  await nina.getByText(/^Members/).click();
  await nina.getByLabel("Add someone you follow").fill("omar");
  await nina.getByRole("button", { name: "Add", exact: true }).click();
  await article(nina, "meet Nina").waitFor();
  await check(nina, "list");

  await nina.goto(`${URL_}/search?q=om`);
  await nina.getByRole("link", { name: "Omar" }).waitFor();
  await nina.goto(`${URL_}/tags/roostweb`);
  await article(nina, "welcome aboard").waitFor();

  await nina.getByRole("button", { name: /^Sign out/ }).click();
  await nina.waitForURL(`${URL_}/auth/sign_in`);
  await nina.goto(`${URL_}/`);
  assert.equal(new URL(nina.url()).pathname, "/auth/sign_in", "signed out for good");
  for (const c of [admin, ninaContext, omarContext]) await c.close();
});

test("the core flows without JavaScript", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: SIZES.desktop });
  const page = await context.newPage();
  await signUp(page, CLI_INVITE, "pia", "Pia");

  await page.goto(`${URL_}/@omar`);
  await page.getByRole("button", { name: "Follow", exact: true }).click();
  await page.getByRole("button", { name: "Unfollow" }).waitFor();

  await page.goto(`${URL_}/`);
  await page.getByLabel("What's happening?").fill("hello without script");
  await page.getByRole("button", { name: "Post", exact: true }).click();
  await page.waitForURL(`${URL_}/`);
  await article(page, "hello without script").waitFor();

  // Omar's quote is on Pia's home now that she follows him: like it, reply to it.
  const quote = article(page, "meet Nina");
  await quote.getByRole("button", { name: /^Like/ }).click();
  await page.waitForURL(`${URL_}/`);
  assert.equal(await article(page, "meet Nina").getByRole("button", { name: /^Liked/ }).getAttribute("aria-pressed"), "true");
  await article(page, "meet Nina").getByRole("button", { name: /^Repost/ }).click();
  await article(page, "meet Nina").getByRole("button", { name: /^Reposted/ }).waitFor();
  await article(page, "meet Nina").getByRole("link", { name: /^Reply/ }).first().click();
  await page.getByLabel("Your reply").fill("@omar replying without script");
  await page.getByRole("button", { name: "Reply", exact: true }).click();
  await article(page, "replying without script").waitFor();

  // A post that is too long comes back in the composer with the reason, nothing lost.
  await page.goto(`${URL_}/`);
  const long = "x".repeat(501);
  await page.getByLabel("What's happening?").fill(long);
  await page.getByRole("button", { name: "Post", exact: true }).click();
  await page.getByText("character limit").waitFor();
  assert.equal(await page.getByLabel("What's happening?").inputValue(), long);

  await page.goto(`${URL_}/settings`);
  await page.getByLabel("Display name").fill("Pia P.");
  await page.getByRole("button", { name: "Save profile" }).click();
  await page.getByText("Saved: profile.").waitFor();

  await page.getByRole("button", { name: /^Sign out/ }).click();
  await page.waitForURL(`${URL_}/auth/sign_in`);
  await context.close();
});

/** Waits until an image has loaded, saying what it tried if it does not. */
async function loaded(page, image) {
  try {
    await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await image.elementHandle(), { timeout: 10_000 });
  } catch {
    const state = await image.evaluate((img) => ({ src: img.currentSrc, complete: img.complete, width: img.naturalWidth }));
    const answer = state.src ? await page.evaluate(async (src) => (await fetch(src)).status, state.src) : null;
    assert.fail(`the image did not load: ${JSON.stringify(state)}, fetching it answers ${answer}`);
  }
}

test("pictures: described before posting, opened in a viewer, faces beside posts (JavaScript on)", async () => {
  const context = await browser.newContext({ viewport: SIZES.desktop });
  const page = await context.newPage();
  await signIn(page, "dave");
  await page.goto(`${URL_}/`);
  await page.getByLabel("What's happening?").fill("a picture from the browser");
  await page.locator("#media").setInputFiles({ name: "orange.png", mimeType: "image/png", buffer: png(96, 64, [230, 120, 20]) });
  // One description field per picture, named after its file.
  const alt = page.getByLabel("Description of orange.png");
  await alt.waitFor();
  assert.equal(await page.locator('input[name="description[]"]:visible').count(), 1);
  // Posting a picture nobody described is nudged once.
  await page.getByRole("button", { name: "Post", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: "no description" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), await alt.getAttribute("id"));
  await alt.fill("An orange rectangle");
  await page.getByRole("button", { name: "Post", exact: true }).click();
  await page.waitForURL(`${URL_}/`);
  const post = article(page, "a picture from the browser");
  const picture = post.locator("a.picture img");
  await picture.waitFor();
  assert.equal(await picture.getAttribute("alt"), "An orange rectangle");
  await loaded(page, picture);
  assert.equal(await picture.getAttribute("width"), "96", "sized before it loads, so the page does not jump");
  await loaded(page, post.locator("img.avatar"));
  await accessible(page, "home with a picture");
  await screenshots(page, "home-with-a-picture");

  // The viewer shows it whole with its description, and Escape closes it.
  await post.locator("a.picture").click();
  const viewer = page.getByRole("dialog", { name: "Picture" });
  await viewer.waitFor();
  assert.equal(await viewer.locator("img").getAttribute("alt"), "An orange rectangle");
  assert.match(await viewer.textContent(), /An orange rectangle/);
  await accessible(page, "picture viewer");
  await page.keyboard.press("Escape");
  await viewer.waitFor({ state: "hidden" });

  // A sensitive picture stays behind its blurred stand-in until the reader opens it.
  await page.getByLabel("What's happening?").fill("a sensitive picture");
  await page.locator("#media").setInputFiles({ name: "green.png", mimeType: "image/png", buffer: png(80, 60, [20, 160, 60]) });
  await page.getByLabel("Description of green.png").fill("A green rectangle");
  await page.getByLabel(/Sensitive: blur the pictures/).check();
  await page.getByRole("button", { name: "Post", exact: true }).click();
  await page.waitForURL(`${URL_}/`);
  const hidden = article(page, "a sensitive picture");
  const reveal = hidden.getByText("Sensitive media — show");
  await reveal.waitFor();
  const standIn = hidden.locator(".veil img");
  assert.match(await standIn.getAttribute("src"), /^data:image\/png;base64,/, "the blurhash, drawn by the server");
  await loaded(page, standIn);
  const real = hidden.locator("a.picture img");
  assert.equal(await real.isVisible(), false, "the picture itself is folded away");
  await accessible(page, "home with a sensitive picture");
  await screenshots(page, "home-with-a-sensitive-picture");
  await reveal.click();
  await loaded(page, real);
  assert.equal(await real.getAttribute("alt"), "A green rectangle");
  assert.equal(await standIn.isVisible(), false);
  await hidden.getByText("Hide sensitive media").waitFor();
  await context.close();
});

test("extensions: an admin writes a rule, tries it on the posts already there, enforces it, and a member sees why", async () => {
  // Plain forms (they work without JavaScript); JavaScript stays on so that axe can run.
  const context = await browser.newContext({ viewport: SIZES.desktop });
  const page = await context.newPage();
  await signIn(page, "alice");
  await page.getByLabel("What's happening?").fill("paying with 4000 1234 5678 9010 today");
  await page.getByRole("button", { name: "Post", exact: true }).click();
  await page.waitForURL(`${URL_}/`);

  await page.goto(`${URL_}/admin`);
  await page.getByRole("link", { name: "Extensions" }).click();
  await page.getByRole("heading", { name: "Extensions", level: 1 }).waitFor();
  await page.getByLabel("Name").fill("No card numbers");
  assert.match(await page.getByLabel("Source").inputValue(), /function judge/, "the form starts from an example");
  await page.getByRole("button", { name: "Save version 1" }).click();
  await page.getByRole("heading", { name: "No card numbers", level: 1 }).waitFor();
  await check(page, "extension");

  // The dry run judges the posts already there.
  await page.getByRole("button", { name: /Dry run over/ }).click();
  const report = page.getByRole("status");
  await report.waitFor();
  assert.match(await report.textContent(), /1 reject/);
  assert.match(await report.textContent(), /4000 1234 5678 9010/, "the example is a post its reader may read");
  await accessible(page, "dry-run report");

  await page.getByLabel("Mode").selectOption("enforce");
  await page.getByRole("button", { name: "Deploy" }).click();
  await page.getByText(/enforce, version 1/).waitFor();

  // A member's post is refused with the rule's reason, and the text is kept.
  const member = await browser.newContext({ viewport: SIZES.phone });
  const m = await member.newPage();
  await signIn(m, "erin");
  await m.getByLabel("What's happening?").fill("my card is 4111 1111 1111 1111");
  await m.getByRole("button", { name: "Post", exact: true }).click();
  await m.getByRole("alert").filter({ hasText: "No card numbers" }).waitFor();
  assert.equal(await m.getByLabel("What's happening?").inputValue(), "my card is 4111 1111 1111 1111");

  await page.reload();
  assert.match(await page.locator("main").textContent(), /1 reject/, "the decision is counted");
  await page.getByRole("button", { name: "Disable" }).click();
  await page.getByText("not deployed").waitFor();
  await member.close();
  await context.close();
});

test("feeds: a member writes a personal feed, previews it, makes it live and subscribes", async () => {
  const context = await browser.newContext({ viewport: SIZES.phone });
  const page = await context.newPage();
  await signIn(page, "bob");
  for (const text of ["#feedtest short", "#feedtest this one is much, much longer than the other"]) {
    await page.getByLabel("What's happening?").fill(text);
    await page.getByRole("button", { name: "Post", exact: true }).click();
    await page.waitForURL(`${URL_}/`);
  }
  await page.getByRole("link", { name: "Feeds" }).click();
  await page.getByRole("heading", { name: "Feeds", level: 1 }).waitFor();
  await page.getByLabel("Name").fill("Longest first");
  await page.getByLabel("Where its posts come from, one per line").fill("#feedtest");
  await page.getByLabel("How it ranks them (JavaScript)").fill(
    "function rank(input) {\n  return input.posts.sort((a, b) => b.text.length - a.text.length).map(p => p.id);\n}\n",
  );
  await page.getByRole("button", { name: "Save and preview" }).click();
  await page.getByRole("heading", { name: "Longest first", level: 1 }).waitFor();
  await page.getByText(/not live yet: this is a preview/).waitFor();
  const order = async () => (await page.locator("section.timeline article.post").allTextContents()).map(t => (t.includes("much, much longer") ? "long" : t.includes("short") ? "short" : "other"));
  assert.deepEqual(await order(), ["long", "short"]);
  await accessible(page, "feed preview");

  await page.getByRole("button", { name: "Make version 1 live" }).click();
  await page.getByText(/live, version 1/).waitFor();
  await page.getByRole("button", { name: "Subscribe Longest first" }).click();
  await page.getByRole("button", { name: "Unsubscribe Longest first" }).waitFor();
  assert.deepEqual(await order(), ["long", "short"]);

  // A broken version is refused with the reason, and the live one stays.
  await page.getByText("Source and versions").click();
  await page.getByLabel("How it ranks them (JavaScript)").fill("function rank( {");
  await page.getByRole("button", { name: "Save version 2" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").textContent(), /Validation failed/);
  await page.goto(`${URL_}/feeds`);
  assert.match(await page.locator("main").textContent(), /Longest first/);
  await accessible(page, "feeds list");
  await context.close();
});

test("extensions: a rule holds a post for review, a moderator approves it from the queue, and then others see it", async () => {
  const context = await browser.newContext({ viewport: SIZES.desktop });
  const page = await context.newPage();
  await signIn(page, "alice");
  await page.goto(`${URL_}/admin/extensions`);
  await page.getByLabel("Name").fill("Hold card numbers");
  await page.getByLabel("Source").fill(
    'function judge(post) {\n  if (/\\b(?:\\d[ -]?){13,16}\\b/.test(post.text)) return { verdict: "hold", reason: "it may hold a card number" };\n  return null;\n}\n',
  );
  await page.getByRole("button", { name: "Save version 1" }).click();
  await page.getByRole("heading", { name: "Hold card numbers", level: 1 }).waitFor();
  await page.getByLabel("Mode").selectOption("enforce");
  await page.getByRole("button", { name: "Deploy" }).click();
  await page.getByText(/enforce, version 1/).waitFor();

  // The author's post goes through, marked as held, with the reason.
  const author = await browser.newContext({ viewport: SIZES.phone });
  const a = await author.newPage();
  await signIn(a, "carol");
  await a.getByLabel("What's happening?").fill("refund to 4111 1111 1111 1111 please");
  await a.getByRole("button", { name: "Post", exact: true }).click();
  await a.waitForURL(`${URL_}/`);
  await a.goto(`${URL_}/@carol`);
  const mine = a.locator("article.post").filter({ hasText: "refund to 4111" });
  await mine.getByText("Held for review").waitFor();
  assert.match(await mine.textContent(), /it may hold a card number/);
  await accessible(a, "held post, its author");

  // Another member does not see it.
  const reader = await browser.newContext({ viewport: SIZES.desktop });
  const r = await reader.newPage();
  await signIn(r, "bob");
  await r.goto(`${URL_}/@carol`);
  assert.doesNotMatch(await r.locator("main").textContent(), /refund to 4111/);

  // The moderator's queue has it; approving it shows it to everyone.
  await page.goto(`${URL_}/admin`);
  const queue = page.locator("section", { has: page.getByRole("heading", { name: "Held for review" }) });
  assert.match(await queue.textContent(), /refund to 4111/);
  assert.match(await queue.textContent(), /Hold card numbers/);
  await accessible(page, "held-posts queue");
  await queue.getByRole("button", { name: "Approve" }).first().click();
  await page.waitForURL(`${URL_}/admin`);
  assert.doesNotMatch(await page.locator("section", { has: page.getByRole("heading", { name: "Held for review" }) }).textContent(), /refund to 4111/);
  await r.reload();
  assert.match(await r.locator("main").textContent(), /refund to 4111/);

  // The rule is stopped again, so that the other tests post freely.
  await page.goto(`${URL_}/admin/extensions`);
  await page.getByRole("link", { name: "Hold card numbers" }).click();
  await page.getByRole("button", { name: "Disable" }).click();
  await page.getByText("not deployed").waitFor();
  await reader.close();
  await author.close();
  await context.close();
});
