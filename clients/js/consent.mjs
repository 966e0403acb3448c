// Filling in Roost's sign-in + consent page as a person would, for the OAuth tests.

/** The hidden fields of the consent form at `authorizeUrl`, with the person's answers added. */
export async function consentForm(authorizeUrl, username, password) {
  const page = await fetch(authorizeUrl);
  if (page.status !== 200) throw new Error(`the consent page answered ${page.status}`);
  const html = await page.text();
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields.set(m[1], unescape(m[2]));
  }
  fields.set("username", username);
  fields.set("password", password);
  fields.set("decision", "approve");
  return { html, fields };
}

/** Submits the form; returns the response (a redirect, or the page that shows the code). */
export function approve(baseUrl, fields) {
  return fetch(new URL("/oauth/authorize", baseUrl), { method: "POST", body: fields, redirect: "manual" });
}

/** The code an out-of-band grant shows on the page. */
export function shownCode(html) {
  const m = html.match(/<code id="code">([^<]+)<\/code>/);
  return m ? unescape(m[1]) : null;
}

function unescape(s) {
  return s.replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&#39;", "'").replaceAll("&amp;", "&");
}
