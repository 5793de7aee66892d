#!/usr/bin/env python3
"""Drives Slack's official Python SDK (slack_sdk.scim.SCIMClient, SCIM v1) against a SCIM server.

Proves that a client written for Slack works unchanged against the scimsync emulator: every
SCIMClient method is called, and the statuses and bodies the SDK parses are checked against what
Slack answers (FACTS.md §1.4, §9.1, §9.4; the SDK's own live integration tests).

Environment:
  SCIM_BASE_URL  the v1 base URL, ending with "/" (e.g. http://127.0.0.1:4000/scim/v1/)
  SCIM_TOKEN     a token the server accepts
  SCIM_GROUP_FILTERS  "honour" (default) or "refuse": what a /Groups displayName filter gets
                 (Slack documents none, FACTS §5; a client must work with either)

Exit status: 0 when every step passed, 1 when any failed, 2 on bad usage, 3 when slack_sdk is
missing. Each failed step is reported on stderr with the SDK response that broke it.
"""

import os
import sys
import time
import traceback
import uuid

try:
    import slack_sdk
    from slack_sdk.scim import SCIMClient, SCIMResponse, User, Group
    from slack_sdk.scim.v1.user import UserName, UserEmail, UserAddress, UserPhoneNumber
    from slack_sdk.scim.v1.group import GroupMember
except ImportError as e:  # pragma: no cover - exercised only on machines without the SDK
    print(
        f"slack_sdk is not importable ({e}); install it with: "
        "python3 -m pip install 'slack_sdk>=3.30,<4'",
        file=sys.stderr,
    )
    sys.exit(3)

CORE = "urn:scim:schemas:core:1.0"
ENTERPRISE = "urn:scim:schemas:extension:enterprise:1.0"


class StepFailed(AssertionError):
    pass


def describe(resp):
    """One line per interesting fact of an SDK response, for failure messages."""
    if not isinstance(resp, SCIMResponse):
        return repr(resp)
    return (
        f"url={resp.url} status={resp.status_code} "
        f"content-type={resp.headers.get('Content-Type') or resp.headers.get('content-type')} "
        f"raw_body={resp.raw_body[:2000]!r}"
    )


def expect_status(resp, status):
    assert resp.status_code == status, f"expected HTTP {status}, got {resp.status_code}: {describe(resp)}"


def expect_error(resp, status, code):
    """Slack's v1 error: HTTP status, and Errors{description: "<code>…", code: <status>}."""
    expect_status(resp, status)
    errors = resp.errors
    assert errors is not None, f"no Errors object in the body: {describe(resp)}"
    assert errors.description.split(" ")[0] == code, (
        f"Errors.description should start with {code!r}: {describe(resp)}"
    )
    assert errors.code == status, f"Errors.code should be {status}: {describe(resp)}"


class Compat:
    def __init__(self, base_url, token):
        self.client = SCIMClient(token=token, base_url=base_url)
        self.bad_client = SCIMClient(token="xoxp-not-the-token", base_url=base_url)
        # Unique names, so a rerun against a long-lived server does not collide.
        self.tag = uuid.uuid4().hex[:6]
        self.state = {}

    # ---------------------------------------------------------------- metadata and auth

    def service_provider_configs(self):
        resp = self.client.api_call(http_verb="GET", path="ServiceProviderConfigs")
        expect_status(resp, 200)
        body = resp.body
        assert body is not None, f"body did not parse (must start with '{{'): {describe(resp)}"
        assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken", describe(resp)
        for capability in ("patch", "bulk", "filter", "changePassword", "sort", "etag"):
            assert isinstance(body[capability]["supported"], bool), f"{capability}: {describe(resp)}"
        # Slack answers this one even to a bogus token (FACTS §1.1).
        resp = self.bad_client.api_call(http_verb="GET", path="ServiceProviderConfigs")
        expect_status(resp, 200)

    def bad_token(self):
        expect_error(self.bad_client.search_users(count=1, start_index=1), 401, "invalid_authentication")
        expect_error(self.bad_client.search_groups(count=1, start_index=1), 401, "invalid_authentication")
        owner = self.state.get("owner_id", "U0000000000")
        expect_error(self.bad_client.read_user(owner), 401, "invalid_authentication")

    # ---------------------------------------------------------------- users

    def search_users_paging(self):
        first = self.client.search_users(count=1, start_index=1)
        expect_status(first, 200)
        assert first.body["totalResults"] >= 2, describe(first)
        assert first.body["itemsPerPage"] == 1 and first.body["startIndex"] == 1, describe(first)
        assert len(first.users) == 1, describe(first)
        second = self.client.search_users(count=1, start_index=2)
        expect_status(second, 200)
        assert second.body["startIndex"] == 2 and len(second.users) == 1, describe(second)
        assert second.users[0].id != first.users[0].id, "pages 1 and 2 returned the same user"

        everyone = self.client.search_users(count=1000, start_index=1)
        expect_status(everyone, 200)
        users = everyone.users
        assert len(users) == everyone.body["totalResults"], describe(everyone)
        for u in users:
            assert isinstance(u, User) and u.id and u.user_name, f"unparsed user {u!r}"
        # Listings contain the bot (FACTS TL;DR 3).
        emails = [e.value for u in users for e in (u.emails or [])]
        assert any(e.endswith("@slack-bots.com") for e in emails), f"no bot in {emails}"
        owner = next(u for u in users if u.user_name == "primary-owner")
        self.state["owner_id"] = owner.id

    def create_user_model(self):
        user = User(
            schemas=[CORE, ENTERPRISE],
            user_name=f"Ada.Lovelace{self.tag}",
            nick_name=f"ada.lovelace{self.tag}",
            name=UserName(given_name="Ada", family_name="Lovelace"),
            display_name="Ada",
            title="Analyst",
            emails=[UserEmail(value=f"ada-{self.tag}@example.com", primary=True)],
            # Slack's request mapping: type mobile → primaryPhone, type work → mobilePhone.
            phone_numbers=[
                UserPhoneNumber(value="555-4444", type="mobile"),
                UserPhoneNumber(value="555-5555", type="work"),
            ],
            addresses=[UserAddress(locality="London", country="GB", primary=True)],
            **{ENTERPRISE: {"employeeNumber": "1815", "department": "Engines"}},
        )
        resp = self.client.create_user(user)
        expect_status(resp, 201)
        created = resp.user
        assert created.id, describe(resp)
        # userName is lower-cased (FACTS TL;DR 5).
        assert created.user_name == f"ada.lovelace{self.tag}", describe(resp)
        assert created.name.given_name == "Ada" and created.name.family_name == "Lovelace", describe(resp)
        assert created.display_name == "Ada" and created.title == "Analyst", describe(resp)
        assert created.active is True, describe(resp)
        assert created.emails[0].value == f"ada-{self.tag}@example.com", describe(resp)
        assert created.emails[0].primary is True, describe(resp)
        assert created.addresses[0].locality == "London", describe(resp)
        # Response mapping swaps the labels (FACTS TL;DR 1).
        assert any(p.type == "mobile" and p.value == "555-5555" for p in created.phone_numbers), describe(resp)
        assert any(p.primary is True and p.value == "555-4444" for p in created.phone_numbers), describe(resp)
        enterprise = created.unknown_fields.get(ENTERPRISE)
        assert enterprise is not None, f"no enterprise extension: {describe(resp)}"
        assert enterprise["employee_number"] == "1815" and enterprise["department"] == "Engines", describe(resp)
        assert created.meta.location.endswith(f"/Users/{created.id}"), describe(resp)
        assert created.groups == [], describe(resp)
        self.state["ada"] = created.id

    def create_user_dict(self):
        # A plain dict without "schemas": the SDK injects ["urn:scim:schemas:core:1.0"].
        for key in ("grace", "katherine"):
            resp = self.client.create_user(
                {"user_name": f"{key}{self.tag}", "emails": [{"value": f"{key}-{self.tag}@example.com"}]}
            )
            expect_status(resp, 201)
            assert resp.user.user_name == f"{key}{self.tag}", describe(resp)
            assert resp.user.active is True, describe(resp)
            self.state[key] = resp.user.id

    def read_user(self):
        resp = self.client.read_user(self.state["ada"])
        expect_status(resp, 200)
        u = resp.user
        assert u.id == self.state["ada"] and u.user_name == f"ada.lovelace{self.tag}", describe(resp)
        assert u.name.given_name == "Ada" and u.title == "Analyst", describe(resp)
        assert u.unknown_fields[ENTERPRISE]["employee_number"] == "1815", describe(resp)
        resp = self.client.read_user("U0NOSUCHUSER")
        assert resp.status_code >= 400 and resp.errors is not None, describe(resp)

    def search_users_filters(self):
        resp = self.client.search_users(count=10, start_index=1, filter=f'userName eq "ada.lovelace{self.tag}"')
        expect_status(resp, 200)
        assert [u.id for u in resp.users] == [self.state["ada"]], describe(resp)
        assert resp.body["totalResults"] == 1, describe(resp)
        resp = self.client.search_users(count=10, start_index=1, filter=f'email eq "grace-{self.tag}@example.com"')
        expect_status(resp, 200)
        assert [u.id for u in resp.users] == [self.state["grace"]], describe(resp)
        resp = self.client.search_users(count=10, start_index=1, filter='userName eq "nobody-here"')
        expect_status(resp, 200)
        assert resp.users == [] and resp.body["totalResults"] == 0, describe(resp)
        # The SDK's live integration test: a malformed filter.
        expect_error(self.client.search_users(count=1, start_index=1, filter="foo"), 400, "no_filters")

    def patch_user(self):
        resp = self.client.patch_user(self.state["ada"], User(title="Chief Analyst"))
        expect_status(resp, 200)
        u = resp.user
        assert u.id == self.state["ada"] and u.title == "Chief Analyst", describe(resp)
        # A v1 PATCH leaves what it does not send alone.
        assert u.name.given_name == "Ada" and u.display_name == "Ada", describe(resp)
        assert u.unknown_fields[ENTERPRISE]["department"] == "Engines", describe(resp)
        # A dict partial with a v1 "operation": "delete" entry.
        resp = self.client.patch_user(
            self.state["ada"],
            {"schemas": [CORE], "phone_numbers": [{"value": "555-4444", "operation": "delete"}]},
        )
        expect_status(resp, 200)
        assert not any(p.value == "555-4444" for p in resp.user.phone_numbers or []), describe(resp)

    def update_user(self):
        # SDK practice: PUT the user previously read, read-only fields (id, meta, groups,
        # profileUrl, externalId) included (FACTS §2.4, §9.4 item 5).
        current = self.client.read_user(self.state["ada"]).user
        current.title = "Director"
        current.active = True
        # slack_sdk's snake-casing turns a list of strings into a list of lists
        # ("schemas": [["urn…"]]), a client-side bug (FACTS §9.1); send it as Slack expects.
        current.schemas = [CORE, ENTERPRISE]
        resp = self.client.update_user(current)
        expect_status(resp, 200)
        u = resp.user
        assert u.id == self.state["ada"] and u.title == "Director", describe(resp)
        assert u.name.given_name == "Ada" and u.display_name == "Ada", describe(resp)
        assert u.unknown_fields[ENTERPRISE]["employee_number"] == "1815", describe(resp)

        # PUT blanks what it does not send (FACTS TL;DR 8).
        resp = self.client.update_user(
            User(
                id=self.state["katherine"],
                schemas=[CORE],
                user_name=f"katherine{self.tag}",
                nick_name=f"katherine{self.tag}",
                emails=[UserEmail(value=f"katherine-{self.tag}@example.com", primary=True)],
                title="Mathematician",
                active=True,
            )
        )
        expect_status(resp, 200)
        assert resp.user.title == "Mathematician" and resp.user.active is True, describe(resp)
        resp = self.client.update_user(
            {
                "id": self.state["katherine"],
                "schemas": [CORE],
                "userName": f"katherine{self.tag}",
                "emails": [{"value": f"katherine-{self.tag}@example.com", "primary": True}],
                "active": True,
            }
        )
        expect_status(resp, 200)
        assert resp.user.title in ("", None), f"PUT should blank title: {describe(resp)}"

    def delete_user(self):
        resp = self.client.delete_user(self.state["ada"])
        # v1 DELETE answers 200 with an empty body (FACTS §1.4).
        expect_status(resp, 200)
        assert resp.raw_body == "", describe(resp)
        # Deactivated, not gone (FACTS TL;DR 2); seen late, so polled as Slack's own Java
        # remote tests do (FACTS TL;DR 16).
        deadline = time.monotonic() + 15
        while True:
            resp = self.client.read_user(self.state["ada"])
            expect_status(resp, 200)
            if resp.user.active is False or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert resp.user.active is False, describe(resp)
        resp = self.client.search_users(count=10, start_index=1, filter=f'userName eq "ada.lovelace{self.tag}"')
        expect_status(resp, 200)
        assert [(u.id, u.active) for u in resp.users] == [(self.state["ada"], False)], describe(resp)
        # DELETE is idempotent (the Java SDK's remote tests call it repeatedly).
        expect_status(self.client.delete_user(self.state["ada"]), 200)

    # ---------------------------------------------------------------- groups

    def search_groups(self):
        resp = self.client.search_groups(count=10, start_index=1)
        expect_status(resp, 200)
        groups = resp.groups
        assert all(isinstance(g, Group) and g.id and g.display_name for g in groups), describe(resp)
        assert "Team Admins" in [g.display_name for g in groups], describe(resp)
        assert resp.body["totalResults"] >= 1, describe(resp)
        expect_error(self.client.search_groups(count=1, start_index=1, filter="foo"), 400, "no_filters")

    def create_group(self):
        resp = self.client.create_group(
            Group(
                schemas=[CORE],
                display_name=f"Compat Engineers {self.tag}",
                members=[GroupMember(value=self.state["grace"])],
            )
        )
        expect_status(resp, 201)
        g = resp.group
        assert g.id and g.display_name == f"Compat Engineers {self.tag}", describe(resp)
        assert [m.value for m in g.members] == [self.state["grace"]], describe(resp)
        assert g.meta.location.endswith(f"/Groups/{g.id}"), describe(resp)
        self.state["group"] = g.id

    def read_group(self):
        resp = self.client.read_group(self.state["group"])
        expect_status(resp, 200)
        g = resp.group
        assert g.id == self.state["group"], describe(resp)
        assert [m.value for m in g.members] == [self.state["grace"]], describe(resp)
        assert g.members[0].display, describe(resp)
        # Membership shows in the user's read-only groups.
        user = self.client.read_user(self.state["grace"]).user
        assert [x.value for x in user.groups] == [self.state["group"]], f"groups of grace: {user.to_dict()}"
        resp = self.client.search_groups(
            count=10, start_index=1, filter=f'displayName eq "Compat Engineers {self.tag}"'
        )
        if os.environ.get("SCIM_GROUP_FILTERS", "honour") == "refuse":
            expect_error(resp, 400, "invalid_query")
        else:
            expect_status(resp, 200)
            assert [x.id for x in resp.groups] == [self.state["group"]], describe(resp)

    def patch_group(self):
        gid = self.state["group"]
        # v1 member add: a partial group; Slack answers 204 without a body (FACTS §1.4).
        resp = self.client.patch_group(gid, Group(members=[GroupMember(value=self.state["katherine"])]))
        expect_status(resp, 204)
        assert resp.raw_body == "", describe(resp)
        members = [m.value for m in self.client.read_group(gid).group.members]
        assert sorted(members) == sorted([self.state["grace"], self.state["katherine"]]), members
        # v1 member removal: "operation": "delete" on the entry (the Java SDK's form).
        resp = self.client.patch_group(
            gid, {"schemas": [CORE], "members": [{"value": self.state["grace"], "operation": "delete"}]}
        )
        expect_status(resp, 204)
        members = [m.value for m in self.client.read_group(gid).group.members]
        assert members == [self.state["katherine"]], members
        # Rename.
        resp = self.client.patch_group(gid, Group(display_name=f"Compat Renamed {self.tag}"))
        expect_status(resp, 204)
        assert self.client.read_group(gid).group.display_name == f"Compat Renamed {self.tag}"

    def update_group(self):
        gid = self.state["group"]
        resp = self.client.update_group(
            Group(
                id=gid,
                schemas=[CORE],
                display_name=f"Compat Final {self.tag}",
                members=[GroupMember(value=self.state["grace"]), GroupMember(value=self.state["katherine"])],
            )
        )
        expect_status(resp, 200)
        g = resp.group
        assert g.id == gid and g.display_name == f"Compat Final {self.tag}", describe(resp)
        assert sorted(m.value for m in g.members) == sorted([self.state["grace"], self.state["katherine"]]), describe(
            resp
        )
        # PUT replaces the member list.
        resp = self.client.update_group(
            {"id": gid, "schemas": [CORE], "displayName": f"Compat Final {self.tag}", "members": []}
        )
        expect_status(resp, 200)
        assert resp.group.members == [], describe(resp)

    def delete_group(self):
        gid = self.state["group"]
        resp = self.client.delete_group(gid)
        expect_status(resp, 204)
        assert resp.raw_body == "", describe(resp)
        # Group DELETE is permanent.
        resp = self.client.read_group(gid)
        assert resp.status_code >= 400 and resp.errors is not None, describe(resp)
        resp = self.client.search_groups(count=1000, start_index=1)
        assert gid not in [g.id for g in resp.groups], describe(resp)


STEPS = [
    "service_provider_configs",
    "search_users_paging",
    "bad_token",
    "create_user_model",
    "create_user_dict",
    "read_user",
    "search_users_filters",
    "patch_user",
    "update_user",
    "search_groups",
    "create_group",
    "read_group",
    "patch_group",
    "update_group",
    "delete_group",
    "delete_user",
]


def main():
    base_url = os.environ.get("SCIM_BASE_URL")
    token = os.environ.get("SCIM_TOKEN")
    if not base_url or not token:
        print("usage: SCIM_BASE_URL=http://…/scim/v1/ SCIM_TOKEN=… slack_sdk_compat.py", file=sys.stderr)
        return 2
    if not base_url.endswith("/"):
        base_url += "/"  # the SDK builds f"{base_url}{path}"
    print(f"slack_sdk {slack_sdk.version.__version__} against {base_url}")
    compat = Compat(base_url, token)
    failed = []
    for name in STEPS:
        try:
            getattr(compat, name)()
        except Exception as e:  # AssertionError, or the SDK choking on a body
            failed.append(name)
            print(f"FAIL {name}: {type(e).__name__}: {e}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
        else:
            print(f"ok   {name}")
    print(f"slack_sdk compat: {len(STEPS) - len(failed)} steps ok, {len(failed)} failing")
    if failed:
        print(f"failing steps: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
