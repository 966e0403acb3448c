// The web app in a real browser: Debian's Chromium driven by playwright-core, with and without
// JavaScript, checked by axe-core in light and dark, with screenshots at phone and desktop widths.
//
// Run by crates/roost/tests/it/clients.rs against a fresh `roost serve`, with ROOST_URL,
// ROOST_PASSWORD and ROOST_ARTIFACTS (where screenshots go) set and alice, bob, carol, dave
// and erin created.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

const URL_ = process.env.ROOST_URL;
const PASSWORD = process.env.ROOST_PASSWORD;
const ARTIFACTS = process.env.ROOST_ARTIFACTS ?? "artifacts";
const CHROMIUM = process.env.ROOST_CHROMIUM ?? "/usr/bin/chromium";

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
      await page.screenshot({ path: join(ARTIFACTS, `${name}-${size}-${scheme}.png`), fullPage: true });
    }
  }
  await page.setViewportSize(SIZES.desktop);
  await page.emulateMedia({ colorScheme: "light" });
}

for (const javaScriptEnabled of [true, false]) {
  test(`sign in, post, like and sign out (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async () => {
    const context = await browser.newContext({ javaScriptEnabled, viewport: SIZES.desktop });
    const page = await context.newPage();
    const user = javaScriptEnabled ? "alice" : "bob";

    await page.goto(`${URL_}/`);
    assert.equal(new URL(page.url()).pathname, "/auth/sign_in", "signed out, home asks to sign in");
    if (javaScriptEnabled) {
      await accessible(page, "sign-in page");
      await screenshots(page, "sign-in");
    }
    await signIn(page, user);

    const text = `hello from the browser, ${user} <b>not bold</b>`;
    await page.getByLabel("What's happening?").fill(text);
    await page.getByRole("button", { name: "Post" }).click();
    await page.waitForURL(`${URL_}/`);
    const post = page.getByRole("article").filter({ hasText: "hello from the browser" }).first();
    await post.waitFor();
    assert.equal(await post.locator("b").count(), 0, "posted text is never HTML");
    assert.match(await post.innerText(), /<b>not bold<\/b>/);

    await post.getByRole("button", { name: /^Like/ }).click();
    await page.waitForURL(`${URL_}/`);
    const liked = page.getByRole("article").filter({ hasText: "hello from the browser" }).first();
    assert.equal(await liked.getByRole("button", { name: /^Liked/ }).getAttribute("aria-pressed"), "true");

    if (javaScriptEnabled) {
      await accessible(page, "home page");
      await screenshots(page, "home");
      // The post's own page, and the profile, through the links on the post.
      await liked.locator("time").click();
      await page.waitForURL(/\/@alice\/\d+$/);
      await accessible(page, "post page");
      await screenshots(page, "post");
      await page.getByRole("link", { name: "alice", exact: true }).first().click();
      await page.waitForURL(`${URL_}/@alice`);
      await accessible(page, "profile page");
      await screenshots(page, "profile");
      await page.goto(`${URL_}/`);
    }

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${URL_}/auth/sign_in`);
    await page.goto(`${URL_}/`);
    assert.equal(new URL(page.url()).pathname, "/auth/sign_in", "signed out for good");
    await context.close();
  });
}
