#!/usr/bin/env bash
# End to end on loopback: starts a private sshd on 127.0.0.1 (own config, own
# keys, free port) serving the example MCP server, then drives a real MCP
# session through a freshly built client and prints the tool list and a tool
# result. Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh
cargo build --quiet --locked
client="$root/target/debug/m2m-mcp-server-ssh-client"

work=$(mktemp -d)
sshd_pid=""
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -C '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python=$(python3 -c 'import sys; print(sys.executable)')
user=$(id -un)
cat > "$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $user
ForceCommand $python $root/tests/fixtures/mcp_server.py
CONF
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
sshd_pid=$!
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" > "$work/known_hosts"

# Ready when the SSH banner reads back.
python3 - "$port" <<'PY'
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
            if s.recv(8) == b"SSH-2.0-":
                sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("sshd did not start")
PY

echo "sshd on 127.0.0.1:$port; running:"
echo "  m2m-mcp-server-ssh-client --host 127.0.0.1 --port $port --username $user --client-key $work/client_key --known-hosts $work/known_hosts"
echo
{
  echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}}'
  echo '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
  echo '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello from the other side of SSH"}}}'
} | "$client" --host 127.0.0.1 --port "$port" --username "$user" \
      --client-key "$work/client_key" --known-hosts "$work/known_hosts" > "$work/out.jsonl"

python3 - "$work/out.jsonl" <<'PY'
import json, sys
replies = {m["id"]: m for m in map(json.loads, open(sys.argv[1]))}
info = replies[1]["result"]["serverInfo"]
print(f"server: {info['name']} {info['version']}, protocol {replies[1]['result']['protocolVersion']}")
print("tools:", ", ".join(t["name"] for t in replies[2]["result"]["tools"]))
print("echo ->", replies[3]["result"]["content"][0]["text"])
PY

echo
echo "doctor, the first thing to run when a host cannot connect:"
"$client" doctor --host 127.0.0.1 --port "$port" --username "$user" \
  --client-key "$work/client_key" --known-hosts "$work/known_hosts"
echo
echo "doctor with a known_hosts file that does not know the server:"
: > "$work/empty_known_hosts"
"$client" doctor --host 127.0.0.1 --port "$port" --username "$user" \
  --client-key "$work/client_key" --known-hosts "$work/empty_known_hosts" || echo "(exit code $?)"
