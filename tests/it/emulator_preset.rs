//! The `like-slack` preset and the settings it is made of: reads lag only where Slack's own
//! tests saw them lag (deactivation, photo), while `--lag-scope all` keeps lagging every write;
//! strict parsing refuses what FACTS does not document (an extension object without its URN,
//! undocumented filter attributes and operators, `text/plain`, unknown URNs) and lenient parsing
//! accepts it; `/Groups` filters are honoured, refused or ignored.

use std::time::Duration;

use reqwest::Method;
use scimsync::emulator::{EmulatorConfig, Faults, GroupFilters, LagScope, Parsing, Preset, Store};
use scimsync::scim::Version;
use serde_json::json;

use crate::harness::{self, BOTH, Org};

/// The preset without its faults and rate limits, so each check sees one behaviour.
fn like_slack_calm() -> EmulatorConfig {
    EmulatorConfig {
        faults: Faults::default(),
        rate_limit_scale: None,
        ..EmulatorConfig::preset(Preset::LikeSlack)
    }
}

async fn like_slack() -> Org {
    harness::org_with(like_slack_calm(), Store::default_org('U', 1)).await
}

fn enterprise_urn(v: Version) -> &'static str {
    match v {
        Version::V1 => "urn:scim:schemas:extension:enterprise:1.0",
        Version::V2 => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    }
}

/// A create carrying an enterprise object, its URN in `schemas` or not.
fn create_body(v: Version, name: &str, urn_listed: bool) -> serde_json::Value {
    let mut schemas = vec![v.user_urn()];
    if urn_listed {
        schemas.push(enterprise_urn(v));
    }
    json!({"schemas": schemas, "userName": name,
           "emails": [{"value": format!("{name}@example.com"), "primary": true}],
           enterprise_urn(v): {"department": "Eng"}})
}

#[test]
fn the_preset_is_what_the_readme_says() {
    let c = EmulatorConfig::preset(Preset::LikeSlack);
    assert_eq!(c.rate_limit_scale, Some(1.0), "Slack's rates");
    assert_eq!(c.read_lag, Duration::from_secs(3));
    assert_eq!(c.lag_scope, LagScope::Deactivation);
    assert_eq!(c.group_names, scimsync::emulator::GroupNames::Duplicate);
    assert_eq!(c.parsing, Parsing::Strict);
    assert_eq!(c.group_filters, GroupFilters::Refuse);
    assert!(c.faults.error_rate > 0.0 && c.faults.drop_rate > 0.0);
    assert_eq!(
        EmulatorConfig::preset(Preset::Kind).parsing,
        Parsing::Lenient,
        "the default stays lenient"
    );
}

#[tokio::test]
async fn strict_refuses_an_extension_object_without_its_urn_and_lenient_accepts_it() {
    let strict = like_slack().await;
    let lenient = harness::org().await;
    for v in BOTH {
        let r = strict
            .post(v, "Users", create_body(v, &format!("nourn{v}"), false))
            .await;
        assert_eq!(r.status, 400, "{v}: {}", r.raw);
        assert!(r.code().starts_with("missing_schema_element"), "{}", r.raw);
        let r = strict
            .post(v, "Users", create_body(v, &format!("urn{v}"), true))
            .await;
        assert_eq!(r.status, 201, "{v}: {}", r.raw);
        let r = lenient
            .post(v, "Users", create_body(v, &format!("nourn{v}"), false))
            .await;
        assert_eq!(r.status, 201, "{v} lenient: {}", r.raw);
    }
}

#[tokio::test]
async fn strict_refuses_unknown_urns_and_text_plain() {
    let strict = like_slack().await;
    for v in BOTH {
        let mut body = create_body(v, &format!("odd{v}"), true);
        body["schemas"]
            .as_array_mut()
            .unwrap()
            .push(json!("urn:example:made:up"));
        let r = strict.post(v, "Users", body).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("urn:example:made:up"), "{}", r.raw);

        let body = create_body(v, &format!("plain{v}"), true);
        let sent = strict
            .http
            .post(strict.url(v, "Users"))
            .bearer_auth(strict.emu.token())
            .header("content-type", "text/plain")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let r = harness::reply(sent).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.raw.contains("text/plain"), "{}", r.raw);
    }
}

#[tokio::test]
async fn strict_refuses_undocumented_filters_and_lenient_honours_them() {
    let strict = like_slack().await;
    let lenient = harness::org().await;
    for org in [&strict, &lenient] {
        org.create_user(Version::V2, "ada", "ada@example.com").await;
    }
    let filter = |f: &str| format!("Users?filter={}", urlencoding(f));
    for v in BOTH {
        for documented in [
            "userName eq \"ada\"",
            "email eq \"ada@example.com\"",
            "userName sw a",
        ] {
            let r = strict.get(v, &filter(documented)).await;
            assert_eq!(r.status, 200, "{documented}: {}", r.raw);
            assert_eq!(r.body["totalResults"], 1, "{documented}");
        }
        for undocumented in [
            "userName ne \"bob\"",
            "userName ew \"da\"",
            "not (userName eq \"bob\")",
            "displayName eq \"ada\"",
            "externalId eq \"x\"",
            "active eq true",
        ] {
            let r = strict.get(v, &filter(undocumented)).await;
            assert_eq!(r.status, 400, "{undocumented}: {}", r.raw);
            assert!(r.code().starts_with("invalid_query"), "{}", r.raw);
            let r = lenient.get(v, &filter(undocumented)).await;
            assert_eq!(r.status, 200, "lenient {undocumented}: {}", r.raw);
        }
    }
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn org_with_group_filters(reading: GroupFilters) -> Org {
    let config = EmulatorConfig {
        group_filters: reading,
        ..EmulatorConfig::default()
    };
    let org = harness::org_with(config, Store::default_org('U', 1)).await;
    for name in ["eng", "ops"] {
        let r = org
            .post(
                Version::V2,
                "Groups",
                json!({"schemas": [Version::V2.group_urn()], "displayName": name}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
    }
    org
}

#[tokio::test]
async fn groups_filters_are_honoured_refused_or_ignored() {
    let path = format!("Groups?filter={}", urlencoding("displayName eq \"eng\""));
    for v in BOTH {
        let honour = org_with_group_filters(GroupFilters::Honour).await;
        let r = honour.get(v, &path).await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.raw);

        let refuse = org_with_group_filters(GroupFilters::Refuse).await;
        let r = refuse.get(v, &path).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.code().starts_with("invalid_query"), "{}", r.raw);
        let r = refuse.get(v, "Groups?filter=foo").await;
        assert!(
            r.code().starts_with("no_filters"),
            "garbage keeps Slack's code: {}",
            r.raw
        );

        let ignore = org_with_group_filters(GroupFilters::Ignore).await;
        let r = ignore.get(v, &path).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        // eng, ops and the default organisation's Team Admins.
        assert_eq!(r.body["totalResults"], 3, "{}", r.raw);
    }
}

/// Slack's own SDK tests read a just-created or just-patched user at once by id and by
/// `userName eq`, and poll for a deactivation (FACTS TL;DR 16): so does the preset.
#[tokio::test]
async fn under_the_preset_only_deactivation_lags() {
    let org = like_slack().await;
    let v = Version::V2;
    let id = org.create_user(v, "grace", "grace@example.com").await;
    let by_id = org.get(v, &format!("Users/{id}")).await;
    assert_eq!(by_id.status, 200, "a create is read at once: {}", by_id.raw);
    let found = org
        .get(
            v,
            &format!("Users?filter={}", urlencoding("userName eq \"grace\"")),
        )
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.raw);

    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "title", "value": "Admiral"}]});
    let r = org.patch(v, &format!("Users/{id}"), patch).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let read = org.get(v, &format!("Users/{id}")).await;
    assert_eq!(read.body["title"], "Admiral", "a patch is read at once");

    let r = org
        .call(v, Method::DELETE, &format!("Users/{id}"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let read = org.get(v, &format!("Users/{id}")).await;
    assert_eq!(read.body["active"], true, "a deactivation is seen late");
    assert_eq!(read.body["title"], "Admiral");
}

#[tokio::test]
async fn lag_scope_all_still_lags_every_write() {
    let config = EmulatorConfig {
        lag_scope: LagScope::All,
        ..like_slack_calm()
    };
    let org = harness::org_with(config, Store::default_org('U', 1)).await;
    let v = Version::V1;
    let id = org.create_user(v, "hopper", "hopper@example.com").await;
    let r = org.get(v, &format!("Users/{id}")).await;
    assert_eq!(r.status, 404, "a create is hidden for the lag: {}", r.raw);
}

/// `target.emulator` reaches the embedded emulator: with a channel list naming `#support`, a
/// hire whose user name would be `support` is refused (`username_taken`), as on Slack;
/// without it, the same hire is created.
#[test]
fn target_emulator_configures_the_embedded_emulator() {
    for (emulator, refused) in [
        (
            "{preset: like-slack, faults: false, channels_file: channels.txt}",
            true,
        ),
        ("{preset: like-slack, faults: false}", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("channels.txt"), "#support\n#design\n").unwrap();
        std::fs::write(
            d.join("people.yaml"),
            "users:\n  - {email: support@example.com, given_name: Support, family_name: Desk}\n",
        )
        .unwrap();
        std::fs::write(
            d.join("scimsync.yaml"),
            format!(
                "target: {{url: embedded, emulator: {emulator}}}\n\
                 sources:\n  - yaml: people.yaml\n\
                 scope: {{email_domains: [example.com]}}\n"
            ),
        )
        .unwrap();
        let ran = harness::run(d, &["apply", "--config", "scimsync.yaml"], &[]);
        let text = format!("{}{}", ran.stdout, ran.stderr);
        assert_eq!(
            text.contains("username_taken"),
            refused,
            "{emulator}:\n{text}"
        );
        assert_eq!(ran.code == 0, !refused, "{emulator}:\n{text}");
    }
}

#[test]
fn an_unknown_target_emulator_setting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        "target: {url: embedded, emulator: {preset: like-slack, lag: 3}}\nsources: []\n",
    )
    .unwrap();
    let ran = harness::run(dir.path(), &["validate", "--config", "scimsync.yaml"], &[]);
    assert_ne!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("lag") || ran.stdout.contains("lag"),
        "{}{}",
        ran.stdout,
        ran.stderr
    );
}
