//! Compatibility with real MCP peers nobody here wrote: server-everything
//! behind the relay, the MCP Inspector's CLI and a raw host of ours in
//! front (see `support/everything.rs`). Each test runs the same host twice,
//! on server-everything directly and through our binary and the test sshd,
//! and requires the same bytes after `normalise` (whose doc lists every
//! field masked and why). The tests alternate between a shell request with
//! `ForceCommand` and an exec of `--command`; after the channel is open the
//! relay is the same code either way.
//!
//! One rewrite is ours and deliberate: the relay sends U+2028, U+2029 and
//! U+0085 to the remote as JSON escapes. Requests that carry them are
//! compared at the server as parsed JSON; the responses are compared byte
//! for byte, since the remote's output is passed verbatim.

use serde_json::{Value, json};

use crate::support::everything::*;

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// An `initialize` for `version`, declaring the client `capabilities`.
fn initialize(id: u64, version: &str, capabilities: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{capabilities},"clientInfo":{{"name":"compat-host","title":"Compat Hôst ✓","version":"1.0.0"}}}}}}"#
    )
}

fn request(id: u64, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

fn tool_call(id: u64, name: &str, arguments: Value) -> String {
    request(
        id,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

/// The direct and the relayed transcripts are the same lines; on a
/// difference, names the first line that differs.
fn assert_same(direct: &[String], relayed: &[String]) {
    for (i, (d, r)) in direct.iter().zip(relayed).enumerate() {
        assert!(
            d == r,
            "line {i} differs\n direct: {}\nrelayed: {}",
            head(d),
            head(r)
        );
    }
    assert_eq!(
        direct.len(),
        relayed.len(),
        "direct: {:#?}\nrelayed: {:#?}",
        heads(direct),
        heads(relayed)
    );
}

fn heads(lines: &[String]) -> Vec<&str> {
    lines.iter().map(|l| head(l)).collect()
}

fn head(line: &str) -> &str {
    let end = line.char_indices().nth(2000).map_or(line.len(), |(i, _)| i);
    &line[..end]
}

/// What an Inspector run must show: a result holding this text on stdout,
/// or a failure (exit 1) with this text on stderr.
enum Expect {
    Ok(&'static str),
    Err(&'static str),
}

/// Runs each Inspector command on both routes; the exit code, stdout and
/// stderr (normalised) must be the same, and as expected. Two commands run
/// at a time: most of a run is node starting up.
fn inspector_matches(via: Via, cases: &[(&[&str], Expect)]) {
    let everything = Everything::start(via);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _worker in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((args, expect)) = cases.get(i) else {
                        return;
                    };
                    check_inspector(&everything, args, expect);
                }
            });
        }
    });
}

fn check_inspector(everything: &Everything, args: &[&str], expect: &Expect) {
    let direct = inspector_outcome(&everything.inspector(Route::Direct, args));
    let relayed = inspector_outcome(&everything.inspector(Route::Relayed, args));
    match expect {
        Expect::Ok(text) => {
            assert_eq!(direct.0, Some(0), "{args:?} direct: {}", direct.2);
            assert!(direct.1.contains(text), "{args:?}: {}", direct.1);
        }
        Expect::Err(text) => {
            assert_eq!(direct.0, Some(1), "{args:?}: {}", direct.1);
            assert!(direct.2.contains(text), "{args:?}: {}", direct.2);
        }
    }
    assert_eq!(direct, relayed, "{args:?}");
}

#[test]
fn inspector_sees_every_tool_result_as_on_a_direct_connection() {
    use Expect::*;
    let data = "data:text/plain;base64,SGVsbG8sIE1DUCDinJMK";
    inspector_matches(
        Via::Shell,
        &[
            (
                &["--method", "tools/list"],
                Ok("\"trigger-long-running-operation\""),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "echo",
                    "--tool-arg",
                    "message=héllo 日本 🎉",
                ],
                Ok("Echo: héllo 日本 🎉"),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "echo",
                    "--tool-arg",
                    "message=a\u{2028}b\u{2029}c\u{85}d",
                ],
                Ok("Echo: a\u{2028}b\u{2029}c\u{85}d"),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "get-annotated-message",
                    "--tool-arg",
                    "messageType=error",
                    "--tool-arg",
                    "includeImage=true",
                ],
                Ok("\"type\": \"image\""),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "get-annotated-message",
                    "--tool-arg",
                    "messageType=success",
                ],
                Ok("Operation completed successfully"),
            ),
            (
                &["--method", "tools/call", "--tool-name", "get-env"],
                Ok("<environment>"),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "get-resource-links",
                    "--tool-arg",
                    "count=4",
                ],
                Ok("\"type\": \"resource_link\""),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "get-resource-reference",
                    "--tool-arg",
                    "resourceType=Text",
                    "--tool-arg",
                    "resourceId=3",
                ],
                Ok("created at <time>"),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "get-resource-reference",
                    "--tool-arg",
                    "resourceType=Blob",
                    "--tool-arg",
                    "resourceId=2",
                ],
                Ok("\"blob\""),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "get-structured-content",
                    "--tool-arg",
                    "location=Chicago",
                ],
                Ok("\"structuredContent\""),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "get-sum",
                    "--tool-arg",
                    "a=2",
                    "--tool-arg",
                    "b=40.5",
                ],
                Ok("The sum of 2 and 40.5 is 42.5."),
            ),
            (
                &["--method", "tools/call", "--tool-name", "get-tiny-image"],
                Ok("\"mimeType\": \"image/png\""),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "gzip-file-as-resource",
                    "--tool-arg",
                    "name=hello.gz",
                    "--tool-arg",
                    &format!("data={data}"),
                    "--tool-arg",
                    "outputType=resource",
                ],
                Ok("\"mimeType\": \"application/gzip\""),
            ),
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "gzip-file-as-resource",
                    "--tool-arg",
                    "name=hello.gz",
                    "--tool-arg",
                    &format!("data={data}"),
                ],
                Ok("demo://resource/session/hello.gz"),
            ),
            // toggle-simulated-logging and toggle-subscriber-updates start
            // timers that keep server-everything running after its stdin
            // closes: the raw host calls them, and turns them off again.
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "trigger-long-running-operation",
                    "--tool-arg",
                    "duration=0.4",
                    "--tool-arg",
                    "steps=2",
                ],
                Ok("Long running operation completed. Duration: 0.4 seconds, Steps: 2."),
            ),
            // Tool errors pass through as the server words them.
            (
                &["--method", "tools/call", "--tool-name", "echo"],
                Ok("MCP error -32602: Input validation error"),
            ),
            (
                &["--method", "tools/call", "--tool-name", "no-such-tool"],
                Ok("MCP error -32602: Tool no-such-tool not found"),
            ),
            // Needs a host that runs tasks; the Inspector CLI does not.
            (
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "simulate-research-query",
                    "--tool-arg",
                    "topic=x",
                ],
                Err("MCP error -32600"),
            ),
        ],
    );
}

#[test]
fn inspector_sees_resources_prompts_and_logging_as_on_a_direct_connection() {
    use Expect::*;
    inspector_matches(
        Via::Exec,
        &[
            (
                &["--method", "resources/list"],
                Ok("demo://resource/static/document/architecture.md"),
            ),
            (
                &["--method", "resources/templates/list"],
                Ok("demo://resource/dynamic/blob/{resourceId}"),
            ),
            (
                &[
                    "--method",
                    "resources/read",
                    "--uri",
                    "demo://resource/static/document/features.md",
                ],
                Ok("\"mimeType\": \"text/markdown\""),
            ),
            (
                &[
                    "--method",
                    "resources/read",
                    "--uri",
                    "demo://resource/dynamic/text/7",
                ],
                Ok("created at <time>"),
            ),
            (
                &[
                    "--method",
                    "resources/read",
                    "--uri",
                    "demo://resource/dynamic/blob/8",
                ],
                Ok("\"blob\""),
            ),
            (
                &[
                    "--method",
                    "resources/read",
                    "--uri",
                    "demo://resource/nowhere",
                ],
                Err("MCP error -32602: Resource demo://resource/nowhere not found"),
            ),
            (&["--method", "prompts/list"], Ok("\"completable-prompt\"")),
            (
                &["--method", "prompts/get", "--prompt-name", "simple-prompt"],
                Ok("without arguments"),
            ),
            (
                &[
                    "--method",
                    "prompts/get",
                    "--prompt-name",
                    "args-prompt",
                    "--prompt-args",
                    "city=Zürich",
                    "state=Île-de-France",
                ],
                Ok("What's weather in Zürich, Île-de-France?"),
            ),
            (
                &[
                    "--method",
                    "prompts/get",
                    "--prompt-name",
                    "completable-prompt",
                    "--prompt-args",
                    "department=Engineering",
                    "name=Alice",
                ],
                Ok("Please promote Alice to the head of the Engineering team."),
            ),
            (
                &[
                    "--method",
                    "prompts/get",
                    "--prompt-name",
                    "resource-prompt",
                    "--prompt-args",
                    "resourceType=Blob",
                    "resourceId=5",
                ],
                Ok("\"blob\""),
            ),
            (
                &["--method", "prompts/get", "--prompt-name", "args-prompt"],
                Err("MCP error -32602"),
            ),
            (
                &["--method", "logging/setLevel", "--log-level", "error"],
                Ok("{}"),
            ),
            (
                &["--method", "logging/setLevel", "--log-level", "debug"],
                Ok("{}"),
            ),
            // The Inspector CLI 1.0.3 offers "warn" and "trace", which MCP
            // does not define; the server refuses them, the same both ways.
            (
                &["--method", "logging/setLevel", "--log-level", "warn"],
                Err("MCP error -32603"),
            ),
        ],
    );
}

/// The capabilities of a host that answers every server request.
const FULL_HOST: &str =
    r#"{"roots":{"listChanged":true},"sampling":{},"elicitation":{"form":{},"url":{}}}"#;

/// Initializes with a host that declares roots, sampling and elicitation,
/// and answers the server's first roots/list with one root.
fn start_full_session(host: &mut Host) {
    host.request(&initialize(1, "2025-11-25", FULL_HOST));
    host.send(INITIALIZED);
    let id = host.expect_request("roots/list");
    host.respond(
        &id,
        r#"{"roots":[{"uri":"file:///srv/wörk","name":"Wörk ✓"}]}"#,
    );
    host.until(|v| v["method"] == "notifications/message");
}

#[test]
fn server_requests_reach_the_host_and_its_answers_reach_the_server() {
    let everything = Everything::start(Via::Shell);
    let runs = differential(&everything, |host| {
        start_full_session(host);
        // The tools the server adds once it knows the host's capabilities.
        host.request(&request(2, "tools/list", json!({})));
        host.request(&tool_call(3, "get-roots-list", json!({})));

        host.send(&tool_call(
            4,
            "trigger-sampling-request",
            json!({"prompt": "Grüße 🎉", "maxTokens": 7}),
        ));
        let id = host.expect_request("sampling/createMessage");
        host.respond(
            &id,
            r#"{"role":"assistant","content":{"type":"text","text":"sampled by the hôst ✓"},"model":"host-model-1","stopReason":"endTurn"}"#,
        );
        host.until(|v| is_response_to(v, &json!(4)));

        host.send(&tool_call(5, "trigger-elicitation-request", json!({})));
        let id = host.expect_request("elicitation/create");
        host.respond(
            &id,
            r#"{"action":"accept","content":{"name":"Ada Lovelace","check":true,"integer":7,"untitledSingleSelectEnum":"Joey"}}"#,
        );
        host.until(|v| is_response_to(v, &json!(5)));

        let url = json!({"url": "https://example.com/consent", "elicitationId": "elicit-1"});
        host.send(&tool_call(6, "trigger-url-elicitation", url));
        let id = host.expect_request("elicitation/create");
        host.respond(&id, r#"{"action":"decline"}"#);
        host.until(|v| is_response_to(v, &json!(6)));
        // The error path: -32042 with its data, as the server words it.
        let url = json!({"url": "https://example.com/consent", "elicitationId": "elicit-2", "errorPath": true});
        host.request(&tool_call(7, "trigger-url-elicitation", url));

        // The host's roots change: the server asks again.
        host.send(r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
        let id = host.expect_request("roots/list");
        host.respond(
            &id,
            r#"{"roots":[{"uri":"file:///a","name":"A"},{"uri":"file:///b","name":"B"}]}"#,
        );
        host.until(|v| v["method"] == "notifications/message");
        host.request(&tool_call(8, "get-roots-list", json!({})));
    });
    assert_same(&runs.direct, &runs.relayed);
    let all = runs.relayed.join("\n");
    for seen in [
        "notifications/tools/list_changed",
        r#""method":"roots/list""#,
        "Wörk ✓",
        r#""method":"sampling/createMessage""#,
        "Resource trigger-sampling-request context: Grüße 🎉",
        r#"\"text\": \"sampled by the hôst ✓\""#,
        r#"\"model\": \"host-model-1\""#,
        r#""method":"elicitation/create""#,
        "Ada Lovelace",
        "User declined to open the URL (Elicitation ID: elicit-1)",
        r#""code":-32042"#,
        "Roots updated: 2 root(s) received from client",
        "Current MCP Roots (2 total)",
    ] {
        assert!(all.contains(seen), "{seen} missing from {all}");
    }
}

#[test]
fn progress_arrives_in_order_and_a_cancelled_call_is_never_answered() {
    let everything = Everything::start(Via::Exec);
    let runs = differential(&everything, |host| {
        host.request(&initialize(1, "2025-06-18", r#"{"sampling":{}}"#));
        host.send(INITIALIZED);
        host.request(&long_operation(2, "tök-2", 0.8, 4));

        // The host cancels a tool call: no answer comes for it, ever. The
        // server's loop does not watch for cancellation, so its remaining
        // progress still arrives (the same on a direct connection). A
        // second call that ends after the first would have is the clock.
        host.send(&long_operation(3, "tök-3", 3.0, 3));
        host.until(|v| v["method"] == "notifications/progress");
        host.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3,"reason":"the hôst gave up"}}"#);
        host.request(&long_operation(4, "tök-4", 3.0, 1));

        // Progress from the host, on a server request: server-everything
        // gives its requests no progress token and ignores it, so what is
        // checked is that it reached the server as sent (below).
        host.send(&tool_call(
            5,
            "trigger-sampling-request",
            json!({"prompt": "p"}),
        ));
        let id = host.expect_request("sampling/createMessage");
        host.send(&format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{id},"progress":1,"total":2,"message":"thinking…"}}}}"#
        ));
        host.respond(
            &id,
            r#"{"role":"assistant","content":{"type":"text","text":"ok"},"model":"m"}"#,
        );
        host.until(|v| is_response_to(v, &json!(5)));
    });
    assert_same(&runs.direct, &runs.relayed);

    let messages: Vec<Value> = runs.relayed.iter().map(|l| parse(l)).collect();
    let progress = |token: &str| -> Vec<u64> {
        messages
            .iter()
            .filter(|m| {
                m["method"] == "notifications/progress" && m["params"]["progressToken"] == token
            })
            .map(|m| m["params"]["progress"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(progress("tök-2"), [1, 2, 3, 4]);
    let answer = |id: u64| messages.iter().position(|m| is_response_to(m, &json!(id)));
    let last_progress_2 = messages
        .iter()
        .rposition(|m| m["params"]["progressToken"] == "tök-2")
        .unwrap();
    assert!(last_progress_2 < answer(2).unwrap());
    assert_eq!(answer(3), None, "{:#?}", runs.relayed);
    assert!(answer(4).is_some());
    // Everything the host sent reached the server as sent.
    assert_eq!(
        String::from_utf8(everything.received()).unwrap(),
        String::from_utf8(runs.sent).unwrap()
    );
}

fn long_operation(id: u64, token: &str, duration: f64, steps: u64) -> String {
    request(
        id,
        "tools/call",
        json!({"name": "trigger-long-running-operation",
               "arguments": {"duration": duration, "steps": steps},
               "_meta": {"progressToken": token}}),
    )
}

/// server-everything cancels a request of its own only when it times out
/// (60 s, the SDK's default; a cancelled tool call does not cancel the
/// requests it made), so this test waits that long, mostly idle. A long
/// operation with progress every 7 s keeps lines coming meanwhile (the
/// harness allows 60 s per line), 3 s clear of the timeout on either side.
#[test]
fn a_server_request_left_unanswered_is_cancelled_toward_the_host() {
    let everything = Everything::start(Via::Shell);
    let runs = differential(&everything, |host| {
        host.request(&initialize(1, "2025-11-25", r#"{"sampling":{}}"#));
        host.send(INITIALIZED);
        host.send(&tool_call(
            2,
            "trigger-sampling-request",
            json!({"prompt": "never answered"}),
        ));
        host.expect_request("sampling/createMessage");
        host.send(&long_operation(3, "clock", 63.0, 9));
        host.until(|v| is_response_to(v, &json!(2)));
        host.until(|v| is_response_to(v, &json!(3)));
    });
    assert_same(&runs.direct, &runs.relayed);
    let messages: Vec<Value> = runs.relayed.iter().map(|l| parse(l)).collect();
    let sampling = messages
        .iter()
        .find(|m| m["method"] == "sampling/createMessage")
        .unwrap();
    let cancelled = messages
        .iter()
        .find(|m| m["method"] == "notifications/cancelled")
        .unwrap();
    assert_eq!(cancelled["params"]["requestId"], sampling["id"]);
    let answer = runs
        .relayed
        .iter()
        .find(|l| is_response_to(&parse(l), &json!(2)))
        .unwrap();
    assert!(answer.contains("Request timed out"), "{answer}");
    let cancelled_at = messages
        .iter()
        .position(|m| m["method"] == "notifications/cancelled");
    let progress: Vec<_> = messages[..cancelled_at.unwrap()]
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(
        progress.len(),
        8,
        "the cancellation came at 60 s, between 56 s and 63 s"
    );
}

#[test]
fn subscriptions_logging_completion_ping_and_unknown_methods_pass_untouched() {
    let everything = Everything::start(Via::Exec);
    let runs = differential(&everything, |host| {
        host.request(&initialize(1, "2025-06-18", "{}"));
        host.send(INITIALIZED);
        let uri = "demo://resource/dynamic/text/1";
        // At "info" the server logs each subscription to the host.
        host.request(&request(2, "logging/setLevel", json!({"level": "info"})));
        host.request(&request(3, "resources/subscribe", json!({"uri": uri})));
        host.request_and_notification(
            &tool_call(4, "toggle-subscriber-updates", json!({})),
            "notifications/resources/updated",
        );
        host.request(&tool_call(5, "toggle-subscriber-updates", json!({})));
        host.request(&request(6, "resources/unsubscribe", json!({"uri": uri})));
        // At "error" it no longer does.
        host.request(&request(7, "logging/setLevel", json!({"level": "error"})));
        host.request(&request(8, "resources/subscribe", json!({"uri": uri})));
        host.request(&request(9, "resources/unsubscribe", json!({"uri": uri})));
        // Random-level simulated logging, on and off again: at "emergency"
        // only the rare emergency message would pass, so at "debug" the
        // first message (sent at once) is what the host sees.
        host.request(&request(10, "logging/setLevel", json!({"level": "debug"})));
        host.request_and_notification(
            &tool_call(11, "toggle-simulated-logging", json!({})),
            "notifications/message",
        );
        host.request(&tool_call(12, "toggle-simulated-logging", json!({})));

        host.request(&request(
            13,
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "completable-prompt"},
                   "argument": {"name": "department", "value": "S"}}),
        ));
        host.request(&request(
            14,
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "completable-prompt"},
                   "argument": {"name": "name", "value": ""},
                   "context": {"arguments": {"department": "Marketing"}}}),
        ));
        host.request(&request(
            15,
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "demo://resource/dynamic/text/{resourceId}"},
                   "argument": {"name": "resourceId", "value": "42"}}),
        ));
        host.request(r#"{"jsonrpc":"2.0","id":"ping-1","method":"ping"}"#);
        host.request(r#"{"jsonrpc":"2.0","id":16,"method":"no/such/method","params":{"x":1}}"#);
        host.request(r#"{"jsonrpc":"2.0","id":"ünïcode-id","method":"tools/unknown"}"#);
        // A gzip resource made in the session: the resource list changes.
        host.request(&tool_call(
            17,
            "gzip-file-as-resource",
            json!({"name": "note.gz", "data": "data:text/plain,n%C3%B6te", "outputType": "resourceLink"}),
        ));
        host.request(&request(
            18,
            "resources/read",
            json!({"uri": "demo://resource/session/note.gz"}),
        ));
    });
    assert_same(&runs.direct, &runs.relayed);
    let all = runs.relayed.join("\n");
    for seen in [
        r#"{"method":"notifications/message","params":{"level":"info","data":"Received Subscribe Resource request for URI: demo://resource/dynamic/text/1 "}"#,
        r#"{"method":"notifications/resources/updated","params":{"uri":"demo://resource/dynamic/text/1"}"#,
        r#""values":["Sales","Support"]"#,
        r#""values":["Grace","Henry","Iris"]"#,
        r#""values":["42"]"#,
        r#"{"result":{},"jsonrpc":"2.0","id":"ping-1"}"#,
        r#"{"jsonrpc":"2.0","id":16,"error":{"code":-32601,"message":"Method not found"}}"#,
        r#"{"jsonrpc":"2.0","id":"ünïcode-id","error":{"code":-32601,"message":"Method not found"}}"#,
        "notifications/resources/list_changed",
        r#""mimeType":"application/gzip","blob":"#,
    ] {
        assert!(all.contains(seen), "{seen} missing from {all}");
    }
    let subscribed_logs = all.matches("Received Subscribe Resource request").count();
    assert_eq!(
        subscribed_logs, 1,
        "only the subscription at \"info\" is logged"
    );
    assert_eq!(everything.received(), runs.sent);
}

/// A host's part in a session, as [`differential`] runs it.
type Script = Box<dyn Fn(&mut Host) + Sync>;

/// Each protocol revision's session, as a host of that revision opens it:
/// what reaches the server is what the host sent, byte for byte, and what
/// comes back is what the server says on a direct connection.
#[test]
fn every_protocol_revision_passes_untouched_both_ways() {
    let everything = Everything::start(Via::Shell);
    let legacy = |version: &'static str| {
        move |host: &mut Host| {
            host.request(&initialize(1, version, r#"{"roots":{}}"#));
            host.send(INITIALIZED);
            let id = host.expect_request("roots/list");
            host.respond(&id, r#"{"roots":[]}"#);
            host.request(&request(
                2,
                "tools/list",
                json!({"_meta": {"progressToken": 2}}),
            ));
            host.request(&request(
                3,
                "prompts/get",
                json!({"name": "args-prompt", "arguments": {"city": "Kraków"}}),
            ));
            host.request(r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#);
        }
    };
    let mut sessions: Vec<(&str, Script)> = vec![
        ("2024-11-05", Box::new(legacy("2024-11-05"))),
        ("2025-06-18", Box::new(legacy("2025-06-18"))),
        ("2025-11-25", Box::new(legacy("2025-11-25"))),
    ];
    // 2025-03-26 allows batches. The array reaches the server verbatim;
    // server-everything (SDK 1.32) drops it unanswered, directly too.
    sessions.push((
        "2025-03-26",
        Box::new(|host: &mut Host| {
            host.request(&initialize(1, "2025-03-26", "{}"));
            host.send(INITIALIZED);
            host.send(r#"[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":3,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]"#);
            host.request(r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#);
        }),
    ));
    // 2026-07-28: a dual-era host probes with server/discover, every request
    // carrying the revision in _meta; this server answers -32601, and the
    // host falls back to initialize.
    sessions.push((
        "2026-07-28",
        Box::new(|host: &mut Host| {
            let meta = json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "compat-host", "version": "1.0.0"},
                "io.modelcontextprotocol/clientCapabilities": {}
            });
            host.request(&request(1, "server/discover", json!({"_meta": meta})));
            host.request(&initialize(2, "2026-07-28", "{}"));
            host.send(INITIALIZED);
            host.request(&request(3, "tools/list", json!({"_meta": meta})));
            host.request(&request(
                4,
                "tools/call",
                json!({"name": "get-sum", "arguments": {"a": 1, "b": 2}, "_meta": meta}),
            ));
        }),
    ));
    let mut all_sent = Vec::new();
    for (version, script) in &sessions {
        let runs = differential(&everything, script);
        assert_same(&runs.direct, &runs.relayed);
        let messages: Vec<Value> = runs.relayed.iter().map(|l| parse(l)).collect();
        let negotiated = messages
            .iter()
            .find_map(|m| m["result"]["protocolVersion"].as_str())
            .unwrap();
        // The server's own choice: the host's revision when it knows it.
        let expected = if *version == "2026-07-28" {
            "2025-11-25"
        } else {
            version
        };
        assert_eq!(negotiated, expected, "{version}");
        assert!(
            messages.iter().any(|m| is_response_to(m, &json!(4))),
            "{version}"
        );
        all_sent.extend(runs.sent);
    }
    let received = everything.received();
    assert_eq!(
        String::from_utf8(received).unwrap(),
        String::from_utf8(all_sent).unwrap()
    );
}

/// A tool that runs only as a task (2025-11-25's experimental tasks):
/// created, then its result fetched with tasks/result, which waits for it.
#[test]
fn a_task_tool_runs_and_delivers_its_result_through_the_relay() {
    let everything = Everything::start(Via::Shell);
    let runs = differential(&everything, |host| {
        host.request(&initialize(1, "2025-11-25", "{}"));
        host.send(INITIALIZED);
        let created = host.request(&request(
            2,
            "tools/call",
            json!({"name": "simulate-research-query",
                   "arguments": {"topic": "relays über SSH"},
                   "task": {"ttl": 60000}}),
        ));
        let task = parse(created.last().unwrap());
        let task_id = task["result"]["task"]["taskId"]
            .as_str()
            .unwrap()
            .to_string();
        host.request(&request(3, "tasks/result", json!({"taskId": task_id})));
    });
    assert_same(&runs.direct, &runs.relayed);
    let all = runs.relayed.join("\n");
    assert!(all.contains(r#""taskId":"<taskId>""#), "{all}");
    assert!(all.contains("# Research Report: relays über SSH"), "{all}");
    assert_eq!(everything.received(), runs.sent);
}

/// server-everything (SDK 1.32) reads at most 10 MiB per incoming message
/// (its stdio ReadBuffer; past that it stops reading and exits), so the
/// 16 MiB result is one it makes from a smaller input: `trigger-sampling-
/// request` pretty-prints the host's sampling answer into its result, where
/// each quote and backslash of the answer's text doubles again.
#[test]
fn multibyte_text_line_separators_and_a_16_mib_result_pass_byte_identical() {
    const SIZE: usize = 16 << 20;
    let everything = Everything::start(Via::Exec);
    let text = "héllo wörld — 日本語 🎉 a\u{2028}b\u{2029}c\u{85}d \\ \" \u{1F600}";
    // 92 bytes of JSON in the answer (95 with the relay's escape), 172 in
    // the result: 16.7 MiB of result from 9.2 MiB of answer.
    let piece = format!("{}ü€🎉\u{2028}", "\"\\".repeat(20));
    let big = piece.repeat(SIZE / 165 + 1);
    let runs = differential(&everything, |host| {
        host.request(&initialize(1, "2025-06-18", r#"{"sampling":{}}"#));
        host.send(INITIALIZED);
        host.request(&tool_call(2, "echo", json!({"message": text})));
        host.request(&request(
            3,
            "prompts/get",
            json!({"name": "args-prompt", "arguments": {"city": text, "state": "Ünïcödé"}}),
        ));
        host.send(&tool_call(
            4,
            "trigger-sampling-request",
            json!({"prompt": text}),
        ));
        let id = host.expect_request("sampling/createMessage");
        let answer =
            json!({"role": "assistant", "content": {"type": "text", "text": big}, "model": "m"});
        host.respond(&id, &answer.to_string());
        host.until(|v| is_response_to(v, &json!(4)));
    });
    assert_same(&runs.direct, &runs.relayed);

    // The server's answers carry the characters raw, and pass verbatim.
    let answer = |id: u64| {
        runs.relayed
            .iter()
            .find(|l| is_response_to(&parse(l), &json!(id)))
            .unwrap()
            .clone()
    };
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    assert!(
        answer(2).contains(&format!("Echo: {}", quoted(text))),
        "{}",
        answer(2)
    );
    assert!(
        answer(3).contains("a\u{2028}b\u{2029}c\u{85}d"),
        "{}",
        answer(3)
    );
    let large = answer(4);
    assert!(large.len() > SIZE, "{} bytes", large.len());
    assert!(
        large.contains(&quoted(&quoted(&big))),
        "the text is not in the result"
    );

    // What reached the server is what the host sent, with the relay's one
    // rewrite: the three separators as JSON escapes, the same JSON.
    let sent = String::from_utf8(runs.sent).unwrap();
    let received = String::from_utf8(everything.received()).unwrap();
    let escaped = sent
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
        .replace('\u{85}', "\\u0085");
    assert!(received == escaped, "the server received something else");
    let sent: Vec<Value> = sent.lines().map(parse).collect();
    let received: Vec<Value> = received.lines().map(parse).collect();
    assert!(sent == received, "not the same JSON at the server");
}

/// MCP says the receiver of a cancellation should not answer the request,
/// and server-everything does not: the end of input must not wait for
/// that answer (the relay gives unanswered requests up to 5 s), just as
/// server-everything run directly exits at once.
#[test]
fn a_call_the_host_cancelled_does_not_hold_the_end_of_the_session() {
    let everything = Everything::start(Via::Exec);
    let mut host = everything.host(Route::Relayed);
    host.request(&initialize(1, "2025-11-25", "{}"));
    host.send(INITIALIZED);
    host.send(&long_operation(2, "t", 1.0, 4));
    host.until(|v| v["method"] == "notifications/progress");
    host.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"enough"}}"#);
    let closed = std::time::Instant::now();
    host.finish();
    assert!(
        closed.elapsed() < std::time::Duration::from_secs(2),
        "the session took {:?} to end",
        closed.elapsed()
    );
}
