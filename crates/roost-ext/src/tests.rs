//! The hostile-extension suite: every way out of the sandbox we know of, each contained.

use std::time::Duration;

use serde_json::json;

use super::*;

fn call(source: &str, input: serde_json::Value) -> Result<serde_json::Value> {
    call_with(source, input, Limits::default())
}

fn call_with(source: &str, input: serde_json::Value, limits: Limits) -> Result<serde_json::Value> {
    let engine = Engine::default();
    engine
        .call(&Program::new(source, limits), "main", &input, Host { now_ms: 1_700_000_000_000, seed: 42 })
        .map(|(v, _)| v)
}

#[test]
fn a_rule_judges_its_input_and_answers_json() {
    let source = r#"
        function main(post) {
          const card = /\b(?:\d[ -]?){13,16}\b/;
          if (card.test(post.text)) return { verdict: "hold", reason: "looks like a card number" };
          return { verdict: "allow", words: post.text.split(/\s+/).length };
        }
    "#;
    assert_eq!(call(source, json!({"text": "my card is 4111 1111 1111 1111"})).unwrap()["verdict"], "hold");
    assert_eq!(call(source, json!({"text": "hello there"})).unwrap(), json!({"verdict": "allow", "words": 2}));
}

#[test]
fn runaway_code_ends_at_its_budget_or_its_deadline() {
    // The deadline is far: on a busy machine it must not be what ends these first.
    let budgeted = Limits { deadline: Duration::from_secs(60), ..Limits::default() };
    let call = |source: &str, input| call_with(source, input, budgeted.clone());
    assert_eq!(call("function main() { for (;;) {} }", json!(null)), Err(Error::Budget));
    let patient = Limits { budget: u64::MAX, deadline: Duration::from_millis(50), ..Limits::default() };
    assert_eq!(
        call_with("function main() { while (true) {} }", json!(null), patient),
        Err(Error::Deadline(Duration::from_millis(50)))
    );
    // A runaway cannot catch its own interruption and go on.
    let stubborn = "function main() { for (;;) { try { for (;;) {} } catch (e) {} } }";
    assert_eq!(call(stubborn, json!(null)), Err(Error::Budget));
    // Nor run at load time, before any function is called.
    assert_eq!(call("for (;;) {}\nfunction main() {}", json!(null)), Err(Error::Budget));
}

#[test]
fn memory_and_stack_are_capped_inside_the_sandbox() {
    let far = Limits { deadline: Duration::from_secs(60), ..Limits::default() };
    let call = |source: &str, input| call_with(source, input, far.clone());
    let bomb = "function main() { const a = []; for (;;) a.push(new Array(100000).fill(1.5)); }";
    assert_eq!(call(bomb, json!(null)), Err(Error::Memory(Limits::default().memory_bytes)));
    // One built-in asked for a gibibyte: it fails in the sandbox, not in the server.
    assert_eq!(
        call("function main() { return 'x'.repeat(2 ** 29).length; }", json!(null)),
        Err(Error::Memory(Limits::default().memory_bytes))
    );
    assert_eq!(
        call("function main() { return new Array(1 << 28).fill(0).length; }", json!(null)),
        Err(Error::Memory(Limits::default().memory_bytes))
    );
    assert_eq!(
        call("function f(n) { return f(n + 1) + 1; }\nfunction main() { return f(0); }", json!(null)),
        Err(Error::Stack)
    );
    // Huge work inside one built-in (no interrupt is reached) still meets the memory cap.
    let sort = "function main() { return Array.from({ length: 1e8 }, (_, i) => -i).sort().length; }";
    assert!(matches!(call(sort, json!(null)), Err(Error::Memory(_) | Error::Budget | Error::Deadline(_))));
    // The engine goes on serving after each of these.
    assert_eq!(call("function main(x) { return x + 1; }", json!(1)).unwrap(), json!(2));
}

#[test]
fn results_and_inputs_are_bounded() {
    let big = "function main() { return 'x'.repeat(300 * 1024); }";
    assert_eq!(call(big, json!(null)), Err(Error::Output(Limits::default().output_bytes)));
    let small = Limits { input_bytes: 100, ..Limits::default() };
    assert!(matches!(call_with("function main(x) { return 1; }", json!("y".repeat(200)), small), Err(Error::Data(_))));
    // What JSON cannot say comes back as null or is refused, never as a live object.
    assert_eq!(call("function main() { return function () {}; }", json!(null)).unwrap(), json!(null));
    assert!(matches!(call("function main() { const a = {}; a.a = a; return a; }", json!(null)), Err(Error::Thrown(_))));
}

#[test]
fn there_is_no_ambient_authority() {
    for name in [
        "require",
        "process",
        "fetch",
        "Date",
        "eval",
        "XMLHttpRequest",
        "WebAssembly",
        "performance",
        "setTimeout",
        "print",
        "console",
        "std",
        "os",
    ] {
        let source = format!("function main() {{ return typeof globalThis[{name:?}]; }}");
        assert_eq!(call(&source, json!(null)).unwrap(), json!("undefined"), "{name} must not exist");
    }
    assert!(matches!(call("function main() { return import('os'); }", json!(null)), Err(Error::Load(_))));
    assert!(matches!(call("function main() { return import /* hidden */ ('os'); }", json!(null)), Err(Error::Load(_))));
    assert_eq!(
        call("function main() { const important = 1, imports = 2; return important + imports; }", json!(null)),
        Ok(json!(3))
    );
    assert!(matches!(call("function main() { return Function('return 1')(); }", json!(null)), Err(Error::Thrown(_))));
    for maker in ["(function(){})", "(function*(){})", "(async function(){})", "(async function*(){})", "Error"] {
        let source = format!("function main() {{ return {maker}.constructor('return 1')(); }}");
        assert!(matches!(call(&source, json!(null)), Err(Error::Thrown(_))), "{maker}.constructor makes no code");
    }
    // The clock and randomness are the host's: the same seed gives the same numbers.
    let source = "function main() { return [roost.now, Math.random(), Math.random()]; }";
    let a = call(source, json!(null)).unwrap();
    assert_eq!(a, call(source, json!(null)).unwrap());
    assert_eq!(a[0], json!(1_700_000_000_000i64));
    let other = Engine::default()
        .call(&Program::new(source, Limits::default()), "main", &json!(null), Host { now_ms: 0, seed: 7 })
        .unwrap()
        .0;
    assert_ne!(a[1], other[1]);
    assert!(call("function main() { Math.random = () => 4; return Math.random(); }", json!(null)).is_err());
}

#[test]
fn no_call_sees_what_another_left_behind() {
    let engine = Engine::default();
    let source = r#"
        let count = 0;
        function main(step) {
          count += 1;
          if (step === "tamper") {
            Object.prototype.tampered = true;
            Array.prototype.push = function () { return "hijacked"; };
            globalThis.stash = "secret";
            JSON.stringify = () => "\"forged\"";
          }
          return { count, tampered: ({}).tampered === true, stash: typeof stash, push: [].push(1) };
        }
    "#;
    let program = Program::new(source, Limits::default());
    let run = |step: &str| engine.call(&program, "main", &json!(step), Host::default()).unwrap().0;
    assert_eq!(run("tamper")["tampered"], true, "a call may change its own world");
    let next = run("look");
    assert_eq!(next, json!({"count": 1, "tampered": false, "stash": "undefined", "push": 1}));
}

#[test]
fn broken_sources_and_missing_functions_are_reported() {
    assert!(matches!(call("function main( {", json!(null)), Err(Error::Load(_))));
    assert!(matches!(call("throw new Error('no')", json!(null)), Err(Error::Load(m)) if m.contains("no")));
    assert_eq!(call("function other() {}", json!(null)), Err(Error::NoFunction("main".into())));
    assert!(
        matches!(call("function main() { null.x; }", json!(null)), Err(Error::Thrown(m)) if m.contains("TypeError"))
    );
}

#[test]
fn calls_from_many_threads_each_get_a_runtime_of_their_own() {
    let engine = std::sync::Arc::new(Engine::default());
    let program = Program::new(
        "function main(x) { let s = 0; for (let i = 0; i < x; i++) s += i; return s; }",
        Limits::default(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (engine, program) = (engine.clone(), program.clone());
            std::thread::spawn(move || {
                for n in 0..50u64 {
                    let x = t * 100 + n;
                    let (v, _) = engine.call(&program, "main", &json!(x), Host::default()).unwrap();
                    assert_eq!(v, json!(x * x.saturating_sub(1) / 2));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn promise_jobs_end_with_the_call() {
    let endless = "function main() { const f = () => Promise.resolve().then(f); f(); return 1; }";
    assert!(matches!(call(endless, json!(null)), Err(Error::Engine(_) | Error::Budget | Error::Deadline(_))));
    let source = "let seen = []; async function main(x) { await null; seen.push(x); return seen.length; }";
    // The promise is not awaited by the host (its JSON is an empty object), but its job ran.
    assert_eq!(call(source, json!(1)).unwrap(), json!({}));
}

#[test]
fn a_check_loads_the_source_and_looks_for_the_function_without_calling_it() {
    let engine = Engine::default();
    let ok = Program::new("function judge(p) { for (;;) {} }", Limits::default());
    assert_eq!(engine.check(&ok, "judge"), Ok(()));
    assert_eq!(engine.check(&ok, "rank"), Err(Error::NoFunction("rank".into())));
    let broken = Program::new("function judge(p) {", Limits::default());
    assert!(matches!(engine.check(&broken, "judge"), Err(Error::Load(_))));
}

#[test]
fn jobs_queued_anywhere_end_with_their_call() {
    let engine = Engine::default();
    let host = Host::default();
    // Queued while loading (a check runs no function), and while the result is made.
    let at_load =
        Program::new("Promise.resolve().then(() => 1);\nfunction judge() { return null; }", Limits::default());
    for _ in 0..3 {
        assert_eq!(engine.check(&at_load, "judge"), Ok(()));
        assert_eq!(engine.call(&at_load, "judge", &json!(null), host).unwrap().0, json!(null));
    }
    let in_json = Program::new(
        "function judge() { return { toJSON() { Promise.resolve().then(() => 2); return 7; } }; }",
        Limits::default(),
    );
    for _ in 0..3 {
        assert_eq!(engine.call(&in_json, "judge", &json!(null), host).unwrap().0, json!(7));
    }
    // A job loop that outlasts the budget ends the call; the engine goes on.
    let endless = Program::new(
        "function judge() { const f = () => { for (let i = 0; i < 1e5; i++); return Promise.resolve().then(f); }; f(); return 1; }",
        Limits::default(),
    );
    assert!(matches!(
        engine.call(&endless, "judge", &json!(null), host),
        Err(Error::Budget | Error::Deadline(_) | Error::Engine(_))
    ));
    assert_eq!(engine.call(&at_load, "judge", &json!(null), host).unwrap().0, json!(null));
    // What is thrown is described, never by where it sits in memory.
    let odd = Program::new("function judge() { throw {}; }", Limits::default());
    let Err(Error::Thrown(message)) = engine.call(&odd, "judge", &json!(null), host) else { panic!("it threw") };
    assert!(!message.contains("0x"), "{message}");
}
