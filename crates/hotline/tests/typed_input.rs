//! Property tests of every parser people or API callers type into: segments, periods and
//! dates, `/send` arguments, parameters (`/set`), commands, masking and the configuration.
//! Whatever is typed, the answer is a value or a clear error, never a panic; what parses
//! means what was written.

use std::path::Path;

use hotline::broadcast;
use hotline::config::{Config, ConfigError, MaskPatterns, Params, TimeZone, PARAM_NAMES};
use hotline::domain::slash::{parse as parse_command, Slash};
use hotline::segments::{self, Cmp, Expr, Names, Owner, TimeField, TimeValue};
use hotline::stats::{parse_period, MAX_PERIOD_DAYS};
use proptest::prelude::*;
use serde_json::json;
use time::UtcOffset;

const DAY: i64 = 86_400_000;

/// Text that mixes the characters each grammar cares about with arbitrary Unicode.
fn typed() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-a-z0-9:<>=.&|!() _@/\"\\[\\],;~{}+*#\n\t]{0,80}",
        "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}(\\.\\.[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3})?",
        "[0-9]{1,25}[smhdwx]?",
    ]
}

fn offset() -> impl Strategy<Value = UtcOffset> {
    (-14i8..=14, 0i8..60).prop_map(|(h, m)| {
        let m = if h < 0 { -m } else { m };
        UtcOffset::from_hms(h, m, 0).unwrap_or(UtcOffset::UTC)
    })
}

/// Any instant between year 1900 and year 9000.
fn now() -> impl Strategy<Value = i64> {
    -2_208_988_800_000i64..221_845_392_000_000
}

// ---- segments ----------------------------------------------------------------------

/// A segment expression as a tree, and its text.
fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        Just(Expr::All),
        Just(Expr::Blocked),
        Just(Expr::Banned),
        Just(Expr::Open),
        "[a-z][a-z0-9_-]{0,8}".prop_filter_map("keyword", |k| {
            (!["all", "blocked", "banned", "open"].contains(&k.as_str())
                && !k.starts_with("seen")
                && !k.starts_with("last")
                && !k.starts_with("first"))
            .then_some(Expr::Tag { key: k, pos: 0 })
        }),
        "[a-z]{2}(-[a-z]{2})?".prop_map(Expr::Lang),
        prop_oneof![
            Just(Owner::Nobody),
            (1i64..=i64::MAX).prop_map(Owner::Id),
            "[a-z0-9_]{1,32}".prop_map(|name| Owner::Username { name, pos: 0 }),
        ]
        .prop_map(Expr::Assignee),
        (
            prop_oneof![Just(TimeField::First), Just(TimeField::Last)],
            prop_oneof![Just(Cmp::Lt), Just(Cmp::Le), Just(Cmp::Gt), Just(Cmp::Ge)],
            (
                0i64..=100_000,
                prop_oneof![
                    Just(1_000i64),
                    Just(60_000),
                    Just(3_600_000),
                    Just(DAY),
                    Just(7 * DAY)
                ]
            ),
        )
            .prop_map(|(f, c, (n, unit))| Expr::Time(f, c, TimeValue::Ago(n * unit))),
        (
            prop_oneof![Just(TimeField::First), Just(TimeField::Last)],
            prop_oneof![
                Just(Cmp::Lt),
                Just(Cmp::Le),
                Just(Cmp::Gt),
                Just(Cmp::Ge),
                Just(Cmp::Eq)
            ],
            0i32..=9999,
            1u8..=12,
            1u8..=28,
        )
            .prop_map(|(f, c, y, m, d)| {
                let date = time::Date::from_calendar_date(y, m.try_into().unwrap(), d).unwrap();
                Expr::Time(f, c, TimeValue::Day(date))
            }),
    ];
    leaf.prop_recursive(6, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// Fully parenthesised text of an expression (so the tree it parses to is the same).
fn render(e: &Expr) -> String {
    match e {
        Expr::All => "all".into(),
        Expr::Blocked => "blocked".into(),
        Expr::Banned => "banned".into(),
        Expr::Open => "open".into(),
        Expr::Tag { key, .. } => key.clone(),
        Expr::Lang(code) => format!("lang:{code}"),
        Expr::Assignee(Owner::Nobody) => "assignee:none".into(),
        Expr::Assignee(Owner::Id(id)) => format!("assignee:{id}"),
        Expr::Assignee(Owner::Username { name, .. }) => format!("assignee:@{name}"),
        Expr::Time(f, c, v) => {
            let f = match f {
                TimeField::First => "first",
                TimeField::Last => "last",
            };
            let c = match c {
                Cmp::Lt => "<",
                Cmp::Le => "<=",
                Cmp::Gt => ">",
                Cmp::Ge => ">=",
                Cmp::Eq => "=",
            };
            let v = match v {
                TimeValue::Ago(ms) if ms % (7 * DAY) == 0 => format!("{}w", ms / (7 * DAY)),
                TimeValue::Ago(ms) if ms % DAY == 0 => format!("{}d", ms / DAY),
                TimeValue::Ago(ms) if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
                TimeValue::Ago(ms) if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
                TimeValue::Ago(ms) => format!("{}s", ms / 1000),
                TimeValue::Day(d) => {
                    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
                }
            };
            format!("{f}{c}{v}")
        }
        Expr::Not(inner) => format!("!{}", render(inner)),
        Expr::And(a, b) => format!("({} & {})", render(a), render(b)),
        Expr::Or(a, b) => format!("({} | {})", render(a), render(b)),
    }
}

/// The same tree without the tags' positions.
fn unpositioned(e: &Expr) -> Expr {
    match e {
        Expr::Tag { key, .. } => Expr::Tag {
            key: key.clone(),
            pos: 0,
        },
        Expr::Assignee(Owner::Username { name, .. }) => Expr::Assignee(Owner::Username {
            name: name.clone(),
            pos: 0,
        }),
        Expr::Not(i) => Expr::Not(Box::new(unpositioned(i))),
        Expr::And(a, b) => Expr::And(Box::new(unpositioned(a)), Box::new(unpositioned(b))),
        Expr::Or(a, b) => Expr::Or(Box::new(unpositioned(a)), Box::new(unpositioned(b))),
        other => other.clone(),
    }
}

/// Every tag and username `e` names, as known to the connection.
fn names_of(e: &Expr, out: &mut Names) {
    match e {
        Expr::Tag { key, .. } => {
            let n = out.tags.len() as i64;
            out.tags.entry(key.clone()).or_insert(n + 1);
        }
        Expr::Assignee(Owner::Username { name, .. }) => {
            let n = out.operators.len() as i64;
            out.operators.entry(name.clone()).or_insert(n + 1);
        }
        Expr::Not(i) => names_of(i, out),
        Expr::And(a, b) | Expr::Or(a, b) => {
            names_of(a, out);
            names_of(b, out);
        }
        _ => {}
    }
}

proptest! {
    // 512 cases each (PROPTEST_CASES overrides, for long runs). Failures are turned into
    // named regression tests next to the parser, not stored here.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn segments_never_panic_and_errors_point_inside(src in typed(), now in now(), tz in offset()) {
        match segments::parse(&src) {
            Ok(e) => {
                let mut names = Names::default();
                names_of(&e, &mut names);
                let c = segments::compile(&e, &names, now, tz, 1).expect("known names compile");
                prop_assert_eq!(c.sql.matches('$').count(), c.binds.len());
            }
            Err(e) => {
                prop_assert!(e.pos >= 1 && e.pos <= src.chars().count() + 1, "{:?} in {:?}", e, src);
                let _ = e.pointer(&src);
            }
        }
    }

    #[test]
    fn segments_mean_what_was_written(e in expr()) {
        let text = render(&e);
        let parsed = segments::parse(&text);
        // Generated trees may exceed the documented bounds; those must be refused clearly.
        match parsed {
            Ok(p) => prop_assert_eq!(unpositioned(&p), unpositioned(&e), "{}", text),
            Err(err) => prop_assert!(
                err.message.contains("nested") || err.message.contains("conditions"),
                "{} -> {}", text, err
            ),
        }
    }

    // ---- periods, dates, schedules ---------------------------------------------------

    #[test]
    fn periods_are_checked(args in typed(), now in now(), tz in offset()) {
        if let Ok((from, to, label)) = parse_period(&args, now, tz) {
            prop_assert!(from < to, "{args}: {from}..{to}");
            prop_assert!(to - from <= MAX_PERIOD_DAYS * DAY + 2 * 3_600_000, "{args}");
            prop_assert!(!label.is_empty());
        }
    }

    #[test]
    fn any_calendar_period_is_an_answer(y1 in 0i32..=9999, d1 in 0u16..400, y2 in 0i32..=9999, d2 in 0u16..400, now in now(), tz in offset()) {
        let date = |y: i32, d: u16| format!("{y:04}-{:02}-{:02}", d / 31 % 13, d % 32);
        for args in [date(y1, d1), format!("{}..{}", date(y1, d1), date(y2, d2))] {
            let _ = parse_period(&args, now, tz);
        }
    }

    #[test]
    fn send_arguments_never_panic(args in typed(), now in now(), tz in offset()) {
        if let Ok(a) = broadcast::parse_args(&args, None, now, tz) {
            if let Some(at) = a.start_at {
                prop_assert!(at > now - 1 && at <= now + broadcast::MAX_DELAY_MS, "{args}");
            }
        }
    }

    #[test]
    fn time_zones_never_panic(s in typed()) {
        if let Some(tz) = TimeZone::parse(&s) {
            prop_assert_eq!(TimeZone::parse(&tz.to_string()), Some(tz));
        }
    }

    // ---- parameters (/set) -----------------------------------------------------------

    #[test]
    fn set_is_all_or_nothing_and_round_trips(i in 0..PARAM_NAMES.len(), value in typed()) {
        let name = PARAM_NAMES[i];
        let mut p = Params::default();
        let before = p.clone();
        match p.set(name, &value) {
            Ok(()) => {
                let shown = p.get(name).expect("known parameter");
                let mut q = Params::default();
                q.set(name, &shown).unwrap_or_else(|e| panic!("{name} = {shown:?}: {e}"));
                prop_assert_eq!(q, p, "{} = {:?} shown as {:?}", name, value, shown);
            }
            Err(e) => {
                prop_assert_eq!(&p, &before);
                prop_assert_eq!(e.name, name);
            }
        }
    }

    #[test]
    fn numbers_in_parameters_are_bounded(n in any::<i128>()) {
        let mut p = Params::default();
        match p.set("AUTOCLOSE", &n.to_string()) {
            Ok(()) => prop_assert!((0..=8760).contains(&n)),
            Err(e) => prop_assert!(e.message.contains("8760"), "{}", e),
        }
        let ids = p.set("WHITE_LIST", &n.to_string());
        prop_assert_eq!(ids.is_ok(), n != 0 && i64::try_from(n).is_ok());
    }

    #[test]
    fn unknown_parameters_are_refused(name in "[A-Za-z_]{1,20}", value in typed()) {
        let mut p = Params::default();
        if !PARAM_NAMES.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            prop_assert!(p.set(&name, &value).is_err());
        }
    }

    // ---- commands ----------------------------------------------------------------------

    #[test]
    fn commands_never_panic(text in typed()) {
        if let Some(Slash::Command(c)) = parse_command(&text) {
            prop_assert!(!c.name.is_empty());
            prop_assert!(c.name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'));
            prop_assert_eq!(c.args.trim(), c.args.as_str());
            let _ = c.words();
        }
    }

    #[test]
    fn commands_mean_what_was_written(
        name in "[A-Za-z0-9_]{1,32}",
        bot in proptest::option::of("[A-Za-z0-9_]{1,32}"),
        args in "[^\\s]{0,20}( [^\\s]{1,20}){0,4}",
    ) {
        let text = match &bot {
            Some(b) => format!("/{name}@{b} {args}"),
            None => format!("/{name} {args}"),
        };
        let Some(Slash::Command(c)) = parse_command(&text) else {
            panic!("{text:?} is a command");
        };
        prop_assert_eq!(c.name, name.to_lowercase());
        prop_assert_eq!(c.bot, bot.map(|b| b.to_lowercase()));
        prop_assert_eq!(c.args, args.trim());
    }

    // ---- masking (text and entities as they come from Telegram or a gateway bot) -------

    #[test]
    fn masking_never_panics_and_keeps_lengths(
        text in any::<String>(),
        digits in "[0-9 +()@.a-z-]{0,40}",
        entities in proptest::collection::vec((any::<u64>(), any::<u64>(), prop_oneof![Just("email"), Just("phone_number"), Just("bold")]), 0..4),
    ) {
        let text = format!("{text}{digits}");
        let ents = json!(entities.iter().map(|(o, l, t)| json!({"type": t, "offset": o, "length": l})).collect::<Vec<_>>());
        let all = MaskPatterns { cards: true, phones: true, emails: true };
        if let Some((masked, _)) = hotline::domain::mask::mask_text(&text, Some(&ents), &all) {
            prop_assert_eq!(masked.encode_utf16().count(), text.encode_utf16().count());
        }
    }

    // ---- configuration -----------------------------------------------------------------

    #[test]
    fn configuration_never_panics(text in any::<String>()) {
        let _ = Config::parse(&text, Path::new("."), |_| None);
    }

    #[test]
    fn configuration_values_are_checked(
        listen in typed(),
        limit in any::<i64>(),
        group in any::<i64>(),
        tz in typed(),
        autoclose in any::<i64>(),
    ) {
        let text = format!(
            "[http]\nlisten = {listen:?}\n[limits]\nbot_per_second = {limit}\n\
             [[connection]]\nname = \"s\"\ntoken = \"1:a\"\ngroup_id = {group}\ntime_zone = {tz:?}\n\
             [connection.params]\nAUTOCLOSE = {autoclose}\n"
        );
        match Config::parse(&text, Path::new("."), |_| None) {
            Ok(c) => {
                prop_assert!(c.connections[0].group_id < 0);
                prop_assert!(c.limits.bot_per_second >= 1);
            }
            Err(ConfigError::Invalid(issues)) => prop_assert!(!issues.is_empty()),
            Err(_) => {}
        }
    }
}
