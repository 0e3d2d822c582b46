//! The MCP host apps we write entries for: their names on our command line,
//! the key their servers live under, and the shape of one server's entry.
//! Where each keeps its file is `locations.rs`.

use super::json_text::Json;

/// An MCP host app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    VsCode,
    Windsurf,
    Zed,
}

impl App {
    /// Every app, in the order help and errors list them.
    pub const ALL: [App; 6] = [
        App::ClaudeDesktop,
        App::ClaudeCode,
        App::Cursor,
        App::VsCode,
        App::Windsurf,
        App::Zed,
    ];

    /// The app named `name` on our command line.
    pub fn named(name: &str) -> Option<App> {
        App::ALL.into_iter().find(|app| app.name() == name)
    }

    /// Its name on our command line.
    pub fn name(self) -> &'static str {
        match self {
            App::ClaudeDesktop => "claude-desktop",
            App::ClaudeCode => "claude-code",
            App::Cursor => "cursor",
            App::VsCode => "vscode",
            App::Windsurf => "windsurf",
            App::Zed => "zed",
        }
    }

    /// Its name for people.
    pub fn human_name(self) -> &'static str {
        match self {
            App::ClaudeDesktop => "Claude Desktop",
            App::ClaudeCode => "Claude Code",
            App::Cursor => "Cursor",
            App::VsCode => "VS Code",
            App::Windsurf => "Windsurf",
            App::Zed => "Zed",
        }
    }

    /// The top-level key of its file that holds the servers by name.
    pub fn section(self) -> &'static str {
        match self {
            App::ClaudeDesktop | App::ClaudeCode | App::Cursor | App::Windsurf => "mcpServers",
            App::VsCode => "servers",
            App::Zed => "context_servers",
        }
    }

    /// The entry that starts `command` with `args` as a stdio MCP server,
    /// in the app's own format.
    pub fn entry(self, command: &str, args: &[String]) -> Json {
        let command = ("command".to_string(), Json::Str(command.into()));
        let args = (
            "args".to_string(),
            Json::Array(args.iter().map(|a| Json::Str(a.clone())).collect()),
        );
        let env = || ("env".to_string(), Json::Object(Vec::new()));
        let stdio = || ("type".to_string(), Json::Str("stdio".into()));
        Json::Object(match self {
            App::ClaudeDesktop | App::Cursor | App::Windsurf => vec![command, args],
            // `claude mcp add --scope user` writes these four.
            App::ClaudeCode => vec![stdio(), command, args, env()],
            App::VsCode => vec![stdio(), command, args],
            // "custom": a server Zed runs as given, not one of its extensions.
            App::Zed => vec![
                ("source".to_string(), Json::Str("custom".into())),
                command,
                args,
                env(),
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_is_found_by_its_own_name_only() {
        for app in App::ALL {
            assert_eq!(App::named(app.name()), Some(app));
        }
        assert_eq!(App::named("code"), None);
        assert_eq!(App::named("Zed"), None);
    }

    #[test]
    fn entries_have_each_apps_fields() {
        let keys = |app: App| match app.entry("/m2m", &["--host".into(), "h".into()]) {
            Json::Object(members) => members.into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(keys(App::Cursor), ["command", "args"]);
        assert_eq!(keys(App::ClaudeCode), ["type", "command", "args", "env"]);
        assert_eq!(keys(App::VsCode), ["type", "command", "args"]);
        assert_eq!(keys(App::Zed), ["source", "command", "args", "env"]);
    }
}
