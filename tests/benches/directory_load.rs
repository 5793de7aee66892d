//! Loading a 100,000-row HR export with full validation (config compile, CSV read, merge
//! with a YAML directory, every rule). Run with `cargo bench --bench directory_load`;
//! `SCIMSYNC_BENCH_ROWS` changes the size. Prints the time of each run and the process's
//! peak resident memory (VmHWM).

use std::fmt::Write as _;
use std::time::Instant;

use scimsync::config::{Config, EnvOverrides, InvalidUsers};
use scimsync::directory::{self, LoadOptions};

const DEPARTMENTS: [&str; 8] = [
    "Engineering",
    "Sales",
    "Support",
    "Finance",
    "Design",
    "Legal",
    "Marketing",
    "People",
];

fn main() {
    let rows: usize = std::env::var("SCIMSYNC_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut csv = String::with_capacity(rows * 160);
    csv.push_str("Employee ID,Email,First Name,Last Name,Job Title,Department,Manager Email,Start Date,Active,Groups\n");
    for i in 0..rows {
        let department = DEPARTMENTS[i % DEPARTMENTS.len()];
        // A management tree: person i reports to person i / 8, the root to nobody.
        let manager = if i == 0 {
            String::new()
        } else {
            format!("person.{}@example.com", i / 8)
        };
        let active = if i % 50 == 49 { "no" } else { "yes" };
        let groups = if active == "yes" {
            format!("{};team-{}", department.to_lowercase(), i % 400)
        } else {
            String::new()
        };
        writeln!(
            csv,
            "E{i:06},person.{i}@example.com,Given{i},Family{i},\"Engineer, level {}\",{department},{manager},2020-{:02}-{:02},{active},{groups}",
            i % 7,
            i % 12 + 1,
            i % 28 + 1,
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("people.csv"), &csv).unwrap();
    std::fs::write(
        dir.path().join("directory.yaml"),
        "users:\n  - email: person.0@example.com\n    user_name: root\n    display_name: The Root\ngroups:\n  - name: leadership\n    members: [person.0@example.com, person.1@example.com]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        "target: {url: embedded}
sources:
  - yaml: directory.yaml
  - csv: people.csv
    columns: {employee_number: Employee ID, email: Email, given_name: First Name,
              family_name: Last Name, title: Job Title, department: Department,
              manager_email: Manager Email, start_date: Start Date, active: Active,
              groups: Groups}
invalid_users: fail
",
    )
    .unwrap();

    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut times = Vec::new();
    for run in 0..5 {
        let started = Instant::now();
        let config =
            Config::load(&dir.path().join("scimsync.yaml"), &EnvOverrides::default()).unwrap();
        let loaded = directory::load(
            &config.sources,
            &LoadOptions {
                invalid_users: InvalidUsers::Fail,
                today,
            },
        )
        .unwrap_or_else(|e| panic!("{e}: {:?}", &e.problems[..e.problems.len().min(3)]));
        let elapsed = started.elapsed();
        assert_eq!(loaded.directory.users.len(), rows);
        assert!(!loaded.report.has_errors());
        println!(
            "run {run}: {rows} rows ({} KiB CSV) → {} users, {} groups in {:.1} ms",
            csv.len() / 1024,
            loaded.directory.users.len(),
            loaded.directory.groups.len(),
            elapsed.as_secs_f64() * 1000.0,
        );
        times.push(elapsed);
    }
    times.sort();
    println!(
        "directory_load: median {:.1} ms, best {:.1} ms",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0
    );
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines().filter(|l| l.starts_with("VmHWM")) {
            println!("peak memory: {}", line.trim_start_matches("VmHWM:").trim());
        }
    }
}
