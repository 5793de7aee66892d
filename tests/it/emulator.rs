//! The emulator over real HTTP, both dialects: paging, CRUD status codes, Slack's uniqueness
//! and naming rules, filters, auth and error shapes, groups, rate limits and write locks,
//! faults, counters, seeding and persistence, and the `scimsync emulator` binary; and the
//! settings that make it as unkind as Slack (read lag, duplicate group names, dropped
//! profile data, channel names, phone write-back).

use std::time::Duration;

use reqwest::Method;
use scimsync::emulator::{
    EmulatorConfig, Faults, GroupNames, ProfileErrors, Snapshot, Store, StoredUser,
};
use scimsync::scim::Version;
use scimsync::scim::limits::Endpoint;
use scimsync::scim::types::urn;
use serde_json::{Value, json};

use crate::harness::{BOTH, org, org_with, reply};

fn people(n: usize) -> Store {
    let users = (0..n)
        .map(|i| StoredUser::new(&format!("user{i}"), &format!("user{i}@example.com")))
        .collect();
    Store::from_snapshot(
        Snapshot {
            users,
            groups: vec![],
        },
        'W',
        1,
        "test",
    )
    .unwrap()
}

#[tokio::test]
async fn paging_is_one_based_defaults_to_10_and_clamps_to_1000() {
    let o = org_with(EmulatorConfig::default(), people(1005)).await;
    for v in BOTH {
        let r = o.get(v, "Users").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["totalResults"], 1005);
        assert_eq!(r.body["itemsPerPage"], 10);
        assert_eq!(r.body["startIndex"], 1);
        assert_eq!(r.body["Resources"][0]["userName"], "user0");

        let r = o.get(v, "Users?count=5000").await;
        assert_eq!(r.body["itemsPerPage"], 1000, "count is silently clamped");

        let r = o.get(v, "Users?startIndex=2&count=1").await;
        assert_eq!(r.body["itemsPerPage"], 1);
        assert_eq!(r.body["startIndex"], 2);
        assert_eq!(r.body["Resources"][0]["userName"], "user1");

        let r = o.get(v, "Users?startIndex=1001&count=1000").await;
        assert_eq!(r.body["itemsPerPage"], 5);
        let r = o.get(v, "Users?startIndex=2000").await;
        assert_eq!(
            r.body["Resources"],
            json!([]),
            "an empty page still has Resources"
        );

        let schema = if v == Version::V1 {
            urn::CORE_V1
        } else {
            urn::LIST_V2
        };
        assert_eq!(r.body["schemas"], json!([schema]));
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json; charset=utf-8")
        );
    }
}

#[tokio::test]
async fn user_lifecycle_status_codes_per_version() {
    let o = org().await;
    for v in BOTH {
        let email = format!("ada-{v}@example.com");
        let id = o.create_user(v, &format!("Ada-{v}"), &email).await;
        assert!(id.starts_with('U') && id.len() == 11, "{id}");

        let r = o.get(v, &format!("Users/{id}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["userName"], format!("ada-{v}"), "lower-cased");
        assert_eq!(r.body["nickName"], format!("ada-{v}"));
        assert_eq!(r.body["externalId"], "");
        assert_eq!(r.body["active"], true);
        assert_eq!(r.body["schemas"][0], v.user_urn());
        let location = r.body["meta"]["location"].as_str().unwrap();
        assert!(
            location.ends_with(&format!("/scim/{v}/Users/{id}")),
            "{location}"
        );
        assert!(r.body["meta"]["created"].as_str().unwrap().len() >= 25);

        let patch = match v {
            Version::V1 => json!({"schemas":[urn::CORE_V1],"title":"Engineer"}),
            Version::V2 => json!({"schemas":[urn::PATCH_OP_V2],
                "Operations":[{"op":"replace","path":"title","value":"Engineer"}]}),
        };
        let r = o.patch(v, &format!("Users/{id}"), patch).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body["title"], "Engineer",
            "PATCH answers with the full user"
        );

        let r = o.delete(v, &format!("Users/{id}")).await;
        match v {
            Version::V1 => assert_eq!((r.status, r.raw.as_str()), (200, "")),
            Version::V2 => assert_eq!(r.status, 204),
        }
        let again = o.delete(v, &format!("Users/{id}")).await;
        assert!(again.status < 300, "DELETE is idempotent");

        // Deactivated, never deleted: readable, listed, still holding the email.
        let r = o.get(v, &format!("Users/{id}")).await;
        assert_eq!(r.body["active"], false);
        let r = o
            .get(v, &format!("Users?filter=email eq \"{email}\""))
            .await;
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(r.body["Resources"][0]["active"], false);

        let reactivate = match v {
            Version::V1 => json!({"schemas":[urn::CORE_V1],"active":true}),
            Version::V2 => json!({"schemas":[urn::PATCH_OP_V2],
                "Operations":[{"op":"Replace","path":"active","value":true}]}),
        };
        let r = o.patch(v, &format!("Users/{id}"), reactivate).await;
        assert_eq!(r.body["active"], true);

        // PUT blanks what is not sent, including `active`.
        let r = o
            .put(
                v,
                &format!("Users/{id}"),
                json!({"schemas":[v.user_urn()],
                "userName": format!("ada-{v}"), "emails":[{"value": email}]}),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["title"], "");
        assert_eq!(r.body["active"], false);
    }
}

#[tokio::test]
async fn email_and_user_name_are_unique_across_deactivated_accounts() {
    let o = org().await;
    for v in BOTH {
        let id = o
            .create_user(v, &format!("grace{v}"), &format!("grace{v}@example.com"))
            .await;
        o.delete(v, &format!("Users/{id}")).await;
        let r = o
            .post(
                v,
                "Users",
                json!({"schemas":[v.user_urn()], "userName": format!("other{v}"),
                "emails":[{"value": format!("GRACE{v}@Example.com")}]}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (409, "email_taken"));
        let r = o
            .post(
                v,
                "Users",
                json!({"schemas":[v.user_urn()], "userName": format!("GRACE{v}"),
                "emails":[{"value": format!("new{v}@example.com")}]}),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (409, "username_taken"));
        match v {
            Version::V1 => {
                assert_eq!(r.body["Errors"]["code"], 409);
                assert_eq!(
                    r.body["Errors"]["description"],
                    format!("username_taken (username=grace{v})")
                );
            }
            Version::V2 => {
                assert_eq!(r.body["schemas"], json!([urn::ERROR_V2]));
                assert_eq!(r.body["status"], 409);
            }
        }
    }
}

#[tokio::test]
async fn slack_name_rules_with_slack_error_codes() {
    let o = org().await;
    for v in BOTH {
        let post = |body: Value| o.post(v, "Users", body);
        let base = |extra: Value| {
            let mut b = json!({"schemas":[v.user_urn()],"userName":"valid","emails":[{"value":"valid@example.com"}]});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b
        };
        let cases = [
            (
                json!({"userName": "a".repeat(22)}),
                400,
                "username_too_long",
            ),
            (json!({"userName": "everyone"}), 400, "username_not_allowed"),
            (json!({"userName": ""}), 400, "username_empty"),
            (
                json!({"displayName": "x".repeat(81)}),
                400,
                "invalid_name_maxlength",
            ),
            (
                json!({"displayName": "ada@home"}),
                400,
                "invalid_name_specials",
            ),
            (
                json!({"name": {"givenName": " ", "familyName": ""}}),
                400,
                "invalid_name_required",
            ),
            (json!({"emails": []}), 400, "email_empty"),
            (
                json!({"emails": [{"value": "not-an-email"}]}),
                400,
                "email_invalid",
            ),
            (
                json!({"user_name": "snake"}),
                400,
                "invalid_request_payload",
            ),
        ];
        for (extra, status, code) in cases {
            let r = post(base(extra.clone())).await;
            assert_eq!((r.status, r.code().as_str()), (status, code), "{v} {extra}");
        }
        let r = post(json!({"userName":"x","emails":[{"value":"x@example.com"}]})).await;
        assert_eq!(r.code(), "missing_schema_element");
        // Slack rewrites an email given as userName.
        let r = post(base(json!({"userName": format!("Jo.Doe{v}@Example.com"),
            "emails":[{"value": format!("jo{v}@example.com")}]})))
        .await;
        assert_eq!(r.status, 201, "{}", r.raw);
        assert_eq!(r.body["userName"], format!("jo.doe{v}"));
        // An update past 21 characters is `long_username` (FACTS §6.3).
        let id = r.body["id"].as_str().unwrap();
        let too_long = match v {
            Version::V1 => json!({"schemas":[urn::CORE_V1],"userName":"b".repeat(22)}),
            Version::V2 => {
                json!({"schemas":[urn::PATCH_OP_V2],"Operations":[{"op":"replace","path":"userName","value":"b".repeat(22)}]})
            }
        };
        let r = o.patch(v, &format!("Users/{id}"), too_long).await;
        assert_eq!(r.code(), "long_username");
    }
}

#[tokio::test]
async fn profile_data_renders_with_slack_placeholders_and_phone_swap() {
    let o = org().await;
    for v in BOTH {
        let ent = v.enterprise_urn();
        let r = o
            .post(v, "Users", json!({"schemas":[v.user_urn(), ent], "userName": format!("pat{v}"),
                "emails":[{"value": format!("pat{v}@example.com"), "type":"work"}],
                "phoneNumbers":[{"value":"555-5555","type":"work"},{"value":"555-4444","type":"mobile"}],
                ent: {"department":"R&D","employeeNumber":"E-7"}}))
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
        let u = &r.body;
        assert_eq!(u["schemas"], json!([v.user_urn(), ent]));
        assert_eq!(u[ent]["department"], "R&D");
        assert_eq!(u[ent]["costCenter"], Value::Null, "null placeholders");
        assert_eq!(u[ent]["manager"], json!({"managerId": null}));
        assert_eq!(u["roles"], json!([{"value": null, "primary": true}]));
        assert_eq!(u["emails"][1], json!({"value": "", "primary": false}));
        // Sent as work → mobilePhone, labelled "mobile"; sent as mobile → primaryPhone.
        assert_eq!(
            u["phoneNumbers"],
            json!([{"value":"555-5555","type":"mobile"},{"value":"555-4444","primary":true}])
        );
    }
}

#[tokio::test]
async fn filters_take_slack_syntaxes_and_bad_filters_get_400() {
    let o = org().await;
    for v in BOTH {
        o.create_user(v, &format!("carly{v}"), &format!("carly{v}@example.com"))
            .await;
        o.create_user(v, &format!("carl{v}"), &format!("carl{v}@other.org"))
            .await;
        let hits = |f: String| {
            let o = &o;
            async move {
                let r = o.get(v, &format!("Users?filter={}", urlencode(&f))).await;
                assert_eq!(r.status, 200, "{f}: {}", r.raw);
                r.body["totalResults"].as_u64().unwrap()
            }
        };
        assert_eq!(hits(format!("userName eq \"carly{v}\"")).await, 1);
        assert_eq!(hits(format!("USERNAME Eq 'CARLY{v}'")).await, 1);
        assert_eq!(hits(format!("username eq carly{v}")).await, 1);
        assert_eq!(hits(format!("email eq \"CARLY{v}@example.com\"")).await, 1);
        assert_eq!(
            hits(format!("userName sw \"carl\" and userName co \"{v}\"")).await,
            2
        );
        assert_eq!(
            hits(format!(
                "email co \"{v}@other.org\" or userName eq carly{v}"
            ))
            .await,
            2
        );
        assert_eq!(hits("restricted eq 1".into()).await, 0);
        assert_eq!(
            hits("ultra_restricted eq '0'".into()).await,
            o.emu.with_store(|s| s.user_count()) as u64
        );

        let r = o.get(v, "Users?filter=foo").await;
        assert_eq!((r.status, r.code().as_str()), (400, "no_filters"));
        let r = o
            .get(v, &format!("Users?filter={}", urlencode("title eq x")))
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "invalid_query"));
        let r = o.get(v, "Groups?filter=foo").await;
        assert_eq!(r.status, 400);
    }
    // The exact v1 body Slack sends (FACTS §5).
    let r = o.get(Version::V1, "Users?filter=foo").await;
    assert_eq!(
        r.body,
        json!({"Errors":{"description":"no_filters (is_aggregate_call=1)","code":400}})
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn auth_errors_and_endpoint_errors() {
    let o = org().await;
    for v in BOTH {
        let bad = o
            .http
            .get(o.url(v, "Users"))
            .bearer_auth("xoxp-wrong")
            .send()
            .await
            .unwrap();
        let r = reply(bad).await;
        assert_eq!(r.status, 401);
        // v1 shape on both versions, as Slack's own v2 tests observe.
        assert_eq!(
            r.body,
            json!({"Errors":{"description":"invalid_authentication","code":401}})
        );
        let none = reply(o.http.get(o.url(v, "Users")).send().await.unwrap()).await;
        assert_eq!(
            (none.status, none.code().as_str()),
            (401, "missing_authentication")
        );
        // ServiceProviderConfigs answers even a bogus token.
        for path in ["ServiceProviderConfigs", "ServiceProviderConfig"] {
            let r = reply(
                o.http
                    .get(o.url(v, path))
                    .bearer_auth("dummy")
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(r.body["filter"]["supported"], false);
        }
        let r = o.get(v, "Users/UNOSUCHUSER").await;
        assert_eq!((r.status, r.code().as_str()), (404, "no_such_user"));
        if v == Version::V2 {
            assert_eq!(r.body["schemas"], json!([urn::ERROR_V2]));
            assert_eq!(r.body["detail"], "no_such_user (id=UNOSUCHUSER)");
        }
        let r = o.get(v, "Nope").await;
        assert_eq!(r.code(), "bad_endpoint");
        let r = o.call(v, Method::DELETE, "Users", None).await;
        assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    }
    let r = reply(
        o.http
            .get(format!("http://{}/scim/v3/Users", o.emu.addr()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "unsupported_version");
    let r = o.get(Version::V1, "ResourceTypes").await;
    assert_eq!(r.code(), "bad_endpoint", "ResourceTypes is v2 only");
    let r = o.get(Version::V2, "ResourceTypes").await;
    assert_eq!(r.body["Resources"][0]["endpoint"], "/Users");
    let r = o.get(Version::V2, "Schemas").await;
    assert_eq!(r.body["totalResults"], 2);
    let r = o.get(Version::V1, "Schemas/Users").await;
    assert_eq!(r.body["id"], urn::CORE_V1);
}

#[tokio::test]
async fn groups_lifecycle_and_membership_rules() {
    let o = org().await;
    for v in BOTH {
        let a = o
            .create_user(v, &format!("ga{v}"), &format!("ga{v}@example.com"))
            .await;
        let b = o
            .create_user(v, &format!("gb{v}"), &format!("gb{v}@example.com"))
            .await;
        let gone = o
            .create_user(v, &format!("gc{v}"), &format!("gc{v}@example.com"))
            .await;
        o.delete(v, &format!("Users/{gone}")).await;

        let r = o
            .post(
                v,
                "Groups",
                json!({"schemas":[v.group_urn()],"displayName":format!("eng{v}"),
                "members":[{"value": a}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
        let gid = r.body["id"].as_str().unwrap().to_string();
        assert!(gid.starts_with('S'));
        assert_eq!(r.body["members"][0]["value"], a);

        let add_b = match v {
            Version::V1 => {
                json!({"schemas":[urn::CORE_V1],"members":[{"value": b},{"value": a,"operation":"delete"}]})
            }
            Version::V2 => json!({"schemas":[urn::PATCH_OP_V2],"Operations":[
                {"op":"add","path":"members","value":[{"value": b}]},
                {"op":"remove","path":format!("members[value eq \"{a}\"]")}]}),
        };
        let r = o.patch(v, &format!("Groups/{gid}"), add_b).await;
        match v {
            Version::V1 => assert_eq!((r.status, r.raw.as_str()), (204, "")),
            Version::V2 => assert_eq!(
                r.body["members"],
                json!([{"value": b, "display": format!("gb{v}")}])
            ),
        }
        // Each user's read-only `groups` reflects memberships.
        let r = o.get(v, &format!("Users/{b}")).await;
        assert_eq!(
            r.body["groups"],
            json!([{"value": gid, "display": format!("eng{v}")}])
        );
        assert_eq!(
            o.get(v, &format!("Users/{a}")).await.body["groups"],
            json!([])
        );

        let r = o
            .patch(v, &format!("Groups/{gid}"), match v {
                Version::V1 => json!({"schemas":[urn::CORE_V1],"members":[{"value": gone}]}),
                Version::V2 => json!({"schemas":[urn::PATCH_OP_V2],"Operations":[{"op":"add","path":"members","value":[{"value": gone}]}]}),
            })
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "unable_to_add_deleted_or_guest_to_group")
        );

        let r = o
            .put(
                v,
                &format!("Groups/{gid}"),
                json!({"schemas":[v.group_urn()],"displayName":format!("eng-{v}"),
                "members":[{"value": a}]}),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["displayName"], format!("eng-{v}"));
        assert_eq!(r.body["members"].as_array().unwrap().len(), 1);

        // Deactivating a member takes them out of the group.
        o.delete(v, &format!("Users/{a}")).await;
        assert_eq!(
            o.get(v, &format!("Groups/{gid}")).await.body["members"],
            json!([])
        );

        let r = o.delete(v, &format!("Groups/{gid}")).await;
        assert_eq!(r.status, 204);
        assert_eq!(
            o.get(v, &format!("Groups/{gid}")).await.code(),
            "no_such_group"
        );

        let admins = o
            .emu
            .with_store(|s| s.group_by_name("Team Admins").unwrap().id.clone());
        let r = o.delete(v, &format!("Groups/{admins}")).await;
        assert_eq!(r.status, 403, "auto-generated groups reject writes");
    }
}

#[tokio::test]
async fn primary_owner_and_bots_cannot_be_deactivated() {
    let o = org().await;
    let (owner, bot) = o.emu.with_store(|s| {
        (
            s.user_by_user_name("primary-owner").unwrap().id.clone(),
            s.user_by_user_name("scimsync-bot").unwrap().id.clone(),
        )
    });
    for v in BOTH {
        assert_eq!(
            o.delete(v, &format!("Users/{owner}")).await.code(),
            "cannot_disable_primary_owner"
        );
        assert_eq!(
            o.delete(v, &format!("Users/{bot}")).await.code(),
            "cannot_disable_bot_user_with_scim"
        );
    }
    let listed = o
        .get(Version::V2, "Users?filter=email co \"slack-bots.com\"")
        .await;
    assert_eq!(listed.body["totalResults"], 1, "bots are listed");
}

#[tokio::test]
async fn rate_limits_use_slack_numbers_time_scaled() {
    let config = EmulatorConfig {
        rate_limit_scale: Some(1.0),
        ..EmulatorConfig::default()
    };
    let o = org_with(config, Store::default_org('U', 1)).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    let started = std::time::Instant::now();
    for i in 0..25 {
        let r = o
            .post(
                Version::V2,
                "Users",
                json!({"schemas":[urn::USER_V2],"userName":format!("rl{i}"),
                "emails":[{"value":format!("rl{i}@example.com")}]}),
            )
            .await;
        if r.status == 429 {
            retry_after = Some(r.headers["retry-after"].to_str().unwrap().to_string());
            assert_eq!(r.code(), "too_many_requests");
        }
        statuses.push(r.status);
    }
    // POST /Users: burst 20, then 180 a minute (FACTS §7). A slow machine may see the bucket
    // refill between requests: at most one more token per elapsed third of a second.
    let quota = Endpoint::UserCreate
        .quota()
        .expect("POST /Users has a quota");
    let refilled = started.elapsed().as_secs_f64() * f64::from(quota.per_minute) / 60.0;
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert!(
        created >= 20 && created as f64 <= 20.0 + refilled.floor(),
        "{created} created in {:?}: {statuses:?}",
        started.elapsed()
    );
    assert_eq!(statuses[..20], [201; 20], "the burst of 20 goes at once");
    let retry_after: u64 = retry_after
        .expect("a 429")
        .parse()
        .expect("integer seconds");
    assert!(retry_after >= 1);
    assert!(
        created < 25,
        "the 21st request at once is refused: {statuses:?}"
    );
    assert_eq!(o.emu.stats().rate_limited, 25 - created as u64);

    // With limits off nothing is refused.
    let o = org().await;
    for i in 0..40 {
        o.create_user(
            Version::V1,
            &format!("free{i}"),
            &format!("free{i}@example.com"),
        )
        .await;
    }
}

#[tokio::test]
async fn overlapping_writes_to_one_resource_get_resource_locked() {
    let config = EmulatorConfig {
        write_hold: Duration::from_millis(300),
        ..EmulatorConfig::default()
    };
    let o = org_with(config, Store::default_org('U', 1)).await;
    let a = o
        .create_user(Version::V1, "locka", "locka@example.com")
        .await;
    let b = o
        .create_user(Version::V1, "lockb", "lockb@example.com")
        .await;
    let body = json!({"schemas":[urn::CORE_V1],"title":"x"});
    let (path_a, path_b) = (format!("Users/{a}"), format!("Users/{b}"));
    let (r1, r2, r3) = tokio::join!(
        o.patch(Version::V1, &path_a, body.clone()),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            o.patch(Version::V1, &path_a, body.clone()).await
        },
        o.patch(Version::V1, &path_b, body.clone()),
    );
    // Whichever arrived second was refused (arrival order is up to the scheduler).
    let (won, lost) = if r1.status == 200 {
        (&r1, &r2)
    } else {
        (&r2, &r1)
    };
    assert_eq!(won.status, 200);
    assert_eq!(
        (lost.status, lost.code().as_str()),
        (429, "resource_locked")
    );
    assert_eq!(lost.headers["retry-after"], "1");
    assert_eq!(r3.status, 200, "another user is not locked");
    assert_eq!(o.emu.stats().locked, 1);
}

#[tokio::test]
async fn injected_faults_are_seeded_and_repeatable() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let faults = Faults {
            error_rate: 0.5,
            seed,
            ..Faults::default()
        };
        let o = org_with(
            EmulatorConfig {
                faults,
                ..EmulatorConfig::default()
            },
            Store::default_org('U', 1),
        )
        .await;
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(o.get(Version::V2, "Users").await.status);
        }
        out
    }
    let a = statuses(42).await;
    assert_eq!(a, statuses(42).await, "same seed, same faults");
    assert!(
        a.contains(&200) && (a.contains(&500) || a.contains(&503)),
        "{a:?}"
    );

    let faults = Faults {
        drop_rate: 1.0,
        seed: 3,
        ..Faults::default()
    };
    let o = org_with(
        EmulatorConfig {
            faults,
            ..EmulatorConfig::default()
        },
        Store::default_org('U', 1),
    )
    .await;
    let err = o
        .http
        .get(o.url(Version::V2, "Users"))
        .bearer_auth(o.emu.token())
        .send()
        .await;
    assert!(err.is_err(), "the connection is dropped without an answer");
    assert_eq!(o.emu.stats().dropped_connections, 1);

    let faults = Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    };
    let o = org_with(
        EmulatorConfig {
            faults,
            ..EmulatorConfig::default()
        },
        Store::default_org('U', 1),
    )
    .await;
    let t = std::time::Instant::now();
    o.get(Version::V1, "Users").await;
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn dropped_after_write_means_the_write_happened() {
    // Find a seed whose first roll drops after processing: the reply is lost, the user exists.
    for seed in 0..50 {
        let faults = Faults {
            drop_rate: 1.0,
            seed,
            ..Faults::default()
        };
        let o = org_with(
            EmulatorConfig {
                faults,
                ..EmulatorConfig::default()
            },
            Store::default_org('U', 1),
        )
        .await;
        let sent = o
            .http
            .post(o.url(Version::V2, "Users"))
            .bearer_auth(o.emu.token())
            .json(&json!({"schemas":[urn::USER_V2],"userName":"lost","emails":[{"value":"lost@example.com"}]}))
            .send()
            .await;
        assert!(sent.is_err());
        if o.emu
            .with_store(|s| s.user_by_email("lost@example.com").is_some())
        {
            assert_eq!(o.emu.stats().writes_applied, 1);
            return;
        }
    }
    panic!("no seed dropped a connection after the write");
}

#[tokio::test]
async fn request_counters_in_process_and_over_http() {
    let o = org().await;
    o.get(Version::V1, "Users?count=1000").await;
    o.get(Version::V2, "Groups").await;
    let id = o
        .create_user(Version::V2, "counted", "counted@example.com")
        .await;
    o.patch(
        Version::V2,
        &format!("Users/{id}"),
        json!({"schemas":[urn::PATCH_OP_V2],"Operations":[]}),
    )
    .await;
    let s = o.emu.stats();
    assert_eq!(s.count("GET", Endpoint::UsersList), 1);
    assert_eq!(s.count("GET", Endpoint::GroupsList), 1);
    assert_eq!(s.count("POST", Endpoint::UserCreate), 1);
    assert_eq!(s.count("PATCH", Endpoint::UserUpdate), 1);
    assert_eq!((s.reads, s.writes, s.writes_applied), (2, 2, 2));

    let over_http: Value = o
        .http
        .get(format!("http://{}/_emulator/stats", o.emu.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["requests"]["POST user_create"], 1);
    assert_eq!(over_http["writes"], 2);
    o.http
        .post(format!("http://{}/_emulator/stats/reset", o.emu.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test]
async fn seeded_from_yaml_and_persisted_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.yaml");
    std::fs::write(
        &seed,
        "users:\n\
         - {user_name: boss, email: boss@example.com, role: primary_owner}\n\
         - {user_name: old, email: old@example.com, active: false, employee_number: E1}\n\
         - {user_name: g, email: g@example.com, guest: {expiration: '2030-01-01T00:00:00Z'}}\n\
         groups:\n\
         - {display_name: everyone-eng, members: [boss@example.com]}\n",
    )
    .unwrap();
    let store = Store::load(&seed, 'W', 9).unwrap();
    let state = dir.path().join("state.json");
    let config = EmulatorConfig {
        persist: Some(state.clone()),
        ..EmulatorConfig::default()
    };
    let o = org_with(config, store).await;
    let r = o.get(Version::V1, "Users?filter=userName eq old").await;
    assert_eq!(r.body["Resources"][0]["active"], false);
    assert!(
        r.body["Resources"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with('W')
    );
    let r = o.get(Version::V1, "Users?filter=restricted eq 1").await;
    assert_eq!(r.body["totalResults"], 1, "the guest");
    assert_eq!(r.body["Resources"][0][urn::GUEST_V1]["type"], "multi");
    o.create_user(Version::V2, "newbie", "newbie@example.com")
        .await;
    o.emu.shutdown().await.unwrap();

    let reloaded = Store::load(&state, 'W', 9).unwrap();
    assert_eq!(reloaded.user_count(), 4);
    assert!(reloaded.user_by_email("newbie@example.com").is_some());
    assert_eq!(
        reloaded
            .group_by_name("everyone-eng")
            .unwrap()
            .members
            .len(),
        1
    );

    std::fs::write(
        &seed,
        "users:\n - {user_name: a, email: a@x.com, colour: red}\n",
    )
    .unwrap();
    let err = Store::load(&seed, 'W', 9).unwrap_err().to_string();
    assert!(err.contains("seed.yaml") && err.contains("colour"), "{err}");
}

#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let mut c = crate::harness::async_command();
    c.stderr(std::process::Stdio::null());
    let (mut child, url) = crate::harness::emulator_process(c, &[]).await;
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/scim/v2/"),
        "{url}"
    );
    let http = scimsync::scim::http_client_builder().build().unwrap();
    let r = http
        .get(format!("{url}Users"))
        .bearer_auth(crate::harness::EMULATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["totalResults"], 2,
        "default organisation: owner and bot"
    );

    let status = crate::harness::terminate(&mut child).await;
    assert!(status.success(), "{status:?}");
}

// ---- Issue 12: as unkind as Slack ----

/// The read lag of `reads_lag_behind_writes_while_uniqueness_sees_the_truth`: long enough that
/// the reads right after a write come back well within it.
const READ_LAG: Duration = Duration::from_secs(2);

#[tokio::test]
async fn reads_lag_behind_writes_while_uniqueness_sees_the_truth() {
    let config = EmulatorConfig {
        read_lag: READ_LAG,
        ..EmulatorConfig::default()
    };
    let o = org_with(config, Store::default_org('U', 1)).await;
    // Both dialects at once: each waits out the lag twice.
    tokio::join!(lagging_user(&o, Version::V1), lagging_user(&o, Version::V2));
    tokio::join!(
        lagging_group(&o, Version::V1),
        lagging_group(&o, Version::V2)
    );
}

/// A user's creation and deactivation reach reads only after the lag.
async fn lagging_user(o: &crate::harness::Org, v: Version) {
    let (name, email) = (format!("lag{v}"), format!("lag{v}@example.com"));
    let listed = |r: &crate::harness::Reply, id: &str| {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == id)
    };
    let before = o.get(v, "Users?count=1000").await.body["totalResults"].clone();
    let written = std::time::Instant::now();
    let id = o.create_user(v, &name, &email).await;
    // Not yet visible: by id, in the listing, through a filter.
    let r = o.get(v, &format!("Users/{id}")).await;
    assert_eq!((r.status, r.code().as_str()), (404, "no_such_user"), "{v}");
    let r = o.get(v, "Users?count=1000").await;
    assert_eq!(r.body["totalResults"], before, "{v}");
    assert!(!listed(&r, &id), "{v}");
    let r = o.get(v, &format!("Users?filter=userName eq {name}")).await;
    assert_eq!(r.body["totalResults"], 0, "{v}");
    // Uniqueness sees the true state at once.
    let again =
        json!({"schemas":[v.user_urn()],"userName":format!("other{v}"),"emails":[{"value":email}]});
    let r = o.post(v, "Users", again).await;
    assert_eq!((r.status, r.code().as_str()), (409, "email_taken"), "{v}");
    let again = json!({"schemas":[v.user_urn()],"userName":name,"emails":[{"value":format!("x{v}@example.com")}]});
    let r = o.post(v, "Users", again).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "username_taken"),
        "{v}"
    );
    assert!(
        written.elapsed() < READ_LAG,
        "the reads above came too late to test the lag"
    );

    tokio::time::sleep(READ_LAG).await;
    let r = o.get(v, &format!("Users/{id}")).await;
    assert_eq!((r.status, &r.body["active"]), (200, &json!(true)), "{v}");
    assert!(listed(&o.get(v, "Users?count=1000").await, &id), "{v}");

    // A deactivation lags too: the user still reads as active.
    let written = std::time::Instant::now();
    assert!(o.delete(v, &format!("Users/{id}")).await.status < 300);
    assert_eq!(
        o.get(v, &format!("Users/{id}")).await.body["active"],
        true,
        "{v}"
    );
    let r = o
        .get(v, &format!("Users?filter=email eq \"{email}\""))
        .await;
    assert_eq!(r.body["Resources"][0]["active"], true, "{v}");
    assert!(
        written.elapsed() < READ_LAG,
        "the reads above came too late to test the lag"
    );
    tokio::time::sleep(READ_LAG).await;
    assert_eq!(
        o.get(v, &format!("Users/{id}")).await.body["active"],
        false,
        "{v}"
    );
}

/// A group's creation and deletion reach reads only after the lag.
async fn lagging_group(o: &crate::harness::Org, v: Version) {
    let written = std::time::Instant::now();
    let r = o
        .post(
            v,
            "Groups",
            json!({"schemas":[v.group_urn()],"displayName":format!("lagging{v}")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let gid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(o.get(v, &format!("Groups/{gid}")).await.status, 404, "{v}");
    assert!(
        written.elapsed() < READ_LAG,
        "the read above came too late to test the lag"
    );
    tokio::time::sleep(READ_LAG).await;
    assert_eq!(o.get(v, &format!("Groups/{gid}")).await.status, 200, "{v}");

    let written = std::time::Instant::now();
    assert_eq!(o.delete(v, &format!("Groups/{gid}")).await.status, 204);
    assert_eq!(
        o.get(v, &format!("Groups/{gid}")).await.status,
        200,
        "{v}: still there"
    );
    let r = o.get(v, "Groups?count=1000").await;
    assert!(
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == gid),
        "{v}"
    );
    assert!(
        written.elapsed() < READ_LAG,
        "the reads above came too late to test the lag"
    );
    tokio::time::sleep(READ_LAG).await;
    assert_eq!(o.get(v, &format!("Groups/{gid}")).await.status, 404, "{v}");
}

#[tokio::test]
async fn group_names_are_unique_or_duplicate_as_configured() {
    let unique = org().await;
    let duplicate = org_with(
        EmulatorConfig {
            group_names: GroupNames::Duplicate,
            ..EmulatorConfig::default()
        },
        Store::default_org('U', 1),
    )
    .await;
    for v in BOTH {
        let body = json!({"schemas":[v.group_urn()],"displayName":format!("Design {v}")});
        let shouting = json!({"schemas":[v.group_urn()],"displayName":format!(" DESIGN {v} ")});

        assert_eq!(unique.post(v, "Groups", body.clone()).await.status, 201);
        let r = unique.post(v, "Groups", shouting.clone()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (409, "group_creation_failed"),
            "{v}"
        );

        let first = duplicate.post(v, "Groups", body.clone()).await;
        let second = duplicate.post(v, "Groups", body).await;
        assert_eq!(
            (first.status, second.status),
            (201, 201),
            "{v}: {}",
            second.raw
        );
        assert_ne!(first.body["id"], second.body["id"]);
        let r = duplicate
            .get(
                v,
                &format!(
                    "Groups?filter={}",
                    urlencode(&format!("displayName eq \"Design {v}\""))
                ),
            )
            .await;
        assert_eq!(r.body["totalResults"], 2, "{v}");
    }
}

#[tokio::test]
async fn invalid_profile_data_on_create_is_dropped_or_refused_as_configured() {
    let drop = org().await;
    let strict = org_with(
        EmulatorConfig {
            profile_errors: ProfileErrors::Strict,
            ..EmulatorConfig::default()
        },
        Store::default_org('U', 1),
    )
    .await;
    for v in BOTH {
        let ent = v.enterprise_urn();
        let body = |name: &str, manager: &str| {
            json!({"schemas":[v.user_urn(), ent, v.profile_urn()], "userName": format!("{name}{v}"),
                "emails":[{"value": format!("{name}{v}@example.com")}],
                "displayName": format!("{name} {v}"), "title": "Engineer",
                "phoneNumbers":[{"value":"555-0100","type":"mobile"}],
                "addresses":[{"locality":"Lisbon"}], "userType":"Employee",
                ent: {"department":"R&D", "manager": {"managerId": manager}},
                v.profile_urn(): {"startDate":"2024-04-10T00:00:00+0000"}})
        };

        // Slack's documented behaviour: accepted, every custom-profile field dropped.
        let r = drop
            .post(v, "Users", body("dropped", "nobody@example.com"))
            .await;
        assert_eq!(r.status, 201, "{v}: {}", r.raw);
        let u = &r.body;
        assert_eq!(
            u["schemas"],
            json!([v.user_urn()]),
            "{v}: no profile data left"
        );
        assert_eq!(u["title"], "", "{v}");
        for gone in [
            "phoneNumbers",
            "addresses",
            "userType",
            ent,
            v.profile_urn(),
        ] {
            assert!(u.get(gone).is_none(), "{v}: {gone} in {u}");
        }
        assert_eq!(
            u["displayName"],
            format!("dropped {v}"),
            "the standard profile stays"
        );
        let id = u["id"].as_str().unwrap().to_string();
        assert_eq!(drop.get(v, &format!("Users/{id}")).await.body["title"], "");

        // A valid manager keeps everything.
        let r = drop.post(v, "Users", body("kept", "primary-owner")).await;
        assert_eq!(r.status, 201, "{v}: {}", r.raw);
        assert_eq!(r.body[ent]["department"], "R&D", "{v}");
        assert_eq!(r.body["title"], "Engineer", "{v}");

        // Updates are refused whatever the setting.
        let update = match v {
            Version::V1 => {
                json!({"schemas":[urn::CORE_V1, ent], ent: {"manager": {"managerId": "nobody"}}})
            }
            Version::V2 => json!({"schemas":[urn::PATCH_OP_V2],"Operations":[{"op":"replace",
                "path": format!("{ent}:manager"), "value": {"managerId": "nobody"}}]}),
        };
        let r = drop.patch(v, &format!("Users/{id}"), update).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "no_such_user"),
            "{v}: {}",
            r.raw
        );

        // Strict: the create is refused, naming the field.
        let r = strict
            .post(v, "Users", body("refused", "nobody@example.com"))
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "no_such_user"), "{v}");
        assert!(
            r.raw.contains("manager=nobody@example.com"),
            "{v}: {}",
            r.raw
        );
    }
}

#[tokio::test]
async fn user_names_share_one_namespace_with_channels() {
    let config = EmulatorConfig {
        channels: vec!["#Eng-Team".into()],
        ..EmulatorConfig::default()
    };
    let o = org_with(config, Store::default_org('U', 1)).await;
    for v in BOTH {
        for channel in ["general", "Random", "eng-team"] {
            let r = o
                .post(
                    v,
                    "Users",
                    json!({"schemas":[v.user_urn()],"userName": channel,
                    "emails":[{"value": format!("{channel}{v}@example.com")}]}),
                )
                .await;
            assert_eq!(
                (r.status, r.code().as_str()),
                (409, "username_taken"),
                "{v} {channel}"
            );
            let r = o
                .get(v, &format!("Users?filter=userName eq {channel}"))
                .await;
            assert_eq!(r.body["totalResults"], 0, "no user holds {channel}");
        }
        // Renaming onto a channel's name is refused the same way; other renames pass.
        let id = o
            .create_user(v, &format!("chan{v}"), &format!("chan{v}@example.com"))
            .await;
        let rename = |name: &str| match v {
            Version::V1 => json!({"schemas":[urn::CORE_V1],"userName": name}),
            Version::V2 => json!({"schemas":[urn::PATCH_OP_V2],
                "Operations":[{"op":"replace","path":"userName","value": name}]}),
        };
        let r = o.patch(v, &format!("Users/{id}"), rename("general")).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (409, "username_taken"),
            "{v}"
        );
        let description = match v {
            Version::V1 => &r.body["Errors"]["description"],
            Version::V2 => &r.body["detail"],
        };
        assert_eq!(description, "username_taken (username=general)", "{v}");
        let r = o
            .patch(
                v,
                &format!("Users/{id}"),
                rename(&format!("channel-free{v}")),
            )
            .await;
        assert_eq!(r.status, 200, "{v}: {}", r.raw);
    }
}

#[tokio::test]
async fn phone_numbers_written_back_as_read_swap_like_slack_and_keep_both() {
    let o = org().await;
    for v in BOTH {
        let r = o
            .post(v, "Users", json!({"schemas":[v.user_urn()], "userName": format!("phone{v}"),
                "emails":[{"value": format!("phone{v}@example.com")}],
                "phoneNumbers":[{"value":"555-5555","type":"work"},{"value":"555-4444","type":"mobile"}]}))
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
        let id = r.body["id"].as_str().unwrap().to_string();
        let read = o.get(v, &format!("Users/{id}")).await.body;
        assert_eq!(
            read["phoneNumbers"],
            json!([{"value":"555-5555","type":"mobile"},{"value":"555-4444","primary":true}])
        );

        // PUT back exactly what was read: Slack maps the `mobile` entry to primaryPhone and
        // the `primary` one to the other slot, so the two numbers trade places (FACTS TL;DR 1).
        let mut back = read.clone();
        back["active"] = json!(true);
        let r = o.put(v, &format!("Users/{id}"), back).await;
        assert_eq!(r.status, 200, "{v}: {}", r.raw);
        let swapped =
            json!([{"value":"555-4444","type":"mobile"},{"value":"555-5555","primary":true}]);
        assert_eq!(r.body["phoneNumbers"], swapped, "{v}");

        // The same through PATCH: the read value written back swaps them again.
        let patch = match v {
            Version::V1 => json!({"schemas":[urn::CORE_V1],"phoneNumbers": swapped}),
            Version::V2 => json!({"schemas":[urn::PATCH_OP_V2],
                "Operations":[{"op":"replace","path":"phoneNumbers","value": swapped}]}),
        };
        let r = o.patch(v, &format!("Users/{id}"), patch).await;
        assert_eq!(
            r.body["phoneNumbers"], read["phoneNumbers"],
            "{v}: {}",
            r.raw
        );
    }
}

#[tokio::test]
async fn resource_types_by_id_answer_one_resource_type() {
    let o = org().await;
    for v in BOTH {
        match v {
            Version::V1 => {
                // "Not applicable to SCIM v1.1" (FACTS §1.2), in the v1 error shape.
                let r = o.get(v, "ResourceTypes/User").await;
                assert_eq!((r.status, r.code().as_str()), (404, "bad_endpoint"));
                assert_eq!(r.body["Errors"]["code"], 404);
            }
            Version::V2 => {
                for (id, endpoint, schema) in [
                    ("User", "/Users", urn::USER_V2),
                    ("Group", "/Groups", urn::GROUP_V2),
                ] {
                    let r = o.get(v, &format!("ResourceTypes/{id}")).await;
                    assert_eq!(r.status, 200, "{id}: {}", r.raw);
                    assert_eq!(
                        r.body["schemas"],
                        json!([urn::RESOURCE_TYPE_V2]),
                        "not a list"
                    );
                    assert_eq!(
                        (&r.body["id"], &r.body["endpoint"], &r.body["schema"]),
                        (&json!(id), &json!(endpoint), &json!(schema))
                    );
                    assert!(r.body.get("Resources").is_none());
                    let location = r.body["meta"]["location"].as_str().unwrap();
                    assert!(location.ends_with(&format!("/scim/v2/ResourceTypes/{id}")));
                }
                let r = o.get(v, "ResourceTypes/Nope").await;
                assert_eq!((r.status, r.code().as_str()), (404, "bad_endpoint"));
                assert_eq!(r.body["schemas"], json!([urn::ERROR_V2]));
                assert_eq!(r.body["status"], 404);
            }
        }
    }
}
