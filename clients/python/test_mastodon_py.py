"""Roost driven by Mastodon.py, the Python Mastodon client library, as an app would use it.

Run by crates/roost/tests/it/clients.rs against a fresh `roost serve`, with ROOST_URL and
ROOST_PASSWORD set and the accounts alice, bob, carol, dave and erin created.
"""

import html.parser
import os
import queue
import threading
import time
import struct
import unittest
import zlib

import requests
from mastodon import Mastodon, StreamListener
from mastodon.errors import MastodonAPIError, MastodonNotFoundError, MastodonUnauthorizedError

URL = os.environ["ROOST_URL"]
PASSWORD = os.environ["ROOST_PASSWORD"]
SCOPES = ["read", "write", "follow", "push"]

# How long a test waits for an event it expects (a bound, not a performance claim).
EVENT_WAIT = 20


def sign_in(username, scopes=SCOPES):
    client_id, client_secret = Mastodon.create_app("Mastodon.py tests", api_base_url=URL, scopes=scopes)
    m = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=URL)
    m.log_in(username, PASSWORD, scopes=scopes, allow_http=True)  # loopback in tests
    return m


class Events(StreamListener):
    """Collects every event of a stream into a queue."""

    def __init__(self):
        self.q = queue.Queue()

    def on_any_event(self, name, data=None, for_stream=None):
        self.q.put((name, data))

    def next(self, name=None, wait=EVENT_WAIT):
        """The next event (of the given name, skipping others); fails after `wait` seconds."""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name or 'event'} arrived")
            try:
                event, data = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if name is None or event == name:
                return data

    def update(self, status_id):
        """Waits for the `update` of a given post, passing over pings and other posts."""
        deadline = time.monotonic() + EVENT_WAIT
        while True:
            status = self.next("update", wait=max(0.01, deadline - time.monotonic()))
            if status["id"] == status_id:
                return status

    def until_heard(self, ping):
        """Streams open in the background and the protocol has no acknowledgement: calls
        `ping` (which posts) until its post arrives; every later event must arrive too."""
        deadline = time.monotonic() + EVENT_WAIT
        while time.monotonic() < deadline:
            posted = ping()
            try:
                while self.next("update", wait=0.5)["id"] != posted["id"]:
                    pass
                return
            except AssertionError:
                continue
        raise AssertionError("the stream never heard a ping")


class ConsentForm(html.parser.HTMLParser):
    """The fields of the sign-in + consent page, and the code an out-of-band grant shows."""

    def __init__(self):
        super().__init__()
        self.fields, self.action, self.code, self._in_code = {}, None, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "code" and a.get("id") == "code":
            self._in_code = True

    def handle_data(self, data):
        if self._in_code:
            self.code = (self.code or "") + data

    def handle_endtag(self, tag):
        if tag == "code":
            self._in_code = False


def parse_page(text):
    p = ConsentForm()
    p.feed(text)
    return p


def png(width, height, rgb=(200, 60, 40)):
    """A plain PNG of one colour, made here (the test needs no imaging library)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Roost(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.alice = sign_in("alice")
        cls.bob = sign_in("bob")
        cls.carol = sign_in("carol")
        cls.alice_id = cls.alice.me()["id"]
        cls.bob_id = cls.bob.me()["id"]
        cls.carol_id = cls.carol.me()["id"]

    def test_instance_detection_and_app(self):
        v1 = self.alice.instance_v1()
        self.assertIn("compatible; Roost", v1["version"])
        self.assertTrue(self.alice.verify_minimum_version("4.0.0", cached=False))
        v2 = self.alice.instance_v2()
        self.assertTrue(v2["configuration"]["urls"]["streaming"].startswith("ws"))
        nodeinfo = self.alice.instance_nodeinfo()
        self.assertEqual(nodeinfo["software"]["name"], "roost")
        self.assertEqual(self.alice.app_verify_credentials()["name"], "Mastodon.py tests")
        self.assertTrue(self.alice.stream_healthy())
        # Mastodon.py paces itself by the rate-limit headers.
        self.alice.me()
        self.assertEqual(self.alice.ratelimit_limit, 1500)
        self.assertLess(self.alice.ratelimit_remaining, 1500)

    def test_authorization_code_flow_through_the_consent_page(self):
        client_id, client_secret = Mastodon.create_app("code flow", api_base_url=URL, scopes=["read"])
        m = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=URL)
        url = m.auth_request_url(scopes=["read"], allow_http=True)  # out of band: the page shows the code
        page = requests.get(url)
        self.assertEqual(page.status_code, 200)
        form = parse_page(page.text)
        self.assertEqual(form.action, "/oauth/authorize")
        answer = requests.post(URL + form.action, data={
            **form.fields, "username": "alice", "password": PASSWORD, "decision": "approve"})
        self.assertEqual(answer.status_code, 200)
        code = parse_page(answer.text).code
        self.assertTrue(code)
        m.log_in(code=code, scopes=["read"], allow_http=True)
        self.assertEqual(m.me()["username"], "alice")
        with self.assertRaises(MastodonAPIError):
            m.status_post("the grant was read-only")

    def test_accounts_and_profile(self):
        me = self.alice.account_update_credentials(display_name="Alice A.", note="I write *tests*")
        self.assertEqual(me["display_name"], "Alice A.")
        self.assertEqual(me["source"]["note"], "I write *tests*")
        self.assertEqual(self.bob.account(self.alice_id)["display_name"], "Alice A.")
        self.assertEqual(self.bob.account_lookup("alice")["id"], self.alice_id)
        with self.assertRaises(MastodonNotFoundError):
            self.bob.account_lookup("nobody_here")

    def test_pictures_in_posts_with_alt_text(self):
        media = self.alice.media_post(png(320, 200), mime_type="image/png", description="A red field",
                                      focus=(0.5, -0.5), synchronous=True)
        self.assertEqual(media["type"], "image")
        self.assertEqual(media["description"], "A red field")
        self.assertEqual(media["meta"]["original"]["width"], 320)
        self.assertEqual(media["meta"]["focus"]["x"], 0.5)
        self.assertTrue(media["blurhash"])
        media = self.alice.media_update(media, description="A red field at noon")
        self.assertEqual(media["description"], "A red field at noon")
        post = self.alice.status_post("A picture from Mastodon.py", media_ids=[media], visibility="public")
        attached = post["media_attachments"][0]
        self.assertEqual(attached["id"], media["id"])
        seen = self.bob.status(post["id"])["media_attachments"][0]
        file = requests.get(seen["url"])  # as an app loads images: no token
        self.assertEqual(file.status_code, 200)
        self.assertEqual(file.headers["content-type"], "image/jpeg", "an opaque PNG is stored as JPEG")
        self.assertEqual(requests.get(seen["preview_url"]).status_code, 200)
        with self.assertRaises(MastodonAPIError):
            self.alice.media_post(b"GIF89a but not really", mime_type="image/gif")
        self.alice.status_delete(post["id"])
        self.assertEqual(requests.get(seen["url"]).status_code, 404)

    def test_avatar_and_header(self):
        carol = self.carol
        before = carol.me()
        self.assertEqual(requests.get(before["avatar"]).status_code, 200, "a default avatar, not a broken link")
        me = carol.account_update_credentials(avatar=png(600, 300), avatar_mime_type="image/png",
                                              header=png(600, 600, (20, 90, 200)), header_mime_type="image/png")
        self.assertNotEqual(me["avatar"], before["avatar"])
        avatar = requests.get(me["avatar"])
        self.assertEqual(avatar.status_code, 200)
        header = requests.get(me["header"])
        self.assertEqual(header.status_code, 200)
        self.assertEqual(self.bob.account(self.carol_id)["avatar"], me["avatar"])
        me = carol.account_delete_avatar()
        self.assertEqual(me["avatar"], before["avatar"])
        me = carol.account_delete_header()
        self.assertEqual(requests.get(me["header"]).status_code, 200)

    def test_posting_threads_and_interactions(self):
        post = self.alice.status_post("Hello #Roost from Mastodon.py, @bob!", visibility="public",
                                      spoiler_text="greeting", idempotency_key="py-hello-1")
        again = self.alice.status_post("Hello #Roost from Mastodon.py, @bob!", visibility="public",
                                       spoiler_text="greeting", idempotency_key="py-hello-1")
        self.assertEqual(post["id"], again["id"], "Idempotency-Key makes a retry harmless")
        self.assertEqual(post["spoiler_text"], "greeting")
        self.assertEqual([m["username"] for m in post["mentions"]], ["bob"])
        self.assertEqual([t["name"] for t in post["tags"]], ["roost"])

        reply = self.bob.status_reply(post, "a reply")
        self.assertEqual(reply["in_reply_to_id"], post["id"])
        context = self.carol.status_context(post["id"])
        self.assertEqual([s["id"] for s in context["descendants"]], [reply["id"]])

        self.assertTrue(self.carol.status_favourite(post["id"])["favourited"])
        self.assertTrue(self.carol.status_reblog(post["id"])["reblogged"])
        self.assertTrue(self.carol.status_bookmark(post["id"])["bookmarked"])
        self.assertIn(post["id"], [s["id"] for s in self.carol.favourites()])
        self.assertIn(post["id"], [s["id"] for s in self.carol.bookmarks()])
        fetched = self.carol.status(post["id"])
        self.assertEqual((fetched["favourites_count"], fetched["reblogs_count"], fetched["replies_count"]), (1, 1, 1))
        self.assertEqual([a["id"] for a in self.alice.status_favourited_by(post["id"])], [self.carol_id])
        self.assertEqual([a["id"] for a in self.alice.status_reblogged_by(post["id"])], [self.carol_id])

        self.carol.status_unfavourite(post["id"])
        self.carol.status_unreblog(post["id"])
        self.carol.status_unbookmark(post["id"])
        self.assertEqual(self.carol.status(post["id"])["favourites_count"], 0)

        quote = self.bob.status_post("quoting", quoted_status_id=post["id"])
        self.assertEqual(quote["quote"]["quoted_status"]["id"], post["id"])

        self.bob.status_delete(reply["id"])
        with self.assertRaises(MastodonNotFoundError):
            self.alice.status(reply["id"])

    def test_editing_keeps_a_history(self):
        post = self.bob.status_post("first draft #drafts")
        edited = self.bob.status_update(post["id"], "second draft #final", spoiler_text="cw")
        self.assertIn("second draft", edited["content"])
        self.assertEqual(edited["spoiler_text"], "cw")
        self.assertIsNotNone(edited["edited_at"])
        self.assertEqual([t["name"] for t in edited["tags"]], ["final"])
        history = self.alice.status_history(post["id"])
        self.assertEqual(len(history), 2)
        self.assertIn("first draft", history[0]["content"])
        self.assertIn("second draft", history[1]["content"])
        source = self.bob.status_source(post["id"])
        self.assertEqual((source["text"], source["spoiler_text"]), ("second draft #final", "cw"))
        with self.assertRaises(MastodonAPIError) as e:
            self.alice.status_update(post["id"], "not mine")
        self.assertEqual(e.exception.args[1], 403)

    def test_polls(self):
        poll = self.alice.make_poll(["tea", "coffee", "water"], expires_in=3600, multiple=True)
        post = self.alice.status_post("what do you drink?", poll=poll)
        self.assertEqual([o["title"] for o in post["poll"]["options"]], ["tea", "coffee", "water"])
        self.assertTrue(post["poll"]["multiple"])
        voted = self.bob.poll_vote(post["poll"]["id"], [0, 2])
        self.assertTrue(voted["voted"])
        self.assertEqual(voted["own_votes"], [0, 2])
        self.carol.poll_vote(post["poll"]["id"], [2])
        seen = self.alice.poll(post["poll"]["id"])
        self.assertEqual([o["votes_count"] for o in seen["options"]], [1, 0, 2])
        self.assertEqual((seen["votes_count"], seen["voters_count"]), (3, 2))
        # A multiple-choice poll takes a later vote for other options, as on Mastodon; the same
        # option again is refused, and the author does not vote at all.
        again = self.bob.poll_vote(post["poll"]["id"], [1])
        self.assertEqual(again["own_votes"], [0, 1, 2])
        self.assertEqual(again["voters_count"], 2)
        with self.assertRaises(MastodonAPIError) as e:
            self.bob.poll_vote(post["poll"]["id"], [2])
        self.assertEqual(e.exception.args[1], 422)
        with self.assertRaises(MastodonAPIError) as e:
            self.alice.poll_vote(post["poll"]["id"], [0])
        self.assertEqual(e.exception.args[1], 422)
        self.assertEqual(self.bob.status(post["id"])["poll"]["own_votes"], [0, 1, 2])
        with self.assertRaises(MastodonAPIError):
            self.alice.status_post("too short", poll=self.alice.make_poll(["only one"], expires_in=3600))

    def test_lists_and_their_stream(self):
        erin = sign_in("erin")
        erin.account_follow(self.bob_id)
        erin.account_follow(self.carol_id)
        lst = erin.list_create("work", replies_policy="followed")
        self.assertEqual((lst["title"], lst["replies_policy"], lst["exclusive"]), ("work", "followed", False))
        erin.list_accounts_add(lst["id"], [self.bob_id])
        with self.assertRaises(MastodonAPIError):
            erin.list_accounts_add(lst["id"], [self.alice_id])  # not followed
        self.assertEqual([a["id"] for a in erin.list_accounts(lst["id"])], [self.bob_id])
        self.assertEqual([l["id"] for l in erin.account_lists(self.bob_id)], [lst["id"]])
        events = Events()
        handle = erin.stream_list(lst["id"], events, run_async=True)
        try:
            events.until_heard(lambda: self.bob.status_post("ping for the list"))
            self.carol.status_post("carol is not on the list")
            post = self.bob.status_post("on the list")
            self.assertEqual(events.next("update")["id"], post["id"])
        finally:
            handle.close()
        self.assertEqual(erin.timeline_list(lst["id"], limit=1)[0]["id"], post["id"])
        renamed = erin.list_update(lst["id"], "team", exclusive=True)
        self.assertEqual((renamed["title"], renamed["exclusive"]), ("team", True))
        self.assertNotIn(post["id"], [s["id"] for s in erin.timeline_home(limit=40)], "exclusive lists leave home")
        with self.assertRaises(MastodonNotFoundError):
            self.bob.list(lst["id"])
        erin.list_delete(lst["id"])
        self.assertEqual(erin.lists(), [])

    def test_a_personal_feed_is_a_list_in_the_app(self):
        dave = sign_in("dave")
        posts = [self.carol.status_post(f"#pyfeed {'!' * n} number {n}") for n in (1, 3, 2)]
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {dave.access_token}"
        source = "function rank(input) { return input.posts.sort((a, b) => b.text.length - a.text.length).map(p => p.id); }"
        made = api.post(f"{URL}/api/roost/v1/feeds", json={"name": "Loudest", "sources": ["#pyfeed"], "source": source})
        self.assertEqual(made.status_code, 200, made.text)
        feed = made.json()["id"]
        self.assertEqual(api.post(f"{URL}/api/roost/v1/feeds/{feed}/deploy").status_code, 200)
        self.assertEqual(api.post(f"{URL}/api/roost/v1/feeds/{feed}/subscribe").status_code, 200)
        self.assertIn((feed, "Loudest"), [(l["id"], l["title"]) for l in dave.lists()])
        ranked = dave.timeline_list(feed, limit=40)
        self.assertEqual([s["id"] for s in ranked], [posts[1]["id"], posts[2]["id"], posts[0]["id"]])
        # Paging goes on in the ranked order, as the app asks for it.
        first = dave.timeline_list(feed, limit=1)
        rest = dave.fetch_next(first)
        self.assertEqual([s["id"] for s in rest][:1], [posts[2]["id"]])
        dave.list_delete(feed)
        self.assertNotIn(feed, [l["id"] for l in dave.lists()])

    def test_followed_hashtags(self):
        dave = sign_in("dave")
        tag = dave.tag_follow("FollowMe")
        self.assertTrue(tag["following"])
        self.assertEqual(tag["name"], "followme")
        self.assertIn("followme", [t["name"] for t in dave.followed_tags()])
        post = self.carol.status_post("a post #FollowMe")
        self.assertIn(post["id"], [s["id"] for s in dave.timeline_home(limit=40)])
        self.assertEqual(int(dave.tag("followme")["history"][0]["uses"]), 1)
        self.assertFalse(dave.tag_unfollow("followme")["following"])
        self.assertNotIn(post["id"], [s["id"] for s in dave.timeline_home(limit=40)])

    def test_direct_conversations_and_their_stream(self):
        dave, erin = sign_in("dave"), sign_in("erin")
        events = Events()
        handle = erin.stream_direct(events, run_async=True)
        try:
            # A direct post is its own ping: wait until the stream hears one.
            deadline = time.monotonic() + EVENT_WAIT
            while True:
                dm = dave.status_post("@erin just between us", visibility="direct")
                try:
                    conv = events.next("conversation", wait=0.5)
                    break
                except AssertionError:
                    self.assertLess(time.monotonic(), deadline, "the direct stream never heard a message")
            self.assertEqual([a["username"] for a in conv["accounts"]], ["dave"])
            self.assertTrue(conv["unread"])
            reply = erin.status_reply(dm, "@dave sure", visibility="direct")
            self.assertEqual(events.next("conversation")["last_status"]["id"], reply["id"])
        finally:
            handle.close()
        [mine] = [c for c in dave.conversations() if c["last_status"]["id"] == reply["id"]]
        self.assertTrue(mine["unread"])
        self.assertFalse(dave.conversations_read(mine["id"])["unread"])
        # Mastodon.py has no call for this one; plain HTTP with the same token.
        gone = requests.delete(f"{URL}/api/v1/conversations/{mine['id']}",
                               headers={"Authorization": f"Bearer {dave.access_token}"})
        self.assertEqual(gone.status_code, 200)
        self.assertNotIn(mine["id"], [c["id"] for c in dave.conversations()])
        self.assertEqual(self.alice.conversations(), [], "not a participant")

    def test_reports(self):
        post = self.bob.status_post("something reportable")
        report = self.carol.report(self.bob_id, status_ids=[post["id"]], comment="not nice", category="spam")
        self.assertEqual(report["target_account"]["id"], self.bob_id)
        self.assertEqual((report["category"], report["comment"], report["action_taken"]), ("spam", "not nice", False))
        self.assertEqual(report["status_ids"], [post["id"]])
        with self.assertRaises(MastodonAPIError):
            self.carol.report(self.bob_id, status_ids=[self.alice.status_post("alice's")["id"]])

    def test_filters_hide_and_warn(self):
        erin = sign_in("erin")
        erin.account_follow(self.bob_id)
        hide = erin.create_filter_v2("no spoilers", ["home"], filter_action="hide",
                                     keywords_attributes=[{"keyword": "finale", "whole_word": True}])
        warn = erin.create_filter_v2("careful", ["home", "public"], filter_action="warn",
                                     keywords_attributes=[{"keyword": "crypto", "whole_word": False}])
        self.assertEqual([k["keyword"] for k in hide["keywords"]], ["finale"])
        hidden = self.bob.status_post("the finale was wild")
        warned = self.bob.status_post("cryptocurrency talk")
        plain = self.bob.status_post("nothing to see")
        home = {s["id"]: s for s in erin.timeline_home(limit=40)}
        self.assertNotIn(hidden["id"], home, "hide leaves it out")
        self.assertIn(plain["id"], home)
        [result] = home[warned["id"]]["filtered"]
        self.assertEqual((result["filter"]["title"], result["keyword_matches"]), ("careful", ["crypto"]))
        self.assertEqual(home[plain["id"]]["filtered"], [])
        # Only in their contexts: the public timeline shows the hidden one.
        self.assertIn(hidden["id"], [s["id"] for s in erin.timeline_local(limit=40)])

        kw = erin.add_filter_keyword_v2(hide["id"], "ending", whole_word=False)
        self.assertEqual(len(erin.filter_keywords_v2(hide["id"])), 2)
        erin.delete_filter_keyword_v2(kw["id"])
        entry = erin.add_filter_status_v2(warn["id"], plain["id"])
        self.assertEqual(entry["status_id"], plain["id"])
        home = {s["id"]: s for s in erin.timeline_home(limit=40)}
        self.assertEqual(home[plain["id"]]["filtered"][0]["status_matches"], [entry["id"]])
        erin.delete_filter_status_v2(entry["id"])
        updated = erin.update_filter_v2(hide["id"], title="renamed", filter_action="warn")
        self.assertEqual((updated["title"], updated["filter_action"]), ("renamed", "warn"))
        self.assertIn(hidden["id"], [s["id"] for s in erin.timeline_home(limit=40)])
        erin.delete_filter_v2(hide["id"])
        erin.delete_filter_v2(warn["id"])
        self.assertEqual(erin.filters_v2(), [])

    def test_pinned_posts(self):
        posts = [self.bob.status_post(f"pin candidate {i}") for i in range(2)]
        for p in posts:
            self.assertTrue(self.bob.status_pin(p["id"])["pinned"])
        pinned = self.alice.account_statuses(self.bob_id, pinned=True)
        self.assertEqual([s["id"] for s in pinned], [posts[1]["id"], posts[0]["id"]])
        with self.assertRaises(MastodonAPIError):
            self.alice.status_pin(posts[0]["id"])  # not hers
        self.assertFalse(self.bob.status_unpin(posts[0]["id"])["pinned"])
        self.assertEqual([s["id"] for s in self.alice.account_statuses(self.bob_id, pinned=True)], [posts[1]["id"]])
        # The instance says how many posts a profile may pin, and holds to it.
        limit = self.alice.instance_v2()["configuration"]["accounts"]["max_pinned_statuses"]
        self.assertGreater(limit, 1)
        more = [self.bob.status_post(f"pin filler {i}") for i in range(limit - 1)]
        for p in more:
            self.bob.status_pin(p["id"])
        with self.assertRaises(MastodonAPIError) as e:
            self.bob.status_pin(posts[0]["id"])
        self.assertEqual(e.exception.args[1], 422)
        self.assertEqual(len(self.alice.account_statuses(self.bob_id, pinned=True)), limit)
        for p in more:
            self.bob.status_unpin(p["id"])

    def test_follows_relationships_blocks_and_mutes(self):
        rel = self.carol.account_follow(self.bob_id)
        self.assertTrue(rel["following"])
        self.assertIn(self.carol_id, [a["id"] for a in self.bob.account_followers(self.bob_id)])
        self.assertIn(self.bob_id, [a["id"] for a in self.carol.account_following(self.carol_id)])
        [r] = self.bob.account_relationships([self.carol_id])
        self.assertTrue(r["followed_by"])

        self.carol.account_mute(self.bob_id, duration=3600)
        self.assertIn(self.bob_id, [a["id"] for a in self.carol.mutes()])
        self.carol.account_unmute(self.bob_id)
        self.carol.account_block(self.bob_id)
        self.assertIn(self.bob_id, [a["id"] for a in self.carol.blocks()])
        [r] = self.carol.account_relationships([self.bob_id])
        self.assertTrue(r["blocking"])
        self.assertFalse(r["following"], "a block ends the follow")
        self.carol.account_unblock(self.bob_id)

    def test_follow_requests_for_locked_accounts(self):
        dave, erin = sign_in("dave"), sign_in("erin")
        dave_id, erin_id = dave.me()["id"], erin.me()["id"]
        self.assertTrue(dave.account_update_credentials(locked=True)["locked"])
        secret = dave.status_post("followers only", visibility="private")
        rel = erin.account_follow(dave_id)
        self.assertTrue(rel["requested"])
        self.assertFalse(rel["following"])
        with self.assertRaises(MastodonNotFoundError):
            erin.status(secret["id"])
        self.assertEqual([a["id"] for a in dave.follow_requests()], [erin_id])
        self.assertIn("follow_request", [n["type"] for n in dave.notifications()])
        rel = dave.follow_request_authorize(erin_id)
        self.assertTrue(rel["followed_by"])
        self.assertEqual(erin.status(secret["id"])["id"], secret["id"])
        self.assertEqual(dave.follow_requests(), [])
        self.alice.account_follow(dave_id)
        dave.follow_request_reject(self.alice_id)
        [r] = self.alice.account_relationships([dave_id])
        self.assertFalse(r["requested"] or r["following"])

    def test_timelines_paginate_through_link_headers(self):
        tag = "pagetest"
        ids = [self.bob.status_post(f"page {i} #{tag}")["id"] for i in range(7)]
        page = self.alice.timeline_hashtag(tag, limit=3)
        seen = [s["id"] for s in page]
        while True:
            page = self.alice.fetch_next(page)
            if not page:
                break
            seen += [s["id"] for s in page]
        self.assertEqual(seen, list(reversed(ids)))
        older = self.alice.timeline_hashtag(tag, max_id=ids[2], limit=2)
        self.assertEqual([s["id"] for s in older], [ids[1], ids[0]])
        newer = self.alice.fetch_previous(older)
        self.assertEqual([s["id"] for s in newer], [ids[3], ids[2]])
        self.assertIn(ids[-1], [s["id"] for s in self.alice.timeline_local(limit=40)])
        tagged = self.alice.account_statuses(self.bob_id, tagged=tag, limit=40)
        self.assertEqual([s["id"] for s in tagged], list(reversed(ids)))
        self.assertEqual(self.alice.account_statuses(self.bob_id, only_media=True), [])
        self.alice.account_follow(self.bob_id)
        self.assertIn(ids[-1], [s["id"] for s in self.alice.timeline_home(limit=40)])

    def test_notifications(self):
        post = self.alice.status_post("notify me")
        self.carol.status_favourite(post["id"])
        self.carol.status_post(f"@alice look")
        kinds = [n["type"] for n in self.alice.notifications(limit=40)]
        self.assertIn("favourite", kinds)
        self.assertIn("mention", kinds)
        mentions = self.alice.notifications(types=["mention"])
        self.assertTrue(all(n["type"] == "mention" for n in mentions))
        one = self.alice.notifications(id=mentions[0]["id"])
        self.assertEqual(one["id"], mentions[0]["id"])
        self.alice.notifications_dismiss(mentions[0]["id"])
        self.assertNotIn(mentions[0]["id"], [n["id"] for n in self.alice.notifications(limit=40)])
        self.alice.notifications_clear()
        self.assertEqual(self.alice.notifications(), [])

    def test_streaming_over_server_sent_events(self):
        events = Events()
        handle = self.bob.stream_user(events, run_async=True)
        try:
            self.bob.account_follow(self.alice_id)
            events.until_heard(lambda: self.bob.status_post("ping", visibility="private"))
            post = self.alice.status_post("live over SSE")
            self.assertEqual(events.update(post["id"])["account"]["username"], "alice")
            self.alice.status_favourite(self.bob.status_post("bob's own")["id"])
            notification = events.next("notification")
            self.assertEqual(notification["type"], "favourite")
            self.alice.status_delete(post["id"])
            self.assertEqual(str(events.next("delete")), str(post["id"]))
        finally:
            handle.close()

    def test_streaming_over_a_websocket(self):
        events = Events()
        tagged = Events()
        ws = self.carol.stream_open_websocket()
        try:
            self.carol.stream_public(events, local=True, websocket_handle=ws)
            self.carol.stream_hashtag("wstest", tagged, websocket_handle=ws)
            events.until_heard(lambda: self.carol.status_post("ping #WsTest"))
            tagged.until_heard(lambda: self.carol.status_post("ping #WsTest"))
            post = self.bob.status_post("over the websocket #WsTest")
            self.assertEqual(events.update(post["id"])["content"], post["content"])
            self.assertEqual(tagged.update(post["id"])["account"]["username"], "bob")
        finally:
            ws.close()

    def test_search_trends_and_suggestions(self):
        self.bob.account_update_credentials(display_name="Robert Builder")
        post = self.bob.status_post("searchable #SearchTrend")
        self.carol.status_post("me too #searchtrend")
        found = self.alice.search_v2("bo", result_type="accounts")
        self.assertEqual([a["username"] for a in found["accounts"]][:1], ["bob"])
        by_name = self.alice.account_search("builder")
        self.assertIn(self.bob_id, [a["id"] for a in by_name])
        tags = self.alice.search_v2("#searcht", result_type="hashtags")["hashtags"]
        self.assertEqual([t["name"] for t in tags], ["searchtrend"])
        by_url = self.alice.search_v2(post["url"])
        self.assertEqual([s["id"] for s in by_url["statuses"]], [post["id"]])
        trending = self.alice.trending_tags()
        self.assertIn("searchtrend", [t["name"] for t in trending])
        top = next(t for t in trending if t["name"] == "searchtrend")
        self.assertEqual(int(top["history"][0]["accounts"]), 2)
        self.assertEqual(len(top["history"]), 7)
        suggested = [s["account"]["id"] for s in self.alice.suggestions_v2()]
        self.assertNotIn(self.alice_id, suggested)
        self.assertEqual(self.alice.custom_emojis(), [])
        self.assertEqual(self.alice.announcements(), [])
        self.assertEqual(self.alice.preferences()["posting:default:visibility"], "public")

    def test_markers(self):
        post = self.bob.status_post("mark me")
        saved = self.alice.markers_set(["home"], [post["id"]])
        self.assertEqual(saved["home"]["last_read_id"], post["id"])
        again = self.alice.markers_set(["home"], [post["id"]])
        self.assertEqual(again["home"]["version"], saved["home"]["version"] + 1)
        got = self.alice.markers_get(["home", "notifications"])
        self.assertEqual(got["home"]["last_read_id"], post["id"])
        self.assertNotIn("notifications", got)

    def test_scopes_and_bad_tokens(self):
        reader = sign_in("carol", scopes=["read"])
        self.assertEqual(reader.me()["username"], "carol")
        with self.assertRaises(MastodonAPIError) as e:
            reader.status_post("no write scope")
        self.assertEqual(e.exception.args[1], 403)
        broken = Mastodon(access_token="not-a-token", api_base_url=URL)
        with self.assertRaises(MastodonUnauthorizedError):
            broken.account_verify_credentials()


if __name__ == "__main__":
    unittest.main(verbosity=2)
