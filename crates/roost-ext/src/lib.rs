//! Extensions: JavaScript that people and agents write, run in a sandbox under hard limits.
//!
//! An extension is source text that defines functions (an automod rule's `judge(post)`, a
//! feed's `rank(candidates)`, a bot's `react(event)`); the host calls one with JSON in and
//! takes JSON out. The engine is QuickJS through `rquickjs` (ARCHITECTURE.md says why, with the
//! measurements).
//!
//! # What a call may do
//! Nothing but compute. A program is compiled once into a warm context (a JavaScript realm)
//! whose built-ins are **frozen**, and each call runs the source's top level afresh inside a
//! function of its own, so no call sees what another left behind: not a global (the global
//! object is frozen too), not a changed prototype, not a top-level variable. There is no
//! `Date`, no `require`, `process`, `fetch` or `import()`; `Math.random` is a generator seeded by the
//! host, and the host passes the time it wants the code to see. A call ends, with an error
//! naming the limit, when it uses up its instruction budget, passes its wall-clock deadline,
//! allocates past its memory cap, recurses past its stack limit or returns more than its output
//! limit. An interrupt handler alone does not stop every runaway (a huge `split` or `sort` runs
//! inside one built-in without reaching it), so the memory cap is a limit of equal rank.
//!
//! **Boundary:** no storage, HTTP or consensus crate. Calls are synchronous and CPU-bound:
//! callers run them off the async runtime with bounded concurrency.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rquickjs::context::intrinsic;
use rquickjs::context::EvalOptions;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Function, Runtime, Value};

/// The limits of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Times QuickJS may stop to ask whether to go on (it asks every few thousand
    /// instructions): the instruction budget.
    pub budget: u64,
    /// Wall-clock time of the whole call, compiling the source included.
    pub deadline: Duration,
    /// Bytes the program's runtime may allocate, its source and every value included.
    pub memory_bytes: usize,
    /// Bytes of native stack the interpreter may use (deep recursion ends here).
    pub stack_bytes: usize,
    /// Bytes of the result, as JSON.
    pub output_bytes: usize,
    /// Bytes of the input, as JSON.
    pub input_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            budget: 2_000,
            deadline: Duration::from_millis(100),
            memory_bytes: 16 * 1024 * 1024,
            stack_bytes: 256 * 1024,
            output_bytes: 256 * 1024,
            input_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Why a call gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The source does not compile, or running its top level failed.
    #[error("the extension does not load: {0}")]
    Load(String),
    /// The function is not defined by the source.
    #[error("the extension defines no function {0}")]
    NoFunction(String),
    /// The code threw.
    #[error("the extension failed: {0}")]
    Thrown(String),
    #[error("the extension used up its instruction budget")]
    Budget,
    #[error("the extension ran past its deadline of {0:?}")]
    Deadline(Duration),
    #[error("the extension needed more than its {0} bytes of memory")]
    Memory(usize),
    #[error("the extension recursed too deep")]
    Stack,
    #[error("the extension's result is larger than {0} bytes")]
    Output(usize),
    /// The input is larger than allowed, or the result is not JSON (a function, a cycle).
    #[error("{0}")]
    Data(String),
    /// The engine itself failed (it could not make a runtime or a context).
    #[error("the extension engine failed: {0}")]
    Engine(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// What a call used, for reports and health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub elapsed: Duration,
    /// Interrupt checks used of [`Limits::budget`].
    pub budget: u64,
}

/// What the host hands to a call besides its input: the only clock and randomness the code
/// sees (the command's timestamp and a seed, so that a replay decides the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Host {
    /// Milliseconds since the Unix epoch, as `roost.now`.
    pub now_ms: i64,
    /// Seeds `Math.random`.
    pub seed: u64,
}

/// An extension's source and its limits: what the engine keeps a warm runtime for.
#[derive(Debug, Clone)]
pub struct Program {
    key: [u8; 32],
    source: Arc<str>,
    limits: Limits,
}

impl Program {
    pub fn new(source: &str, limits: Limits) -> Program {
        // Warm runtimes carry their limits: the key names the limits as well as the source.
        let mut h = blake3::Hasher::new();
        h.update(source.as_bytes());
        for n in
            [limits.budget, limits.deadline.as_nanos() as u64, limits.memory_bytes as u64, limits.stack_bytes as u64]
        {
            h.update(&n.to_le_bytes());
        }
        Program { key: *h.finalize().as_bytes(), source: Arc::from(source), limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// The name under which [`Engine::check`] asks whether a function exists (not a name an
/// extension can define: it is not an identifier).
const CHECK: &str = "roost check";

/// Which limit an interrupt tripped (set by the handler, read after the call).
const RUNNING: u8 = 0;
const OUT_OF_BUDGET: u8 = 1;
const PAST_DEADLINE: u8 = 2;

/// The functions the host may call: an automod rule's `judge`, a feed's `rank`, a bot's
/// `react`. (The source's top level runs anew for each call, inside a function of its own, so
/// the host finds these among its declarations rather than on the global object.)
pub const ENTRY_POINTS: &[&str] = &["judge", "rank", "react"];

/// A program loaded and kept warm: its runtime (with the program's limits) and one context in
/// which the prelude ran, the realm was frozen and the source was compiled. The context's
/// host-only functions (the factory, `begin`, `stringify`) are kept as the runtime's user data,
/// out of the code's reach.
struct Warm {
    // Fields drop in order: the context before its runtime.
    context: Context,
    runtime: Runtime,
}

/// What [`Warm`] keeps for the host: the compiled source (a function whose every call runs the
/// source's top level afresh and returns its [`ENTRY_POINTS`]), the function that hands a call
/// its clock and seed, and the one that turns a result into JSON.
type HostFunctions<'js> = Vec<Function<'js>>;
const FACTORY: usize = 0;
const BEGIN: usize = 1;
const STRINGIFY: usize = 2;

/// Warm programs, kept per program; each serves one call at a time.
pub struct Engine {
    idle: Mutex<HashMap<[u8; 32], Vec<Warm>>>,
    /// Programs with idle runtimes kept, at most.
    max_programs: usize,
    /// Idle runtimes kept per program, at most.
    per_program: usize,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(256, 2)
    }
}

/// The code every context runs once, before the extension's source is compiled. It returns
/// the host's two functions: `begin(now, seedHi, seedLo)`, which gives a call its clock
/// (`roost.now`) and seeds `Math.random` (xorshift), and `stringify(value)`, which makes the
/// result's JSON with the `JSON.stringify` of this moment and refuses one past the output limit
/// inside the sandbox.
///
/// Then it **freezes the realm**: every object reachable from the global object, and the
/// built-in prototypes reachable only from instances (generators, iterators), is frozen, so
/// that one call cannot leave anything for the next — calls share the realm, and only what a
/// call makes itself (the source's top level, run anew each time) is its own. The few
/// context-wide settings that are not properties (`Error.prepareStackTrace`,
/// `Error.stackTraceLimit`) are removed. Assigning to an inherited built-in method or error
/// field (`obj.toString = …`, `err.name = …`) still works: those properties become accessors
/// whose setter defines the property on the object assigned to.
const PRELUDE: &str = r#"
(function (maxOutput) {
  "use strict";
  const { freeze, getPrototypeOf, getOwnPropertyDescriptor, defineProperty } = Object;
  const ownKeys = Reflect.ownKeys;
  const FunctionConstructor = Function;
  const toJson = JSON.stringify;

  let now = 0, s0 = 0x9e3779b9, s1 = 0x7f4a7c15;
  const random = function random() {
    let t = s0 ^ (s0 << 11); s0 = s1;
    s1 = (s1 ^ (s1 >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return s1 / 4294967296;
  };
  defineProperty(Math, "random", { value: random, writable: false, configurable: false });
  const roost = {};
  defineProperty(roost, "now", { get: function now_() { return now; }, enumerable: true });
  defineProperty(globalThis, "roost", { value: roost, writable: false, configurable: false });

  // No code made from strings: without `eval` and the function constructors, what runs is the
  // source the host loaded and nothing else.
  delete globalThis.eval;
  delete globalThis.Function;
  const makers = [function () {}, function* () {}, async function () {}, async function* () {}];
  for (const f of makers) {
    defineProperty(getPrototypeOf(f), "constructor", { value: undefined, writable: false, configurable: false });
  }
  // Settings of the whole context, which freezing does not reach.
  delete Error.prepareStackTrace;
  delete Error.stackTraceLimit;

  // Inherited properties that code commonly assigns on its own objects: accessors, so that
  // the assignment defines an own property rather than failing on the frozen prototype.
  const overridable = (proto, key) => {
    const d = getOwnPropertyDescriptor(proto, key);
    if (!d || !("value" in d) || !d.configurable) return;
    const value = d.value;
    defineProperty(proto, key, {
      get: function () { return value; },
      set: function (v) {
        if (this === proto) throw new TypeError("the built-ins are frozen: " + String(key) + " cannot be changed");
        defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  };
  for (const key of ownKeys(Object.prototype)) overridable(Object.prototype, key);
  for (const E of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]) {
    for (const key of ["name", "message", "toString", "constructor"]) overridable(E.prototype, key);
  }
  for (const C of [Array, FunctionConstructor, Promise, RegExp, String, Number, Boolean, Symbol, Map, Set, WeakMap, WeakSet]) {
    for (const key of ["constructor", "toString", "valueOf", "toJSON", "then"]) overridable(C.prototype, key);
  }

  // Freeze everything reachable, through values, accessors and prototypes.
  const roots = [globalThis, ...makers];
  const instances = [
    () => (function* () {})(),
    () => (async function* () {})(),
    () => [][Symbol.iterator](),
    () => new Map()[Symbol.iterator](),
    () => new Set()[Symbol.iterator](),
    () => ""[Symbol.iterator](),
    () => /a/[Symbol.matchAll]("a"),
    () => [].values().map((x) => x),
    () => Iterator.from({ next() { return { done: true }; } }),
    () => (function () { return arguments; })(),
    () => Promise.resolve(),
  ];
  for (const make of instances) {
    try { roots.push(make()); } catch (e) { /* not in this engine */ }
  }
  const seen = new Set();
  while (roots.length > 0) {
    const o = roots.pop();
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
    seen.add(o);
    freeze(o);
    roots.push(getPrototypeOf(o));
    for (const key of ownKeys(o)) {
      const d = getOwnPropertyDescriptor(o, key);
      if ("value" in d) roots.push(d.value); else roots.push(d.get, d.set);
    }
  }

  const begin = function (at, seedHi, seedLo) {
    now = at;
    s0 = (seedHi >>> 0) || 0x9e3779b9;
    s1 = (seedLo >>> 0) || 0x7f4a7c15;
  };
  const stringify = function (value) {
    const text = toJson(value);
    if (text === undefined) return "null";
    if (text.length > maxOutput) throw new RangeError("roost: the result is too large");
    return text;
  };
  return [begin, stringify];
})
"#;

impl Engine {
    pub fn new(max_programs: usize, per_program: usize) -> Engine {
        Engine { idle: Mutex::default(), max_programs: max_programs.max(1), per_program: per_program.max(1) }
    }

    /// Calls `function` (one of [`ENTRY_POINTS`]) of `program` with `input`; returns its
    /// result and what it used.
    pub fn call(
        &self,
        program: &Program,
        function: &str,
        input: &serde_json::Value,
        host: Host,
    ) -> Result<(serde_json::Value, Usage)> {
        let input = serde_json::to_string(input).map_err(|e| Error::Data(e.to_string()))?;
        if input.len() > program.limits.input_bytes {
            return Err(Error::Data(format!("the input is larger than {} bytes", program.limits.input_bytes)));
        }
        let started = Instant::now();
        let warm = match self.take(program) {
            Some(warm) => warm,
            None => build(program)?,
        };
        let tripped = Arc::new(AtomicU8::new(RUNNING));
        let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
        {
            let (tripped, ticks, limits) = (tripped.clone(), ticks.clone(), program.limits.clone());
            warm.runtime.set_interrupt_handler(Some(Box::new(move || {
                let used = ticks.fetch_add(1, Ordering::Relaxed) + 1;
                let why = if used > limits.budget {
                    OUT_OF_BUDGET
                } else if started.elapsed() > limits.deadline {
                    PAST_DEADLINE
                } else {
                    return false;
                };
                tripped.store(why, Ordering::Relaxed);
                true
            })));
        }
        let mut clean = true;
        let result = warm.context.with(|ctx| {
            let result = body(&ctx, program, function, &input, host);
            match settle(&ctx, &tripped) {
                Ok(()) => result,
                Err(e) => {
                    clean = false;
                    result.and(Err(e))
                }
            }
        });
        warm.runtime.set_interrupt_handler(None);
        let usage = Usage { elapsed: started.elapsed(), budget: ticks.load(Ordering::Relaxed) };
        let result = match (result, tripped.load(Ordering::Relaxed)) {
            // A limit that tripped ends the call, even if the code (or a job) went on to finish.
            (_, OUT_OF_BUDGET) => Err(Error::Budget),
            (_, PAST_DEADLINE) => Err(Error::Deadline(program.limits.deadline)),
            (r, _) => r,
        };
        // A runtime that ran out of memory may be left in a poor state, and one with jobs still
        // queued would run them in the next call: neither is kept.
        if clean && !matches!(result, Err(Error::Memory(_) | Error::Engine(_))) {
            self.give_back(program, warm);
        }
        let output = result?;
        if output.len() > program.limits.output_bytes {
            return Err(Error::Output(program.limits.output_bytes));
        }
        let value = serde_json::from_str(&output).map_err(|e| Error::Data(format!("the result is not JSON: {e}")))?;
        Ok((value, usage))
    }

    /// Whether the program loads under its limits and defines `function` (runs its top level
    /// and nothing else).
    pub fn check(&self, program: &Program, function: &str) -> Result<()> {
        match self.call(program, CHECK, &serde_json::Value::String(function.to_string()), Host::default()) {
            Ok((serde_json::Value::Bool(true), _)) => Ok(()),
            Ok(_) => Err(Error::NoFunction(function.to_string())),
            Err(e) => Err(e),
        }
    }

    /// A warm context for the program, if one is idle.
    fn take(&self, program: &Program) -> Option<Warm> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&program.key).and_then(Vec::pop)
    }

    fn give_back(&self, program: &Program, warm: Warm) {
        // What the call made went with it (reference counting); cycles are left to QuickJS's
        // own collector, which runs as allocation grows.
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if !idle.contains_key(&program.key) && idle.len() >= self.max_programs {
            // Make room by dropping some other program's runtimes (whichever comes first).
            if let Some(other) = idle.keys().next().copied() {
                idle.remove(&other);
            }
        }
        let kept = idle.entry(program.key).or_default();
        if kept.len() < self.per_program {
            kept.push(warm);
        }
    }
}

/// Bytes a context and the prelude may take beyond the program's cap while they are set up: a
/// context left half-built at the cap would not be safe to use or to free.
const SETUP_BYTES: usize = 2 * 1024 * 1024;

/// A runtime under the program's limits with one context: the prelude run, the realm frozen,
/// the source checked and compiled into its factory.
fn build(program: &Program) -> Result<Warm> {
    // The built-ins a program may use: no `Date` (no clock), no typed arrays, `Proxy` or
    // `WeakRef`; promises, whose jobs run before the call returns (`settle`); `Eval` only so
    // that the host can load the source (the prelude takes `eval` and the function
    // constructors away).
    type Intrinsics = (
        intrinsic::Eval,
        intrinsic::RegExpCompiler,
        intrinsic::RegExp,
        intrinsic::Json,
        intrinsic::MapSet,
        intrinsic::Promise,
    );
    let limits = &program.limits;
    refuse_unsupported(&program.source)?;
    let runtime = Runtime::new().map_err(|e| Error::Engine(e.to_string()))?;
    runtime.set_max_stack_size(limits.stack_bytes);
    runtime.set_memory_limit(limits.memory_bytes.saturating_add(SETUP_BYTES));
    let context = Context::custom::<Intrinsics>(&runtime).map_err(|e| Error::Engine(e.to_string()));
    let loaded = context.as_ref().map_err(Clone::clone).and_then(|context| {
        context.with(|ctx| {
            let prelude: Function =
                ctx.eval(PRELUDE).catch(&ctx).map_err(|_| Error::Engine("the prelude did not load".into()))?;
            let host: rquickjs::Array = prelude
                .call((limits.output_bytes as f64,))
                .catch(&ctx)
                .map_err(|e| Error::Engine(format!("the prelude failed: {}", thrown(&e, limits))))?;
            let engine = |e: rquickjs::Error| Error::Engine(e.to_string());
            let (begin, stringify): (Function, Function) = (host.get(0).map_err(engine)?, host.get(1).map_err(engine)?);
            // The source must be a whole program by itself (parsed, not run), so that it cannot
            // reach out of the function it is compiled into.
            rquickjs::Module::declare(ctx.clone(), "extension.js", program.source.as_bytes())
                .catch(&ctx)
                .map_err(|e| loading(&e, limits))?;
            let entries: Vec<String> =
                ENTRY_POINTS.iter().map(|f| format!("typeof {f} === \"function\" ? {f} : void 0")).collect();
            let wrapped =
                format!("(function () {{ \"use strict\"; {}\n;return [{}];\n}})", program.source, entries.join(", "));
            let mut options = EvalOptions::default();
            options.strict = true;
            options.filename = Some("extension.js".into());
            let factory: Function =
                ctx.eval_with_options(wrapped.into_bytes(), options).catch(&ctx).map_err(|e| loading(&e, limits))?;
            let functions: HostFunctions<'_> = vec![factory, begin, stringify];
            ctx.store_userdata(functions).map_err(|_| Error::Engine("the context is already in use".into()))?;
            Ok(())
        })
    });
    runtime.set_memory_limit(limits.memory_bytes);
    loaded?;
    Ok(Warm { context: context?, runtime })
}

fn entry_index(function: &str) -> Result<usize> {
    ENTRY_POINTS.iter().position(|f| *f == function).ok_or_else(|| Error::NoFunction(function.to_string()))
}

/// One call in the program's warm context: a fresh run of the source's top level, then the
/// function (or, for [`CHECK`], whether it exists), and its result as JSON through the
/// prelude's `stringify`, which refuses one past the output limit before it leaves the sandbox.
fn body<'js>(ctx: &Ctx<'js>, program: &Program, function: &str, input: &str, host: Host) -> Result<String> {
    let limits = &program.limits;
    let functions = ctx.userdata::<HostFunctions<'js>>().ok_or_else(|| Error::Engine("a context unloaded".into()))?;
    let (factory, begin, stringify) =
        (functions[FACTORY].clone(), functions[BEGIN].clone(), functions[STRINGIFY].clone());
    drop(functions);
    let (hi, lo) = ((host.seed >> 32) as u32, host.seed as u32);
    begin.call::<_, ()>((host.now_ms as f64, hi, lo)).catch(ctx).map_err(|e| thrown(&e, limits))?;
    let entries: rquickjs::Array = factory.call(()).catch(ctx).map_err(|e| loading(&e, limits))?;
    let engine = |e: rquickjs::Error| Error::Engine(e.to_string());
    if function == CHECK {
        let wanted: std::string::String = serde_json::from_str(input).map_err(|e| Error::Data(e.to_string()))?;
        let entry: Value = entries.get(entry_index(&wanted)?).map_err(engine)?;
        return Ok(entry.is_function().to_string());
    }
    let entry: Value = entries.get(entry_index(function)?).map_err(engine)?;
    let Some(entry) = entry.into_function() else { return Err(Error::NoFunction(function.to_string())) };
    let input = ctx.json_parse(input).catch(ctx).map_err(|e| thrown(&e, limits))?;
    let output: Value = entry.call((input,)).catch(ctx).map_err(|e| thrown(&e, limits))?;
    let text: std::string::String = stringify.call((output,)).catch(ctx).map_err(|e| thrown(&e, limits))?;
    Ok(text)
}

/// Jobs one call may queue, at most.
const MAX_JOBS: usize = 1_000;

/// Runs the jobs queued in this context until none is left; refuses the call once a limit
/// tripped or past [`MAX_JOBS`] (jobs may then be left: the runtime is dropped).
fn settle(ctx: &Ctx<'_>, tripped: &AtomicU8) -> Result<()> {
    for _ in 0..MAX_JOBS {
        if tripped.load(Ordering::Relaxed) != RUNNING {
            return Err(Error::Engine("a limit was reached while jobs were queued".into()));
        }
        if !ctx.execute_pending_job() {
            return Ok(());
        }
    }
    Err(Error::Engine("the extension queued too many jobs".into()))
}

/// Refuses what the sandbox does not take:
/// - `import` as a word: an extension has nothing to import (everything it may use is handed
///   to it), and QuickJS leaves a dynamic `import()` without a module loader half done, which
///   it checks with an assertion when the runtime is freed;
/// - HTML-like comments (`<!--`, `-->`): the source is checked as a module, where they are not
///   comments, and run as a script, where they are, so they could make the two differ.
fn refuse_unsupported(source: &str) -> Result<()> {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    for (at, _) in source.match_indices("import") {
        let before = source[..at].chars().next_back();
        let after = source[at + "import".len()..].chars().next();
        if !before.is_some_and(ident) && !after.is_some_and(ident) {
            return Err(Error::Load("extensions cannot use `import`: what they may use is passed to them".into()));
        }
    }
    if source.contains("<!--") || source.contains("-->") {
        return Err(Error::Load(
            "extensions cannot contain `<!--` or `-->` (HTML-like comments): split the string, or space the operators"
                .into(),
        ));
    }
    Ok(())
}

fn loading(e: &CaughtError<'_>, limits: &Limits) -> Error {
    match thrown(e, limits) {
        Error::Thrown(message) => Error::Load(message),
        other => other,
    }
}

/// What an exception means: a limit the engine enforced, or the code's own error.
fn thrown(e: &CaughtError<'_>, limits: &Limits) -> Error {
    let message = match e {
        CaughtError::Exception(x) => {
            let name: Option<String> = x.as_object().get::<_, Option<String>>("name").ok().flatten();
            let message = x.message().unwrap_or_default();
            match name {
                Some(n) if !n.is_empty() => format!("{n}: {message}"),
                _ => message,
            }
        }
        CaughtError::Value(v) if v.is_null() => "out of memory".into(),
        CaughtError::Value(v) => {
            v.as_string().and_then(|s| s.to_string().ok()).unwrap_or_else(|| format!("a thrown {}", v.type_name()))
        }
        CaughtError::Error(rquickjs::Error::Allocation) => "out of memory".into(),
        CaughtError::Error(other) => other.to_string(),
    };
    let lower = message.to_ascii_lowercase();
    if message == "RangeError: roost: the result is too large" {
        Error::Output(limits.output_bytes)
    } else if lower.contains("out of memory") {
        Error::Memory(limits.memory_bytes)
    } else if lower.contains("stack overflow") || lower.contains("call stack") {
        Error::Stack
    } else {
        Error::Thrown(message.chars().take(500).collect())
    }
}

#[cfg(test)]
mod tests;
