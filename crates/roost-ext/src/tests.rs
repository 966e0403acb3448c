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
        .call(&Program::new(source, limits), "judge", &input, Host { now_ms: 1_700_000_000_000, seed: 42 })
        .map(|(v, _)| v)
}

#[test]
fn a_rule_judges_its_input_and_answers_json() {
    let source = r#"
        function judge(post) {
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
    assert_eq!(call("function judge() { for (;;) {} }", json!(null)), Err(Error::Budget));
    let patient = Limits { budget: u64::MAX, deadline: Duration::from_millis(50), ..Limits::default() };
    assert_eq!(
        call_with("function judge() { while (true) {} }", json!(null), patient),
        Err(Error::Deadline(Duration::from_millis(50)))
    );
    // A runaway cannot catch its own interruption and go on.
    let stubborn = "function judge() { for (;;) { try { for (;;) {} } catch (e) {} } }";
    assert_eq!(call(stubborn, json!(null)), Err(Error::Budget));
    // Nor run at load time, before any function is called.
    assert_eq!(call("for (;;) {}\nfunction judge() {}", json!(null)), Err(Error::Budget));
}

#[test]
fn memory_and_stack_are_capped_inside_the_sandbox() {
    let far = Limits { deadline: Duration::from_secs(60), ..Limits::default() };
    let call = |source: &str, input| call_with(source, input, far.clone());
    let bomb = "function judge() { const a = []; for (;;) a.push(new Array(100000).fill(1.5)); }";
    assert_eq!(call(bomb, json!(null)), Err(Error::Memory(Limits::default().memory_bytes)));
    // One built-in asked for a gibibyte: it fails in the sandbox, not in the server.
    assert_eq!(
        call("function judge() { return 'x'.repeat(2 ** 29).length; }", json!(null)),
        Err(Error::Memory(Limits::default().memory_bytes))
    );
    assert_eq!(
        call("function judge() { return new Array(1 << 28).fill(0).length; }", json!(null)),
        Err(Error::Memory(Limits::default().memory_bytes))
    );
    assert_eq!(
        call("function f(n) { return f(n + 1) + 1; }\nfunction judge() { return f(0); }", json!(null)),
        Err(Error::Stack)
    );
    // Huge work inside one built-in (no interrupt is reached) still meets the memory cap.
    let sort = "function judge() { return Array.from({ length: 1e8 }, (_, i) => -i).sort().length; }";
    assert!(matches!(call(sort, json!(null)), Err(Error::Memory(_) | Error::Budget | Error::Deadline(_))));
    // The engine goes on serving after each of these.
    assert_eq!(call("function judge(x) { return x + 1; }", json!(1)).unwrap(), json!(2));
}

#[test]
fn results_and_inputs_are_bounded() {
    let big = "function judge() { return 'x'.repeat(300 * 1024); }";
    assert_eq!(call(big, json!(null)), Err(Error::Output(Limits::default().output_bytes)));
    let small = Limits { input_bytes: 100, ..Limits::default() };
    assert!(matches!(call_with("function judge(x) { return 1; }", json!("y".repeat(200)), small), Err(Error::Data(_))));
    // What JSON cannot say comes back as null or is refused, never as a live object.
    assert_eq!(call("function judge() { return function () {}; }", json!(null)).unwrap(), json!(null));
    assert!(matches!(
        call("function judge() { const a = {}; a.a = a; return a; }", json!(null)),
        Err(Error::Thrown(_))
    ));
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
        let source = format!("function judge() {{ return typeof globalThis[{name:?}]; }}");
        assert_eq!(call(&source, json!(null)).unwrap(), json!("undefined"), "{name} must not exist");
    }
    assert!(matches!(call("function judge() { return import('os'); }", json!(null)), Err(Error::Load(_))));
    assert!(matches!(
        call("function judge() { return import /* hidden */ ('os'); }", json!(null)),
        Err(Error::Load(_))
    ));
    assert_eq!(
        call("function judge() { const important = 1, imports = 2; return important + imports; }", json!(null)),
        Ok(json!(3))
    );
    assert!(matches!(call("function judge() { return Function('return 1')(); }", json!(null)), Err(Error::Thrown(_))));
    for maker in ["(function(){})", "(function*(){})", "(async function(){})", "(async function*(){})", "Error"] {
        let source = format!("function judge() {{ return {maker}.constructor('return 1')(); }}");
        assert!(matches!(call(&source, json!(null)), Err(Error::Thrown(_))), "{maker}.constructor makes no code");
    }
    // The clock and randomness are the host's: the same seed gives the same numbers.
    let source = "function judge() { return [roost.now, Math.random(), Math.random()]; }";
    let a = call(source, json!(null)).unwrap();
    assert_eq!(a, call(source, json!(null)).unwrap());
    assert_eq!(a[0], json!(1_700_000_000_000i64));
    let other = Engine::default()
        .call(&Program::new(source, Limits::default()), "judge", &json!(null), Host { now_ms: 0, seed: 7 })
        .unwrap()
        .0;
    assert_ne!(a[1], other[1]);
    assert!(call("function judge() { Math.random = () => 4; return Math.random(); }", json!(null)).is_err());
}

#[test]
fn no_call_sees_what_another_left_behind() {
    let engine = Engine::default();
    // Top-level state is the call's own: the source's top level runs anew for each call.
    let counter = Program::new("let count = 0;\nfunction judge() { count += 1; return count; }", Limits::default());
    for _ in 0..3 {
        assert_eq!(engine.call(&counter, "judge", &json!(null), Host::default()).unwrap().0, json!(1));
    }
    // Every way we know of to leave something in the shared realm fails in the call that tries
    // it, and the next call finds the realm as it was.
    let attempts = [
        "Object.prototype.tampered = true",
        "Array.prototype.push = function () { return 'hijacked'; }",
        "globalThis.stash = 'secret'",
        "stash = 'secret'",
        "JSON.stringify = () => '\"forged\"'",
        "Object.defineProperty(Object.prototype, 'tampered', { value: true })",
        "Object.setPrototypeOf(Array.prototype, { tampered: true })",
        "Math.stash = 1",
        "roost.stash = 1",
        "Object.getPrototypeOf(function* () {}).stash = 1",
        "Object.getPrototypeOf([][Symbol.iterator]()).stash = 1",
        "Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())).stash = 1",
        "Object.getPrototypeOf(/a/[Symbol.matchAll]('a')).stash = 1",
        "Object.getPrototypeOf(async function () {}).stash = 1",
        "Promise.prototype.stash = 1",
        "Error.prepareStackTrace = () => 'forged'",
        "Error.stackTraceLimit = 0",
        "Error.stash = 1",
        "Object.getOwnPropertyDescriptor(Function.prototype, 'caller').get.stash = 1",
        "Object.getOwnPropertyDescriptor(Object.prototype, 'toString').get.stash = 1",
        "Object.prototype.toString = () => 'forged'",
        "Math.random.stash = 1",
        "Symbol.prototype.stash = 1",
        "Map.prototype.set = () => 'forged'",
        "RegExp.prototype.exec = () => null",
        "String.prototype.trim = () => 'forged'",
    ];
    let look = r#"
        function react(step) {
          const tampered = ({}).tampered === true || [].tampered === true;
          const stash = typeof globalThis.stash + typeof Math.stash + typeof roost.stash + typeof Error.stash
            + typeof Object.getPrototypeOf(function* () {}).stash
            + typeof Object.getPrototypeOf([][Symbol.iterator]()).stash
            + typeof Object.getPrototypeOf(/a/[Symbol.matchAll]("a")).stash
            + typeof Promise.prototype.stash + typeof Math.random.stash + typeof Symbol.prototype.stash;
          let trace;
          try { null.x; } catch (e) { trace = typeof e.stack; }
          return {
            tampered, stash, trace,
            push: [].push(1), json: JSON.stringify({ a: 1 }), string: ({}).toString(),
            map: new Map().set(1, 2).size, exec: /a/.exec("a")[0], trim: " x ".trim(),
          };
        }
    "#;
    let looker = Program::new(look, Limits::default());
    let clean = engine.call(&looker, "react", &json!("look"), Host::default()).unwrap().0;
    assert_eq!(
        clean,
        json!({
            "tampered": false, "stash": "undefined".repeat(10), "trace": "string",
            "push": 1, "json": "{\"a\":1}", "string": "[object Object]", "map": 1, "exec": "a", "trim": "x",
        })
    );
    for attempt in attempts {
        let source = format!("function judge() {{ {attempt}; return 'changed'; }}");
        let tamper = Program::new(&source, Limits::default());
        let result = engine.call(&tamper, "judge", &json!(null), Host::default());
        assert!(matches!(result, Err(Error::Thrown(_))), "{attempt} is refused: {result:?}");
        assert_eq!(engine.call(&looker, "react", &json!("look"), Host::default()).unwrap().0, clean, "{attempt}");
    }
    // Within one call, the same program and context: a thrown attempt leaves nothing either.
    for attempt in attempts {
        let source = format!(
            "function react(step) {{ try {{ {attempt}; }} catch (e) {{}} return ({look_body})(step); }}",
            look_body = "function (s) { return typeof globalThis.stash + ({}).tampered; }"
        );
        let program = Program::new(&source, Limits::default());
        for _ in 0..2 {
            let seen = engine.call(&program, "react", &json!("x"), Host::default()).unwrap().0;
            assert_eq!(seen, json!("undefinedundefined"), "{attempt}");
        }
    }
    // Code may still assign the inherited methods and fields of its own objects.
    let own = r#"
        function judge() {
          const o = { a: 1 };
          o.toString = () => "mine";
          const e = new Error("x");
          e.name = "RuleError";
          e.message = "changed";
          class Box { constructor() { this.v = 2; } valueOf() { return this.v; } }
          const f = function () {};
          f.prototype.constructor = f;
          return [String(o), String(e), +new Box(), Object.keys(o)];
        }
    "#;
    assert_eq!(call(own, json!(null)).unwrap(), json!(["mine", "RuleError: changed", 2, ["a", "toString"]]));
}

#[test]
fn the_clock_and_seed_are_each_calls_own() {
    let engine = Engine::default();
    let program = Program::new("function judge() { return [roost.now, Math.random()]; }", Limits::default());
    let at = |now_ms, seed| engine.call(&program, "judge", &json!(null), Host { now_ms, seed }).unwrap().0;
    let first = at(1_000, 1);
    assert_eq!(first[0], json!(1_000));
    let second = at(2_000, 2);
    assert_eq!(second[0], json!(2_000));
    assert_ne!(first[1], second[1]);
    // The same seed again gives the same numbers, whatever ran in between in this context.
    assert_eq!(at(1_000, 1), first);
    // Symbols registered by one call carry nothing to the next.
    let symbols = Program::new(
        "function judge(x) { const s = Symbol.for('roost'); const o = {}; o[s] = x; return [Symbol.keyFor(s), o[s]]; }",
        Limits::default(),
    );
    assert_eq!(engine.call(&symbols, "judge", &json!(1), Host::default()).unwrap().0, json!(["roost", 1]));
    assert_eq!(engine.call(&symbols, "judge", &json!(2), Host::default()).unwrap().0, json!(["roost", 2]));
    // Regular expressions at the top level are made anew: `lastIndex` starts at 0 each call.
    let sticky =
        Program::new("const re = /a/g;\nfunction judge(s) { return re.test(s) && re.lastIndex; }", Limits::default());
    for _ in 0..3 {
        assert_eq!(engine.call(&sticky, "judge", &json!("ba"), Host::default()).unwrap().0, json!(2));
    }
}

#[test]
fn a_source_cannot_reach_out_of_its_function() {
    for escape in [
        "}); globalThis.stash = 1; (function () {",
        "} function judge() { return 'escaped'; } {",
        "`",
        "/*",
        "x <!-- }); globalThis.stash = 1; ({\nfunction judge() {}",
        "function judge() { return 1; }\n--> }); (function () {",
        "return [function () { return 'top'; }];",
    ] {
        let result = call(escape, json!(null));
        assert!(matches!(result, Err(Error::Load(_))), "{escape:?} does not load: {result:?}");
    }
    // A line comment at the very end does not swallow what follows the source.
    assert_eq!(call("function judge() { return 1; } // the end", json!(null)).unwrap(), json!(1));
}

#[test]
fn broken_sources_and_missing_functions_are_reported() {
    assert!(matches!(call("function judge( {", json!(null)), Err(Error::Load(_))));
    assert!(matches!(call("throw new Error('no')", json!(null)), Err(Error::Load(m)) if m.contains("no")));
    assert_eq!(call("function other() {}", json!(null)), Err(Error::NoFunction("judge".into())));
    assert!(
        matches!(call("function judge() { null.x; }", json!(null)), Err(Error::Thrown(m)) if m.contains("TypeError"))
    );
}

#[test]
fn calls_from_many_threads_each_get_a_runtime_of_their_own() {
    let engine = std::sync::Arc::new(Engine::default());
    let program = Program::new(
        "function judge(x) { let s = 0; for (let i = 0; i < x; i++) s += i; return s; }",
        Limits::default(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (engine, program) = (engine.clone(), program.clone());
            std::thread::spawn(move || {
                for n in 0..50u64 {
                    let x = t * 100 + n;
                    let (v, _) = engine.call(&program, "judge", &json!(x), Host::default()).unwrap();
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
    let endless = "function judge() { const f = () => Promise.resolve().then(f); f(); return 1; }";
    assert!(matches!(call(endless, json!(null)), Err(Error::Engine(_) | Error::Budget | Error::Deadline(_))));
    let source = "let seen = []; async function judge(x) { await null; seen.push(x); return seen.length; }";
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
