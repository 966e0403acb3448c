// Roost's web app works without this script; with it, pages gain live updates ("N new posts",
// the unread badge), instant actions, a character counter, keyboard shortcuts and relative
// times. Hand-written, no build step, no dependencies.
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // ---- character counter: the server's rules (graphemes; a URL counts 23; @user@domain counts
  // as @user).
  const segmenter = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter() : null;
  const graphemes = (s) => (segmenter ? Array.from(segmenter.segment(s)).length : Array.from(s).length);
  const URL_RE = /https?:\/\/[^\s<>"]+[^\s<>".,:;!?'")\]]/gi;
  const REMOTE_MENTION_RE = /(^|[^\w@#/&])@(\w{1,30})@[a-z0-9.-]+\.[a-z0-9-]+/gi;
  const countable = (text) => {
    let urls = 0;
    const rest = text.replace(URL_RE, () => {
      urls += 1;
      return "";
    });
    return graphemes(rest.replace(REMOTE_MENTION_RE, "$1@$2")) + urls * 23;
  };
  for (const area of $$("textarea[data-max]")) {
    const counter = $("#counter", area.form);
    const spoiler = $("#spoiler_text", area.form);
    const max = Number(area.dataset.max);
    const update = () => {
      const left = max - countable(area.value) - graphemes(spoiler ? spoiler.value : "");
      counter.textContent = `${left} characters left`;
      counter.classList.toggle("over", left < 0);
      area.setCustomValidity(left < 0 ? `This post is ${-left} characters too long` : "");
    };
    area.addEventListener("input", update);
    if (spoiler) spoiler.addEventListener("input", update);
    update();
  }

  // ---- relative times, kept fresh ---------------------------------------------------------
  const relative = (then) => {
    const secs = Math.max(0, Math.floor((Date.now() - then) / 1000));
    if (secs < 60) return `${secs}s`;
    if (secs < 3600) return `${Math.floor(secs / 60)}m`;
    if (secs < 86400) return `${Math.floor(secs / 3600)}h`;
    if (secs < 604800) return `${Math.floor(secs / 86400)}d`;
    return new Date(then).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
  };
  const refreshTimes = () => {
    for (const t of $$("time[datetime]")) t.textContent = relative(Date.parse(t.dateTime));
  };
  refreshTimes();
  setInterval(refreshTimes, 30000);

  // ---- instant actions: like, repost, bookmark, delete without leaving the page ------------
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("act")) return;
    event.preventDefault();
    const post = form.closest("article.post");
    const bar = form.closest(".actions");
    const button = $("button", form);
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "X-Roost-Fragment": "actions" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(await response.text());
      const html = await response.text();
      if (html.trim() === "" && post) {
        post.remove();
      } else if (bar) {
        const template = document.createElement("template");
        template.innerHTML = html;
        const fresh = template.content.firstElementChild;
        const key = button && button.dataset.key;
        bar.replaceWith(fresh);
        const again = key ? $(`[data-key="${key}"]`, fresh) : $("button", fresh);
        if (again) again.focus();
      }
    } catch (e) {
      if (button) button.disabled = false;
      form.submit(); // fall back to the plain form, which shows the error as a page
    }
  });

  // ---- live: new posts and notifications ----------------------------------------------------
  const banner = $("#new-posts");
  const badge = $("#unread");
  let fresh = 0;
  if (window.EventSource && (banner || badge)) {
    const live = new EventSource("/web/live");
    live.addEventListener("update", () => {
      if (!banner) return;
      fresh += 1;
      banner.replaceChildren();
      const link = document.createElement("a");
      link.href = "/";
      link.className = "button";
      link.textContent = fresh === 1 ? "1 new post" : `${fresh} new posts`;
      banner.append(link);
    });
    live.addEventListener("notification", () => {
      if (!badge || location.pathname === "/notifications") return;
      const n = Number(badge.textContent || "0") + 1;
      badge.textContent = String(n);
      badge.setAttribute("aria-label", `${n} unread`);
      badge.hidden = false;
    });
  }

  // ---- notifications: opening the page reads them (the form is the no-script fallback) ------
  const markRead = $("#mark-read");
  if (markRead) {
    fetch(markRead.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(markRead)),
      credentials: "same-origin",
      redirect: "manual",
    }).then(() => {
      markRead.remove();
      if (badge) {
        badge.textContent = "0";
        badge.hidden = true;
      }
    });
  }

  // ---- reply in place: a composer under the post instead of going to its page ---------------
  const csrfValue = () => $('input[name="csrf"]')?.value;
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[data-key="r"]') : null;
    const post = link?.closest("article.post");
    // On the post's own page its composer is already there: the link just goes to it.
    if (!post || !csrfValue() || link.pathname === location.pathname) return;
    event.preventDefault();
    const open = post.nextElementSibling;
    if (open && open.classList.contains("inline-reply")) {
      $("textarea", open).focus();
      return;
    }
    const form = document.createElement("form");
    form.className = "card composer inline-reply";
    form.method = "post";
    form.action = "/web/statuses";
    const hidden = (name, value) => {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    };
    hidden("csrf", csrfValue());
    hidden("in_reply_to_id", post.dataset.id);
    hidden("visibility", post.dataset.visibility);
    hidden("back", location.pathname + location.search);
    const id = `reply-${post.dataset.id}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = `Reply to @${post.dataset.author}`;
    const area = document.createElement("textarea");
    area.id = id;
    area.name = "status";
    area.required = true;
    area.value = `@${post.dataset.author} `;
    const row = document.createElement("p");
    row.className = "row";
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Reply";
    row.append(button);
    form.append(label, area, row);
    post.after(form);
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  });

  // ---- keyboard shortcuts -------------------------------------------------------------------
  const help = $("#help");
  let current = -1;
  const posts = () => $$("article.post");
  const select = (i) => {
    const all = posts();
    if (all.length === 0) return;
    current = Math.max(0, Math.min(all.length - 1, i));
    for (const p of all) p.classList.remove("selected");
    all[current].classList.add("selected");
    all[current].focus();
  };
  const selected = () => posts()[current] || document.activeElement?.closest?.("article.post");
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
    const post = selected();
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "n": {
        const box = $("#status");
        if (box) box.focus();
        else location.href = "/#status";
        break;
      }
      case "l": if (post) $('[data-key="l"]', post)?.click(); break;
      case "r": if (post) $('[data-key="r"]', post)?.click(); break;
      case "o": if (post) location.href = post.dataset.url; break;
      case "?": if (help && !help.open) help.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });
  // ---- pictures in the composer: drop or paste them, one description field per picture, and
  // a nudge before posting a picture nobody described.
  const picker = $("#media");
  if (picker) {
    const form = picker.form;
    const attach = picker.closest("details");
    const alts = $$('input[name="description[]"]', form);
    const max = alts.length;
    const showAlts = () => {
      const files = Array.from(picker.files || []);
      if (files.length && attach) attach.open = true;
      alts.forEach((input, i) => {
        const label = $(`label[for="${input.id}"]`, form);
        const shown = i < files.length;
        input.hidden = !shown;
        if (label) {
          label.hidden = !shown;
          if (shown) label.textContent = `Description of ${files[i].name}`;
        }
      });
      if (files.length > max) {
        picker.setCustomValidity(`A post can carry at most ${max} pictures`);
      } else {
        picker.setCustomValidity("");
      }
    };
    const add = (incoming) => {
      const images = Array.from(incoming).filter((f) => f.type.startsWith("image/"));
      if (!images.length || typeof DataTransfer === "undefined") return false;
      const all = new DataTransfer();
      for (const f of [...Array.from(picker.files || []), ...images].slice(0, max)) all.items.add(f);
      picker.files = all.files;
      if (attach) attach.open = true;
      showAlts();
      return true;
    };
    picker.addEventListener("change", showAlts);
    showAlts();
    form.addEventListener("dragover", (event) => {
      if (event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) {
        event.preventDefault();
        form.classList.add("dropping");
      }
    });
    form.addEventListener("dragleave", () => form.classList.remove("dropping"));
    form.addEventListener("drop", (event) => {
      form.classList.remove("dropping");
      if (event.dataTransfer && add(event.dataTransfer.files)) event.preventDefault();
    });
    form.addEventListener("paste", (event) => {
      if (event.clipboardData && add(event.clipboardData.files)) event.preventDefault();
    });
    let nudged = false;
    form.addEventListener("submit", (event) => {
      const count = Array.from(picker.files || []).length;
      const bare = alts.slice(0, count).filter((a) => !a.value.trim());
      if (!bare.length || nudged) return;
      nudged = true;
      event.preventDefault();
      event.stopImmediatePropagation();
      const hint = $("#media-hint", form);
      if (hint) {
        hint.textContent = `${bare.length === 1 ? "A picture has" : `${bare.length} pictures have`} no description: ` +
          "describe it for people who cannot see it, or post again as it is.";
        hint.setAttribute("role", "alert");
        hint.classList.add("error");
      }
      if (attach) attach.open = true;
      bare[0].focus();
    }, true);
  }

  // ---- a viewer for pictures: the full image over the page, with its description.
  const viewer = document.createElement("dialog");
  viewer.className = "viewer";
  viewer.setAttribute("aria-label", "Picture");
  const full = document.createElement("img");
  const caption = document.createElement("p");
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "Close";
  close.addEventListener("click", () => viewer.close());
  viewer.append(full, caption, close);
  viewer.addEventListener("click", (event) => { if (event.target === viewer) viewer.close(); });
  document.body.append(viewer);
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.picture") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    full.src = link.dataset.full || link.href;
    full.alt = link.dataset.alt || "";
    caption.textContent = link.dataset.alt || "No description.";
    viewer.showModal();
    close.focus();
  });
})();
