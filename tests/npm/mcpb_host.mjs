// What an MCP host that installs bundles (Claude Desktop) makes of an
// unpacked bundle's manifest: the command, arguments and environment it
// would start, printed as one JSON line. The substitution is the mcpb
// package's own getMcpConfigForManifest, the code hosts use:
//
//   node mcpb_host.mjs BUNDLE_DIR DIRNAME PLATFORM PATH_SEPARATOR USER_CONFIG_JSON
//
// BUNDLE_DIR holds the unpacked manifest.json; DIRNAME is what ${__dirname}
// becomes, written as the OS would write that folder (Z:\... under Wine);
// PLATFORM (darwin, win32, linux) picks the manifest's platform override as
// that OS would.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";

const [bundle, dir, platform, separator, userConfig] = process.argv.slice(2);
Object.defineProperty(process, "platform", { value: platform });
const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
const home = platform === "win32" ? "C:\\Users\\user" : "/home/user";
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: dir,
  systemDirs: { HOME: home, DESKTOP: home, DOCUMENTS: home, DOWNLOADS: home },
  userConfig: JSON.parse(userConfig),
  pathSeparator: separator,
  logger: { log() {}, warn: (m) => process.stderr.write(`${m}\n`), error: (m) => process.stderr.write(`${m}\n`) },
});
if (config === undefined) {
  process.stderr.write("the host would not start this bundle (required configuration missing)\n");
  process.exit(3);
}
const { command, args, env } = config;
process.stdout.write(`${JSON.stringify({ command, args, env })}\n`);
