//! The `ldap:` source against a real OpenLDAP: each test starts Debian's `slapd` on
//! loopback with a throwaway config and database loaded from tests/fixtures/ldap/. Without
//! `slapd` installed the tests skip with a message, unless `SCIMSYNC_REQUIRE_SLAPD` is set
//! (.ci/run sets it after installing slapd).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use scimsync::directory::ldap::{GroupsFrom, LdapError, LdapSettings, PasswordSource, read};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::free_port;

const BASE: &str = "dc=example,dc=com";

/// The fixtures folder.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ldap")
}

/// A Debian program from /usr/sbin or PATH.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::iter::once(PathBuf::from("/usr/sbin"))
        .chain(std::env::split_paths(&path))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A running slapd; killed on drop.
pub struct Slapd {
    child: Child,
    _dir: tempfile::TempDir,
    /// The `ldap://` port (StartTLS offered).
    pub ldap_port: u16,
    /// The `ldaps://` port.
    pub ldaps_port: u16,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Slapd {
    /// slapd on two loopback ports with the fixture directory, or `None` (with a message)
    /// when slapd is not installed and not required.
    pub async fn start() -> Option<Slapd> {
        let (Some(slapd), Some(slapadd)) = (program("slapd"), program("slapadd")) else {
            assert!(
                std::env::var_os("SCIMSYNC_REQUIRE_SLAPD").is_none(),
                "SCIMSYNC_REQUIRE_SLAPD is set and slapd/slapadd are not installed"
            );
            eprintln!("skipped: slapd is not installed (apt-get install slapd ldap-utils)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        let config = dir.path().join("slapd.conf");
        std::fs::write(&config, slapd_conf(dir.path())).unwrap();
        let out = Command::new(slapadd)
            .arg("-f")
            .arg(&config)
            .arg("-l")
            .arg(fixtures().join("directory.ldif"))
            .output()
            .unwrap();
        assert!(out.status.success(), "slapadd: {out:?}");
        let (ldap_port, ldaps_port) = (free_port(), free_port());
        let child = Command::new(slapd)
            .arg("-f")
            .arg(&config)
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/"
            ))
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let slapd = Slapd {
            child,
            _dir: dir,
            ldap_port,
            ldaps_port,
        };
        crate::harness::wait_until("slapd listens", Duration::from_secs(20), async || {
            tokio::net::TcpStream::connect(("127.0.0.1", ldaps_port))
                .await
                .is_ok()
        })
        .await;
        Some(slapd)
    }

    /// A file in the server's folder holding `password`.
    pub fn secret(&self, password: &str) -> PathBuf {
        let path = self._dir.path().join(format!("{password}.txt"));
        std::fs::write(&path, format!("{password}\n")).unwrap();
        path
    }

    /// Settings reading the fixture's people over LDAPS as `cn=reader`, 5 to a page, groups
    /// from the group entries under `ou=groups`.
    pub fn settings(&self) -> LdapSettings {
        LdapSettings {
            url: format!("ldaps://127.0.0.1:{}", self.ldaps_port),
            start_tls: false,
            ca_file: Some(fixtures().join("ca.pem")),
            bind_dn: Some(format!("cn=reader,{BASE}")),
            password: Some(PasswordSource::File(self.secret("reader-secret"))),
            base_dn: format!("ou=people,{BASE}"),
            filter: "(&(objectClass=inetOrgPerson)(!(employeeType=contractor)))".into(),
            attributes: ["mail", "givenName", "sn", "title", "departmentNumber"]
                .map(String::from)
                .to_vec(),
            groups: Some(GroupsFrom::Entries {
                base_dn: format!("ou=groups,{BASE}"),
                filter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))".into(),
                name_attribute: "cn".into(),
            }),
            page_size: 5,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The test slapd's config: the fixture's schema, TLS with the test certificate, a
/// per-search limit of 10 entries for `cn=limited`.
fn slapd_conf(dir: &Path) -> String {
    let f = fixtures();
    let f = f.display();
    let d = dir.display();
    format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         pidfile {d}/slapd.pid\n\
         TLSCACertificateFile {f}/ca.pem\n\
         TLSCertificateFile {f}/server.pem\n\
         TLSCertificateKeyFile {f}/server.key\n\
         database mdb\n\
         maxsize 10485760\n\
         suffix \"{BASE}\"\n\
         rootdn \"cn=admin,{BASE}\"\n\
         rootpw admin-secret\n\
         directory {d}/db\n\
         limits dn.exact=\"cn=limited,{BASE}\" size.prtotal=10\n\
         limits * size=unlimited\n"
    )
}

/// A loopback proxy to `port` that passes the client's bytes on whole and the server's only
/// up to `limit` bytes, then closes both sides: a connection cut part way through a read.
async fn cutting_proxy(port: u16, limit: usize) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        });
        let mut sent = 0;
        let mut buffer = [0u8; 512];
        while sent < limit {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n.min(limit - sent),
            };
            if client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
            sent += n;
        }
        let _ = client_write.shutdown().await;
    });
    proxy_port
}

/// Email → sorted groups of a read.
fn emails_and_groups(
    people: &[scimsync::directory::ldap::LdapPerson],
) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<_> = people
        .iter()
        .map(|p| {
            let mail = p
                .attributes
                .iter()
                .find(|(n, _)| n == "mail")
                .map(|(_, v)| v[0].clone())
                .unwrap_or_default();
            (mail, p.groups.clone())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn ldaps_reads_every_page_with_nested_groups_flattened() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let people = read(&slapd.settings()).await.unwrap();
    // 23 people over five pages of 5; the contractor filtered out by the server.
    assert_eq!(people.len(), 23);
    let got = emails_and_groups(&people);
    assert!(!got.iter().any(|(m, _)| m.starts_with("contract.")));
    let groups_of = |mail: &str| got.iter().find(|(m, _)| m == mail).unwrap().1.clone();
    // Donald is in backend, which is in engineering, which is in staff.
    assert_eq!(
        groups_of("donald.knuth@example.com"),
        ["backend", "engineering", "staff"]
    );
    assert_eq!(
        groups_of("ada.lovelace@example.com"),
        ["engineering", "staff"]
    );
    assert_eq!(groups_of("ken.thompson@example.com"), ["sales", "staff"]);
    assert!(groups_of("tony.hoare@example.com").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn start_tls_reads_the_same_as_ldaps() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let ldaps = read(&slapd.settings()).await.unwrap();
    let settings = LdapSettings {
        url: format!("ldap://127.0.0.1:{}", slapd.ldap_port),
        start_tls: true,
        page_size: 7,
        ..slapd.settings()
    };
    let start_tls = read(&settings).await.unwrap();
    assert_eq!(emails_and_groups(&ldaps), emails_and_groups(&start_tls));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cycle_of_nested_groups_fails_the_read() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let settings = LdapSettings {
        groups: Some(GroupsFrom::Entries {
            base_dn: format!("ou=cyclic,{BASE}"),
            filter: "(objectClass=groupOfNames)".into(),
            name_attribute: "cn".into(),
        }),
        ..slapd.settings()
    };
    let e = read(&settings).await.unwrap_err();
    assert_eq!(
        e,
        LdapError::Cycle(["loop-a", "loop-b", "loop-a"].map(String::from).to_vec())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_cut_mid_paging_fails_the_read() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    // Plain LDAP on loopback, so the cut lands between whole pages' bytes: the first page
    // (about 1.3 kB) passes, the stream ends inside the second or third.
    let whole = LdapSettings {
        url: format!("ldap://127.0.0.1:{}", slapd.ldap_port),
        ..slapd.settings()
    };
    let settings = LdapSettings {
        url: format!(
            "ldap://127.0.0.1:{}",
            cutting_proxy(slapd.ldap_port, 2500).await
        ),
        ca_file: None,
        ..whole.clone()
    };
    assert_eq!(read(&whole).await.unwrap().len(), 23);
    let e = read(&settings).await.unwrap_err();
    assert!(matches!(e, LdapError::Cut(_)), "{e}");
    assert!(
        e.to_string().contains("cut before the read finished"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_result_on_a_later_page_fails_the_read() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    // cn=limited may page through 10 entries at most: pages 1 and 2 come back, page 3 is
    // an error result.
    let settings = LdapSettings {
        bind_dn: Some(format!("cn=limited,{BASE}")),
        password: Some(PasswordSource::File(slapd.secret("limited-secret"))),
        ..slapd.settings()
    };
    let e = read(&settings).await.unwrap_err().to_string();
    assert!(
        e.starts_with("LDAP search failed: sizeLimitExceeded (4)"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_untrusted_certificates_fail_without_reading() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let wrong = LdapSettings {
        password: Some(PasswordSource::File(slapd.secret("not-the-password"))),
        ..slapd.settings()
    };
    let e = read(&wrong).await.unwrap_err().to_string();
    assert_eq!(e, "LDAP bind failed: invalidCredentials (49)");
    assert!(!e.contains("not-the-password"));
    // The system's roots do not include the test CA.
    let untrusted = LdapSettings {
        ca_file: None,
        ..slapd.settings()
    };
    let e = read(&untrusted).await.unwrap_err();
    assert!(matches!(e, LdapError::Tls(_)), "{e}");
    // The variable holding the password is unset: nothing connects.
    let unset = LdapSettings {
        password: Some(PasswordSource::Env("SCIMSYNC_TEST_NO_SUCH_VARIABLE".into())),
        ..slapd.settings()
    };
    let e = read(&unset).await.unwrap_err().to_string();
    assert_eq!(
        e,
        "the LDAP bind password: the environment variable SCIMSYNC_TEST_NO_SUCH_VARIABLE is not set"
    );
}

// ---- the source end to end: the binary against the emulator ----

use crate::harness::{Org, org, run_text, write_config_with};
use scimsync::scim::Version;

const SCOPE: &str = "scope: {email_domains: [example.com]}\n";

/// The `ldap:` source block of the fixture's people, at `url`, 5 to a page, the password
/// in `reader.txt` beside the config (written here).
fn ldap_source(dir: &Path, url: &str) -> String {
    std::fs::write(dir.join("reader.txt"), "reader-secret\n").unwrap();
    let ca = fixtures().join("ca.pem");
    format!(
        "  - ldap:\n      url: {url}\n      ca_file: {ca}\n      \
         bind_dn: cn=reader,{BASE}\n      password_file: reader.txt\n      \
         base_dn: ou=people,{BASE}\n      \
         filter: \"(&(objectClass=inetOrgPerson)(!(employeeType=contractor)))\"\n      \
         groups: {{from: entries, base_dn: \"ou=groups,{BASE}\"}}\n      page_size: 5\n    \
         columns: {{email: mail, given_name: givenName, family_name: sn, title: title, \
         department: departmentNumber}}\n    min_users: 20\n",
        ca = ca.display()
    )
}

/// The same people as a CSV source.
fn csv_source(dir: &Path) -> String {
    std::fs::copy(fixtures().join("people.csv"), dir.join("people.csv")).unwrap();
    "  - csv: people.csv\n    columns: {email: Email, given_name: First, family_name: Last, \
     title: Title, department: Department, groups: Groups}\n    min_users: 20\n"
        .into()
}

/// `plan --format json`'s summary and operations, without where each came from (a CSV
/// cell, an LDAP entry), for comparing two sources' plans.
pub fn planned(o: &Org, dir: &Path) -> serde_json::Value {
    let (code, out) = run_text(o, dir, &["plan", "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let plan: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut ops = plan["ops"].clone();
    for op in ops.as_array_mut().unwrap() {
        op.as_object_mut().unwrap().remove("source");
    }
    serde_json::json!({"summary": plan["summary"], "ops": ops})
}

/// `plan --format json` as text.
fn out_of(o: &Org, dir: &Path) -> String {
    run_text(o, dir, &["plan", "--format", "json"]).1
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ldap_source_plans_like_the_equivalent_csv() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let o = org().await;
    let url = o.emu.base_url(Version::V2);
    let (from_csv, from_ldap) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_config_with(from_csv.path(), &url, &csv_source(from_csv.path()), SCOPE);
    let ldaps = format!("ldaps://127.0.0.1:{}", slapd.ldaps_port);
    write_config_with(
        from_ldap.path(),
        &url,
        &ldap_source(from_ldap.path(), &ldaps),
        SCOPE,
    );
    let csv_plan = planned(&o, from_csv.path());
    let ldap_plan = planned(&o, from_ldap.path());
    assert_eq!(csv_plan["summary"]["create"], 23, "{csv_plan}");
    assert_eq!(csv_plan["summary"]["group_create"], 4, "{csv_plan}");
    assert_eq!(csv_plan, ldap_plan);
    assert!(out_of(&o, from_ldap.path()).contains("ldap uid=p01,ou=people,dc=example,dc=com"));
    assert!(out_of(&o, from_ldap.path()).contains("ldap uid=p01,ou=people,dc=example,dc=com"));
    // And applied, Slack holds them, groups nested as the directory has them.
    let (code, out) = run_text(&o, from_ldap.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run_text(&o, from_csv.path(), &["plan"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("No changes"),
        "the CSV finds nothing left to do: {out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ldap_read_cut_mid_paging_leaves_slack_untouched() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = cutting_proxy(slapd.ldap_port, 2500).await;
    let source = ldap_source(dir.path(), &format!("ldap://127.0.0.1:{proxy}"));
    write_config_with(dir.path(), &o.emu.base_url(Version::V2), &source, SCOPE);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the source ldap ldap://127.0.0.1:")
            && out.contains("could not be read whole")
            && out.contains("cut before the read finished"),
        "{out}"
    );
    assert!(!out.contains("reader-secret"), "{out}");
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn confined_an_ldap_source_and_its_password_env_are_refused_before_connecting() {
    let o = org().await;
    let root = tempfile::tempdir().unwrap();
    let pr = root.path().join("pr");
    std::fs::create_dir(&pr).unwrap();
    // A server that would see any connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(
        pr.join("scimsync.yaml"),
        format!(
            "sources:\n  - ldap:\n      url: ldap://127.0.0.1:{port}\n      \
             bind_dn: cn=x,{BASE}\n      password_env: SCIM_TOKEN\n      base_dn: {BASE}\n    \
             columns: {{email: mail}}\n{SCOPE}"
        ),
    )
    .unwrap();
    let ran = crate::harness::run_confined(
        &o,
        root.path(),
        &pr,
        &["plan", "--config", "pr/scimsync.yaml"],
    );
    let text = ran.text();
    assert_eq!(ran.code, 1, "{text}");
    assert!(
        text.contains("sources[0].ldap is refused under SCIMSYNC_CONFINE, where a pull request's config cannot choose a server to connect to"),
        "{text}"
    );
    assert!(
        text.contains("sources[0].ldap.password_env is refused under SCIMSYNC_CONFINE, where a pull request's config cannot choose an environment variable to read"),
        "{text}"
    );
    assert!(!text.contains(o.emu.token()), "{text}");
    let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(accepted.is_err(), "the LDAP server saw a connection");
    assert_eq!(o.emu.stats().writes, 0);
}

/// README's worked example of `kind` (the YAML block holding `- kind:`), as a config with a
/// target added.
pub fn readme_example(kind: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains(&format!("  - {kind}:\n")))
        .unwrap_or_else(|| panic!("README has an example of {kind}"));
    format!("target: {{url: \"https://api.slack.com/scim/v2\", token_env: SCIM_TOKEN}}\n{block}")
}

#[test]
fn readmes_ldap_example_compiles_to_what_it_says() {
    use scimsync::config::{Config, EnvOverrides, SourceFormat};
    use scimsync::directory::ldap::{GroupsFrom, PasswordSource};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scimsync.yaml"), readme_example("ldap")).unwrap();
    let config = Config::load(&dir.path().join("scimsync.yaml"), &EnvOverrides::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let SourceFormat::Ldap(ldap) = &config.sources[0].format else {
        panic!("an ldap source")
    };
    let s = &ldap.settings;
    assert_eq!(&*config.sources[0].display, "ldap ldaps://ldap.example.com");
    assert_eq!(
        s.password,
        Some(PasswordSource::Env("LDAP_PASSWORD".into()))
    );
    assert_eq!(s.page_size, 500);
    assert_eq!(
        s.attributes,
        [
            "mail",
            "givenName",
            "sn",
            "title",
            "employeeNumber",
            "departmentNumber"
        ]
    );
    assert!(
        matches!(&s.groups, Some(GroupsFrom::Entries { base_dn, name_attribute, .. })
        if base_dn == "ou=groups,dc=example,dc=com" && name_attribute == "cn")
    );
    assert_eq!(config.sources[0].min_users, Some(300));
}

#[test]
fn ldap_settings_that_cannot_work_are_config_errors_at_their_place() {
    use scimsync::config::{Config, EnvOverrides};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimsync.yaml");
    for (ldap, expected) in [
        (
            "{url: \"ldap://ldap.example.com\", base_dn: \"dc=x\"}",
            "sources[0].ldap.url: LDAP url \"ldap://ldap.example.com\": use ldaps://, or start_tls: true",
        ),
        (
            "{url: \"ldaps://h\", base_dn: \"dc=x\", filter: \"(cn=a\"}",
            "sources[0].ldap.filter: LDAP filter \"(cn=a\": expected ')' at character 6",
        ),
        (
            "{url: \"ldaps://h\", base_dn: \"dc=x\", bind_dn: \"cn=r\"}",
            "sources[0].ldap.bind_dn: a bind_dn needs password_env or password_file",
        ),
        (
            "{url: \"ldaps://h\"}",
            "sources[0].ldap.base_dn: is required",
        ),
        (
            "{url: \"ldaps://h\", base_dn: \"dc=x\", timeout: soon}",
            "sources[0].ldap.timeout: \"soon\" is not a duration",
        ),
    ] {
        std::fs::write(
            &path,
            format!(
                "target: {{url: \"https://api.slack.com/scim/v2\", token_env: T}}\n\
                 sources:\n  - ldap: {ldap}\n    columns: {{email: mail}}\n"
            ),
        )
        .unwrap();
        let e = Config::load(&path, &EnvOverrides::default()).unwrap_err();
        let text = format!("{e:?}");
        let shown = e
            .problems
            .iter()
            .map(|p| p.kind.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(shown.contains(expected), "{ldap}: {shown}\n{text}");
    }
}
